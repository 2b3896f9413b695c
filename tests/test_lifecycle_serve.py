"""Model lifecycle through the real commands: `arena serve` (two workers, its embedded Redis, a
SQLite file) publishes the config's states at start, takes new ones on SIGHUP and from `arena
models reload` without a restart, and both workers sample by them at once; `arena models
status` shows each model's state. The models are an echo server in a thread (no vLLM): the
rules are tested in-process in tests/test_lifecycle.py.
"""

from __future__ import annotations

import asyncio
import json
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fixtures.arena_server import stop_arena_serve
from fixtures.battle_service import wait_until_serving
from fixtures.ports import reserved_port, reserved_ports
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from typer.testing import CliRunner

from arena.cli import app as cli
from arena.commands.models import live_url_path
from arena.live import LiveState
from arena.live.embedded import EmbeddedRedis
from arena.store import BattleLog

MODELS = ("echo-a", "echo-b", "echo-c")


def echo_models_app() -> Starlette:
    """/health, /v1/models (every name of MODELS) and a streamed chat that says one word."""

    async def health(_: Request) -> Response:
        return Response(status_code=200)

    async def models(_: Request) -> JSONResponse:
        return JSONResponse({"object": "list",
                             "data": [{"id": name, "object": "model"} for name in MODELS]})

    async def chat(request: Request) -> StreamingResponse:
        body = await request.json()

        async def events() -> AsyncIterator[bytes]:
            for choice in ({"index": 0, "delta": {"content": "Echo."}, "finish_reason": None},
                           {"index": 0, "delta": {}, "finish_reason": "stop"}):
                payload = {"id": "echo", "model": body["model"], "choices": [choice]}
                yield f"data: {json.dumps(payload)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/health", health), Route("/v1/models", models),
                             Route("/v1/chat/completions", chat, methods=["POST"])])


@pytest.fixture(scope="module")
def echo_models() -> Iterator[str]:
    port = reserved_port()
    server = uvicorn.Server(uvicorn.Config(echo_models_app(), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(f"{url}/health", thread, "the echo models")
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def write_config(path: Path, root: Path, models_url: str, states: dict[str, str]) -> None:
    models = "".join(f'''
[[models]]
name = "{name}"
base_url = "{models_url}"
served_model_name = "{name}"
state = "{states[name]}"
''' for name in MODELS)
    path.write_text(f'''[arena]
db_url = "sqlite:///{root / 'arena.db'}"
data_dir = "{root / 'data'}"
rater_salt = "test-salt"
pair_policy = "uniform"
battles_per_minute = 1000
votes_per_hour = 1000
battles_per_minute_per_address = 1000
votes_per_day_per_address = 5000
streams_per_address = 64
leaderboard_interval_s = 3600

[sampling]
max_tokens = 8
{models}''', encoding="utf-8")


@dataclass
class Served:
    """A running `arena serve` and what a test reads of it."""

    process: subprocess.Popen
    urls: list[str]
    config: Path
    root: Path
    log: BattleLog

    def live_url(self) -> str:
        return live_url_path(self.root / "data").read_text(encoding="utf-8").strip()

    def published(self) -> dict[str, str]:
        async def read() -> dict[str, str]:
            async with LiveState.from_url(self.live_url()) as live:
                return await live.model_states()

        return asyncio.run(read())

    def wait_published(self, expected: dict[str, str], timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while (seen := self.published()) != expected:
            assert self.process.poll() is None, "arena serve exited"
            assert time.monotonic() < deadline, f"states {seen}, not {expected}"
            time.sleep(0.2)  # allowed sleep: poll interval of the reload, with a deadline

    def wait_logged(self, text: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in (self.root / "serve.log").read_text():
            assert time.monotonic() < deadline, f"arena serve did not log {text!r}"
            time.sleep(0.2)  # allowed sleep: poll interval of the server's log, with a deadline

    def battles(self, url: str, count: int) -> list[tuple[str, str, float]]:
        """`count` voted battles on the worker at `url`: (model_a, model_b, logged pair
        probability) of each."""
        met = []
        with httpx.Client(base_url=url, timeout=60) as http:
            for _ in range(count):
                session = http.post("/api/sessions").json()["session"]
                headers = {"X-Arena-Session": session}
                with http.stream("POST", "/api/battles", json={"prompt": "Say something."},
                                 headers=headers) as reply:
                    assert reply.status_code == 200, reply.read()
                    events = [json.loads(line[6:]) for line in reply.iter_lines()
                              if line.startswith("data: ")]
                assert events[-1]["kind"] == "ready", events
                battle_id = events[0]["battle_id"]
                vote = http.post(f"/api/battles/{battle_id}/vote", json={"winner": "tie"},
                                 headers=headers)
                assert vote.status_code == 200, vote.text
                record = self.log.get_battle(battle_id)
                met.append((vote.json()["model_a"], vote.json()["model_b"],
                            record.pair_probability))
        return met


@pytest.fixture
def served(echo_models: str, tmp_path: Path) -> Iterator[Served]:
    config = tmp_path / "arena.toml"
    write_config(config, tmp_path, echo_models, dict.fromkeys(MODELS, "active"))
    port = reserved_ports(2)
    with open(tmp_path / "serve.log", "wb") as log:
        process = subprocess.Popen(
            ["nice", "-n", "19", sys.executable, "-m", "arena", "serve", "--config",
             str(config), "--port", str(port), "--workers", "2", "--no-ui"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    urls = [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]
    battle_log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    try:
        deadline = time.monotonic() + 180
        while not all(up(url) for url in urls):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"arena serve did not come up:\n"
                            f"{(tmp_path / 'serve.log').read_text()[-4000:]}")
            time.sleep(0.5)  # allowed sleep: poll interval while arena serve starts
        yield Served(process, urls, config, tmp_path, battle_log)
    finally:
        stop_arena_serve(process, battle_log)


def up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_publishes_states_and_reloads_them_on_sighup_and_on_command(served: Served):
    # At start: the config's states, in the embedded Redis whose URL only the owner can read.
    assert served.published() == dict.fromkeys(MODELS, "active")
    kept = live_url_path(served.root / "data")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600

    # SIGHUP: the config is read again; both workers stop sampling the retired model at once.
    states = {"echo-a": "active", "echo-b": "preview", "echo-c": "retired"}
    write_config(served.config, served.root, "http://unused.invalid", states)
    served.process.send_signal(signal.SIGHUP)
    served.wait_published(states)
    served.wait_logged("reload (SIGHUP): model states published: echo-a: active; "
                       "echo-b: active -> preview; echo-c: active -> retired")
    for url in served.urls:
        met = served.battles(url, 4)
        assert all({a, b} == {"echo-a", "echo-b"} and p == pytest.approx(1.0)
                   for a, b, p in met), met
    with httpx.Client(base_url=served.urls[1], timeout=60) as http:
        session = http.post("/api/sessions").json()["session"]
        refused = http.post("/api/battles", headers={"X-Arena-Session": session}, json={
            "prompt": "Hi", "mode": "named", "models": ["echo-a", "echo-c"]})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "model_retired"
    assert "'echo-c' is retired" in refused.json()["detail"]
    # The list raters pick from no longer offers it.
    for url in served.urls:
        offered = httpx.get(f"{url}/api/models", timeout=10).json()["models"]
        assert offered == [{"name": "echo-a"}, {"name": "echo-b"}]

    # `arena models reload` finds the running arena's Redis through the data directory.
    states = {"echo-a": "retired", "echo-b": "active", "echo-c": "preview"}
    write_config(served.config, served.root, "http://unused.invalid", states)
    reload = subprocess.run(
        [sys.executable, "-m", "arena", "models", "reload", "--config", str(served.config)],
        cwd=served.root, capture_output=True, text=True, timeout=120)
    assert reload.returncode == 0, reload.stderr
    assert "echo-a: active -> retired" in reload.stdout
    assert "echo-c: retired -> preview" in reload.stdout
    assert served.published() == states
    met = served.battles(served.urls[1], 3)
    assert all({a, b} == {"echo-b", "echo-c"} for a, b, _ in met), met
    assert served.process.poll() is None  # no restart happened
    # Stopped, it takes the Redis URL (a secret) with it.
    stop_arena_serve(served.process, None)
    assert not kept.exists()
    assert served.process.returncode == -signal.SIGTERM  # still ends by the signal


def test_reload_without_a_running_arena_says_how_to_find_one(
        echo_models: str, tmp_path: Path):
    config = tmp_path / "arena.toml"
    write_config(config, tmp_path, echo_models, dict.fromkeys(MODELS, "active"))
    result = CliRunner().invoke(cli, ["models", "reload", "--config", str(config)])
    assert result.exit_code == 1
    assert "no running arena found" in result.output and "--redis-url" in result.output


def test_reload_refuses_a_wrong_config_and_changes_nothing(tmp_path: Path):
    redis = EmbeddedRedis(data_dir=tmp_path / "redis").start()
    try:
        config = tmp_path / "arena.toml"
        write_config(config, tmp_path, "http://127.0.0.1:9", dict.fromkeys(MODELS, "active"))
        runner = CliRunner()
        ok = runner.invoke(cli, ["models", "reload", "--config", str(config)],
                           env={"ARENA_REDIS_URL": redis.url})
        assert ok.exit_code == 0, ok.output
        config.write_text(config.read_text().replace('state = "active"', 'state = "gone"', 1))
        bad = runner.invoke(cli, ["models", "reload", "--config", str(config)],
                            env={"ARENA_REDIS_URL": redis.url})
        assert bad.exit_code == 2
        assert "models[0] (echo-a).state: must be one of preview, active, retired" in bad.output

        async def published() -> dict[str, str]:
            async with LiveState.from_url(redis.url) as live:
                return await live.model_states()

        assert asyncio.run(published()) == dict.fromkeys(MODELS, "active")
    finally:
        redis.stop()


def test_models_status_shows_each_models_state(tmp_path: Path):
    config = tmp_path / "arena.toml"
    write_config(config, tmp_path, "http://127.0.0.1:9",
                 {"echo-a": "preview", "echo-b": "active", "echo-c": "retired"})
    result = CliRunner().invoke(cli, ["models", "status", "--config", str(config)])
    rows = {line.split()[0]: line.split()[-1] for line in result.output.splitlines()[1:4]}
    assert result.output.splitlines()[0].split()[-1] == "STATE"
    assert rows == {"echo-a": "preview", "echo-b": "active", "echo-c": "retired"}
