"""Operator access on a real `arena serve` whatever its token setting: none configured (the
operator routes answer 404), a token in ARENA_OPERATOR_TOKEN (401 without it, 200 with it, the
full log streamed), and an unusable token (the server refuses to start and says why, without
showing it).

Each server is an `arena serve --revote FILE --no-ui` with its own Redis and SQLite file: no
model is launched or contacted, so the test needs no vLLM. The operator routes against the
vLLM-backed `arena_server` are in tests/test_public_surface.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from factories import make_battle
from fixtures.arena_server import SESSION_HEADER, new_session, stop_arena_serve
from fixtures.ports import reserved_port
from fixtures.replay_server import MODELS, wait_until_healthy, write_revote_config

from arena.live.embedded import EmbeddedRedis
from arena.web.operator import TOKEN_ENV

OPERATOR_ROUTES = ("/api/operator/export", "/api/operator/health", "/api/operator/replay")
TOKEN = "operator-test-token-" + "q" * 24


@dataclass
class Served:
    url: str
    log_path: Path


def write_arena(root: Path, redis_url: str, token_file: Path | None) -> tuple[Path, Path]:
    """A re-vote config (models never called) and its file of three logged battles."""
    data_dir = root / "data"
    data_dir.mkdir()
    logged = root / "logged.jsonl"
    battles = [make_battle(turn_count=1, model_a=MODELS[0], model_b=MODELS[1],
                           prompts=[f"Logged prompt {n}"], publish_consent=True,
                           terms_version="1") for n in range(3)]
    logged.write_text("".join(json.dumps(b.to_dict()) + "\n" for b in battles), encoding="utf-8")
    config = root / "arena.toml"
    write_revote_config(config, data_dir=data_dir, db_url=f"sqlite:///{root / 'arena.db'}",
                        redis_url=redis_url, models_url="http://127.0.0.1:9/v1",
                        salt="operator-test-salt", limit=1000, every_votes=1000,
                        token_file=token_file)
    return config, logged


def serve_command(config: Path, logged: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "arena", "serve", "--config", str(config), "--port",
            str(port), "--revote", str(logged), "--no-ui"]


@contextmanager
def arena(root: Path, *, token_env: str | None = None,
          token_file: Path | None = None) -> Iterator[Served]:
    """A running re-vote arena with the given operator token setting."""
    redis = EmbeddedRedis(data_dir=root / "redis").start()
    config, logged = write_arena(root, redis.url, token_file)
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    if token_env is not None:
        env[TOKEN_ENV] = token_env
    port = reserved_port()
    log_path = root / "serve.log"
    with open(log_path, "wb") as output:
        process = subprocess.Popen(serve_command(config, logged, port), stdout=output,
                                   stderr=subprocess.STDOUT, cwd=root, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, log_path)
        yield Served(url, log_path)
    finally:
        stop_arena_serve(process, None)
        redis.stop()


def replay_and_vote(url: str) -> str:
    """Re-vote one logged battle as an anonymous client; its new battle id."""
    headers = {SESSION_HEADER: new_session(url)}
    with httpx.stream("POST", f"{url}/api/replay/battles", headers=headers,
                      timeout=30) as reply:
        assert reply.status_code == 200
        events = [json.loads(line[6:]) for line in reply.iter_lines()
                  if line.startswith("data: ")]
    battle_id = events[0]["battle_id"]
    voted = httpx.post(f"{url}/api/battles/{battle_id}/vote", json={"winner": "tie"},
                       headers=headers, timeout=30)
    assert voted.status_code == 200
    return battle_id


def test_without_a_configured_token_every_operator_route_answers_404(tmp_path):
    with arena(tmp_path) as served:
        for path in OPERATOR_ROUTES:
            for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
                answer = httpx.get(f"{served.url}{path}", headers=headers, timeout=10)
                assert answer.status_code == 404, path
                assert answer.json()["error"] == "not_found"
                assert "battle" not in answer.text and "redis" not in answer.text
        assert httpx.get(f"{served.url}/healthz", timeout=10).json() == {"ok": True}


def test_a_token_from_the_environment_opens_the_operator_routes_and_nothing_else(tmp_path):
    with arena(tmp_path, token_env=f"{TOKEN}\n") as served:
        battle_id = replay_and_vote(served.url)
        for path in OPERATOR_ROUTES:
            for headers in ({}, {"Authorization": "Bearer not-the-token"}):
                refused = httpx.get(f"{served.url}{path}", headers=headers, timeout=10)
                assert refused.status_code == 401 and "Authorization: Bearer" in refused.text
                assert "battle_id" not in refused.text and TOKEN not in refused.text
        operator = {"Authorization": f"Bearer {TOKEN}"}
        health = httpx.get(f"{served.url}/api/operator/health", headers=operator, timeout=10)
        assert health.json() == {"ok": True, "models_down": [], "redis": "ok", "sql": "ok"}
        pool = httpx.get(f"{served.url}/api/operator/replay", headers=operator, timeout=10)
        assert pool.json() == {"battles": 3, "skipped": {}}
        export = httpx.get(f"{served.url}/api/operator/export", headers=operator, timeout=10)
        assert export.status_code == 200 and export.headers["cache-control"] == "no-store"
        assert "attachment" in export.headers["content-disposition"]
        rows = [json.loads(line) for line in export.text.splitlines()]
        assert [(r["battle_id"], r["mode"], r["winner"]) for r in rows] == [
            (battle_id, "replay", "tie")]
        assert rows[0]["turns"][0]["prompt"].startswith("Logged prompt")
        filtered = httpx.get(f"{served.url}/api/operator/export",
                             params={"status": "abandoned"}, headers=operator, timeout=10)
        assert filtered.status_code == 200 and filtered.text == ""
        wrong = httpx.get(f"{served.url}/api/operator/export", params={"since": "yesterday"},
                          headers=operator, timeout=10)
        assert wrong.status_code == 400 and "ISO 8601" in wrong.json()["detail"]
    assert TOKEN not in served.log_path.read_text()


def test_an_unusable_token_stops_the_server_before_it_serves(tmp_path):
    short = "short-token"
    token_file = tmp_path / "operator-token"
    token_file.write_text(short, encoding="utf-8")
    token_file.chmod(0o600)
    redis = EmbeddedRedis(data_dir=tmp_path / "redis").start()
    try:
        config, logged = write_arena(tmp_path, redis.url, token_file)
        done = subprocess.run(serve_command(config, logged, reserved_port()), cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    finally:
        redis.stop()
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "too short" in output and str(token_file) in output and "at least 24" in output
    assert short not in output.replace(str(token_file), "")
    assert "serving on" not in output
