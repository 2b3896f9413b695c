"""How the launcher stops servers: `arena models down`, reused pids, orphaned members, a start
that fails half-way, and the start-up timeout.

The servers are real process groups started through the launcher's public functions, with a
stand-in for vLLM's Python (vLLM itself takes minutes to start and adds nothing to these paths):
`stand_in_python` answers the launcher's "is vLLM installed" probe and runs the model folder's
`serve.sh` with the server's host and port. A ready stand-in is Python's http.server over a
folder holding `health` and `v1/models`, which is all the launcher's readiness probe reads.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.ports import reserved_port

from serving.config import ModelSpec
from serving.launcher import LaunchError, serve_models, start_server
from serving.processes import group_members, process_alive
from serving.run_records import read_run_record, record_path, write_run_record

REPO = Path(__file__).resolve().parents[1]

STAND_IN_PYTHON = """#!/bin/bash
# `python -c CODE` is the launcher's "is vLLM installed" probe: it is.
[ "$1" = -c ] && exit 0
while [ $# -gt 0 ]; do
  case $1 in --model) MODEL=$2;; --host) HOST=$2;; --port) PORT=$2;; esac
  shift
done
export MODEL HOST PORT
exec bash "$MODEL/serve.sh"
"""
# A server with one worker process in its group, ready once http.server listens.
READY = f"""echo "stand-in $$ serving"
sleep 600 &
cd "$MODEL" && exec {sys.executable} -m http.server --bind "$HOST" "$PORT"
"""
NEVER_READY = """echo "stand-in $$ loading weights forever"
sleep 600 &
wait
"""
EXITS = """echo "stand-in $$: unknown architecture"
exit 3
"""
# The leader exits after starting two workers, which stay in its process group.
LEADER_LEAVES = """sleep 600 &
sleep 600 &
exit 0
"""


@pytest.fixture
def stand_in_python(tmp_path: Path) -> Path:
    path = tmp_path / "stand-in" / "python"
    path.parent.mkdir()
    path.write_text(STAND_IN_PYTHON)
    path.chmod(0o755)
    return path


@pytest.fixture
def groups_left_behind():
    """Process groups a test started; any still alive at the end are killed, so a failing test
    leaves no server running."""
    pgids: list[int] = []
    yield pgids
    for pgid in pgids:
        if group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)


def model_folder(root: Path, name: str, serve: str) -> Path:
    folder = root / "models" / name
    (folder / "v1").mkdir(parents=True)
    (folder / "serve.sh").write_text(serve)
    (folder / "health").write_text("")
    (folder / "v1" / "models").write_text(json.dumps({"data": [{"id": name}]}))
    return folder


def stand_in_spec(root: Path, name: str, serve: str) -> ModelSpec:
    return ModelSpec(name=name, model=str(model_folder(root, name, serve)),
                     port=reserved_port())


def arena(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, cwd=REPO, timeout=120)


def table(stdout: str) -> dict[str, list[str]]:
    """The rows of an `arena models` table by model name."""
    return {line.split()[0]: line.split() for line in stdout.splitlines()[1:] if line.strip()}


def stand_in_pid(text: str) -> int:
    """The pid a stand-in wrote to its log ("stand-in PID ...")."""
    return int(re.search(r"stand-in (\d+)", text)[1])


def test_models_down_stops_every_server_models_up_started(tmp_path, stand_in_python,
                                                          groups_left_behind):
    specs = [stand_in_spec(tmp_path, name, READY) for name in ("m1", "m2")]
    config = tmp_path / "arena.toml"
    config.write_text(f'[serving]\nvllm_python = "{stand_in_python}"\n' + "".join(
        f'[[models]]\nname = "{s.name}"\nmodel = "{s.model}"\nport = {s.port}\n'
        for s in specs))
    data = tmp_path / "data"
    up = arena("models", "up", "--config", str(config), "--data-dir", str(data))
    records = [read_run_record(data, name) for name in ("m1", "m2")]
    groups_left_behind.extend(r.pgid for r in records if r is not None)
    assert up.returncode == 0, up.stdout + up.stderr
    assert [row[2] for row in table(up.stdout).values()] == ["ready", "ready"]
    for record in records:  # detached: they outlived `models up`, leader and worker each
        assert len(group_members(record.pgid)) == 2

    down = arena("models", "down", "--data-dir", str(data), "--grace", "10")
    assert down.returncode == 0, down.stderr
    rows = table(down.stdout)
    assert {name: row[2] for name, row in rows.items()} == {"m1": "stopped", "m2": "stopped"}
    assert {name: int(row[-1]) for name, row in rows.items()} == {
        r.name: r.pid for r in records}
    assert [group_members(r.pgid) for r in records] == [[], []]
    assert list((data / "run").iterdir()) == []


def test_models_down_leaves_alone_a_process_that_reused_the_recorded_pid(
        tmp_path, stand_in_python, groups_left_behind):
    """A recorded pid whose start time differs belongs to another process now, even when that
    process leads a group of its own (as every server the launcher starts does)."""
    data = tmp_path / "data"
    handle = start_server(stand_in_spec(tmp_path, "m", NEVER_READY), data_dir=data,
                          python=stand_in_python, attach=True)
    groups_left_behind.append(handle.record.pgid)
    pid, started = handle.record.pid, handle.record.start_ticks
    stale = handle.record
    stale.start_ticks = started - 1  # the recorded server started earlier
    write_run_record(record_path(data, "m"), stale)

    down = arena("models", "down", "--data-dir", str(data), "--grace", "10")
    assert down.returncode == 0, down.stderr
    assert table(down.stdout)["m"][2:4] == ["not", "running"]
    assert process_alive(pid, started) and handle.process.poll() is None
    assert not record_path(data, "m").exists()


def test_models_down_stops_the_workers_left_when_the_leader_is_gone(
        tmp_path, stand_in_python, groups_left_behind):
    data = tmp_path / "data"
    handle = start_server(stand_in_spec(tmp_path, "m", LEADER_LEAVES), data_dir=data,
                          python=stand_in_python, attach=True)
    groups_left_behind.append(handle.record.pgid)
    assert handle.process.wait(timeout=30) == 0  # the leader is gone, reaped
    workers = group_members(handle.record.pgid)
    assert len(workers) == 2 and handle.record.pid not in workers

    down = arena("models", "down", "--data-dir", str(data), "--grace", "10")
    assert down.returncode == 0, down.stderr
    assert table(down.stdout)["m"][2] == "stopped"
    assert group_members(handle.record.pgid) == []


@pytest.mark.parametrize("second_fails_by", ["exiting", "a busy port"])
def test_a_start_that_fails_for_the_second_model_stops_the_first(
        tmp_path, stand_in_python, groups_left_behind, second_fails_by):
    data = tmp_path / "data"
    first = stand_in_spec(tmp_path, "m1", READY)
    second = stand_in_spec(tmp_path, "m2", EXITS if second_fails_by == "exiting" else READY)
    expected = ("server exited during start-up.*unknown architecture"
                if second_fails_by == "exiting" else f"port {second.port} .* is busy")
    with socket.socket() as squatter:
        if second_fails_by == "a busy port":
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", second.port))
            squatter.listen()
        with pytest.raises(LaunchError, match=f"(?s)^m2 .*{expected}") as failed:
            with serve_models([first, second], data_dir=data, python=stand_in_python,
                              startup_timeout_s=60):
                pytest.fail("serve_models yielded although m2 did not start")
    assert "m1" not in str(failed.value)  # m1 was ready: only m2 is reported
    first_pid = stand_in_pid((data / "logs" / "m1.log").read_text())
    groups_left_behind.append(first_pid)
    assert not process_alive(first_pid) and group_members(first_pid) == []
    assert list((data / "run").iterdir()) == []


def test_a_server_never_ready_is_stopped_at_the_startup_timeout_with_its_log_tail(
        tmp_path, stand_in_python, groups_left_behind):
    data = tmp_path / "data"
    with pytest.raises(LaunchError) as failed:
        with serve_models([stand_in_spec(tmp_path, "m", NEVER_READY)], data_dir=data,
                          python=stand_in_python, startup_timeout_s=2):
            pytest.fail("serve_models yielded a server that never became ready")
    message = str(failed.value)
    assert re.search(r"^m \(http://127\.0\.0\.1:\d+\): not ready after 2 s \(ConnectError",
                     message), message
    assert f"last lines of {data / 'logs' / 'm.log'}:\nstand-in " in message
    pid = stand_in_pid(message)  # the log tail is in the message
    groups_left_behind.append(pid)
    assert not process_alive(pid) and group_members(pid) == []
    assert not record_path(data, "m").exists()


def test_models_up_stops_a_server_never_ready_at_the_timeout(tmp_path, stand_in_python,
                                                              groups_left_behind):
    """Detached servers have no `serve_models` to stop them on the way out: the timeout must."""
    spec = stand_in_spec(tmp_path, "m", NEVER_READY)
    config = tmp_path / "arena.toml"
    config.write_text(f'[serving]\nvllm_python = "{stand_in_python}"\n'
                      f'[[models]]\nname = "m"\nmodel = "{spec.model}"\nport = {spec.port}\n')
    data = tmp_path / "data"
    up = arena("models", "up", "--config", str(config), "--data-dir", str(data),
               "--timeout", "2")
    assert up.returncode == 1
    assert table(up.stdout)["m"][2] == "failed"
    assert "m: not ready after 2 s (ConnectError" in up.stderr
    pid = stand_in_pid(up.stderr)
    groups_left_behind.append(pid)
    assert not process_alive(pid) and group_members(pid) == []
    assert not record_path(data, "m").exists()
