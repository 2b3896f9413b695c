"""A real `arena serve` keeps its secrets off every command line, out of its output and out of
the vote log.

One arena with three workers, its embedded Redis (random password), a PostgreSQL URL with a
password, a rater salt, an operator token, and three models: one it launches (the stand-in of
tests/fixtures/vllm.py, which requires its random API key as vLLM does), one remote with
`user:password@` in its base_url, one remote with its key in an environment variable. After a
battle on each remote model, every process the command started (walked down the process tree
from /proc) is read: no password, key, token or salt in any /proc/PID/cmdline, in what the
command printed, in the servers' logs, in /healthz, or in the battle records in SQL; the
workers did get the Redis and database URLs, through their environment.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fixtures.arena_server import SESSION_HEADER, new_session
from fixtures.ports import reserved_port, reserved_ports
from fixtures.vllm import STAND_IN_SERVER, write_stand_in_python

from arena.store import BattleLog
from serving.api_keys import key_path, read_api_key

WORKERS = 3
SALT = "salt-7f3c9a1e5b"
PG_PASSWORD = "pg-pass-4d8e2b"
BASIC_PASSWORD = "basic-pass-91ac"
REMOTE_KEY = "remote-key-c05e7d"
OPERATOR_TOKEN = "operator-token-2b6f-0a9d4c7e1f"


def children_of() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process on the machine (from /proc/PID/stat)."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it exited meanwhile
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def process_tree(root: int) -> dict[int, str]:
    """pid -> command line of `root` and every process under it."""
    tree, found, todo = children_of(), {}, [root]
    while todo:
        pid = todo.pop()
        try:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        todo += tree.get(pid, [])
    return found


def environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode().split("=", 1) for pair in pairs if b"=" in pair)


@dataclass
class Remote:
    """A stand-in model server the test runs itself (not a child of `arena serve`)."""

    process: subprocess.Popen
    port: int


def start_remote(folder: Path, name: str, auth: str) -> Remote:
    """The stand-in server as a remote model requiring the `Authorization` value `auth`."""
    script = folder / "remote_server.py"
    script.write_text(STAND_IN_SERVER, encoding="utf-8")
    port = reserved_port()
    process = subprocess.Popen(
        [sys.executable, str(script), "--served-model-name", name, "--host", "127.0.0.1",
         "--port", str(port)], env={**os.environ, "STAND_IN_AUTH": auth})
    return Remote(process, port)


@pytest.fixture
def remotes(tmp_path: Path) -> Iterator[dict[str, Remote]]:
    basic = base64.b64encode(f"arena:{BASIC_PASSWORD}".encode()).decode()
    started = {"remote": start_remote(tmp_path, "remote", f"Basic {basic}"),
               "keyed": start_remote(tmp_path, "keyed", f"Bearer {REMOTE_KEY}")}
    yield started
    for remote in started.values():
        remote.process.kill()
        remote.process.wait()


def write_config(root: Path, remotes: dict[str, Remote], stand_port: int) -> tuple[Path, Path]:
    """The arena's config (no secret in it but the salt) and its data directory."""
    data, model = root / "data", root / "model"
    model.mkdir()
    python = write_stand_in_python(root / "stand-in")
    config = root / "arena.toml"
    config.write_text(f'''[arena]
data_dir = "{data}"
rater_salt = "{SALT}"
redis_maxmemory_mb = 64
leaderboard_interval_s = 3600

[serving]
vllm_python = "{python}"
startup_timeout_s = 60

[[models]]
name = "stand"
model = "{model}"
port = {stand_port}

[[models]]
name = "remote"
base_url = "http://arena:{BASIC_PASSWORD}@127.0.0.1:{remotes["remote"].port}/v1"

[[models]]
name = "keyed"
base_url = "http://127.0.0.1:{remotes["keyed"].port}"
api_key_env = "TEST_REMOTE_KEY"
''', encoding="utf-8")
    return config, data


def wait_until_healthy(urls: list[str], process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"arena serve exited:\n{log.read_text()}"
        try:
            if all(httpx.get(f"{url}/healthz", timeout=5).json().get("ok") for url in urls):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)  # allowed sleep: poll interval of a health check with a deadline
    raise AssertionError(f"arena serve not healthy in 120 s:\n{log.read_text()}")


def battle(start_url: str, vote_url: str, models: list[str]) -> str:
    """A named battle of a new session (issued by a third worker: sessions hold on every
    worker) started on one worker, voted on another; its id."""
    headers = {SESSION_HEADER: new_session(vote_url)}
    battle_id = ""
    with httpx.stream("POST", f"{start_url}/api/battles", headers=headers, timeout=60,
                      json={"prompt": "hi", "mode": "named", "models": models}) as reply:
        assert reply.status_code == 200, reply.read().decode()
        for line in reply.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[len("data: "):])
                battle_id = event.get("battle_id") or battle_id
    assert battle_id, "the stream named no battle"
    vote = httpx.post(f"{vote_url}/api/battles/{battle_id}/vote", json={"winner": "tie"},
                      headers=headers, timeout=30)
    assert vote.status_code == 200, vote.text
    return battle_id


@pytest.mark.postgres
def test_no_secret_reaches_a_command_line_the_output_or_the_vote_log(
        tmp_path, postgres_url, remotes):
    db_url = postgres_url.replace("postgres@", f"postgres:{PG_PASSWORD}@", 1)
    assert PG_PASSWORD in db_url  # trust auth: the server accepts and ignores it
    stand_port = reserved_port()
    config, data = write_config(tmp_path, remotes, stand_port)
    port = reserved_ports(WORKERS)
    urls = [f"http://127.0.0.1:{port + i}" for i in range(WORKERS)]
    log = tmp_path / "serve.log"
    env = {**os.environ, "ARENA_DB_URL": db_url, "TEST_REMOTE_KEY": REMOTE_KEY,
           "ARENA_OPERATOR_TOKEN": OPERATOR_TOKEN}
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "arena", "serve", "--config", str(config), "--port",
             str(port), "--workers", str(WORKERS), "--no-ui"],
            stdout=output, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
            start_new_session=True)
    try:
        wait_until_healthy(urls, process, log)
        battles = [battle(urls[0], urls[1], ["stand", "remote"]),
                   battle(urls[2], urls[0], ["keyed", "stand"])]
        tree = process_tree(process.pid)
        workers = [pid for pid, line in tree.items() if "--worker-index" in line]
        worker_env = environ(workers[0])
        redis_url = worker_env["ARENA_REDIS_URL"]
        secrets = {
            "redis password": urlsplit(redis_url).password,
            "stand API key": read_api_key(key_path(data, "stand")),
            "database password": PG_PASSWORD, "URL password": BASIC_PASSWORD,
            "remote API key": REMOTE_KEY, "operator token": OPERATOR_TOKEN, "salt": SALT,
        }
        health = [httpx.get(f"{url}/healthz", timeout=5).text for url in urls]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    assert all(secrets.values()), secrets
    assert len(workers) == WORKERS - 1 and worker_env["ARENA_DB_URL"] == db_url
    kinds = {"redis-server": 0, "stand_in_server.py": 0, "multiprocessing": 0}
    for pid, line in tree.items():
        for kind in kinds:
            kinds[kind] += kind in line
        for what, secret in secrets.items():
            assert secret not in line, f"the {what} is on the command line of {pid}: {line}"
    # Every kind of process was walked: Redis, the launched model, each worker's SQL writer.
    assert kinds["redis-server"] == 1 and kinds["stand_in_server.py"] == 1, tree
    assert kinds["multiprocessing"] >= WORKERS, tree

    shown = {"arena serve's output": log.read_text(),
             "the model's log": (data / "logs" / "stand.log").read_text(),
             "Redis's log": (data / "redis" / "redis-server.log").read_text(),
             "/healthz": "\n".join(health)}
    with BattleLog(db_url) as battle_log:
        records = [battle_log.get_battle(battle_id).to_dict() for battle_id in battles]
    shown["the battle records"] = json.dumps(records)
    for where, text in shown.items():
        for what, secret in secrets.items():
            assert secret not in text, f"the {what} is in {where}"
    assert "redis: embedded redis-server at redis://127.0.0.1:" in shown["arena serve's output"]
    generations = [record["turns"][0][f"generation_{side}"]
                   for record in records for side in "ab"]
    assert {g["endpoint"]: g["output"] for g in generations} == {
        # Each model answered, so each was sent its key or password.
        f"http://127.0.0.1:{remotes['remote'].port}": "hello from remote",
        f"http://127.0.0.1:{remotes['keyed'].port}": "hello from keyed",
        f"http://127.0.0.1:{stand_port}": "hello from stand",
    }


def test_a_password_on_the_command_line_is_warned_about(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "arena", "serve", "--config", str(tmp_path / "missing.toml"),
         "--db", f"postgresql+psycopg://arena:{PG_PASSWORD}@db/arena"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "warning: --db carries a password on the command line" in done.stderr
    assert "set ARENA_DB_URL instead" in done.stderr
    assert PG_PASSWORD not in done.stdout + done.stderr
