"""The session challenge on a real `arena serve` (`session_challenge = "pow"`): a REST client
must solve it before it gets a session, a solved challenge works once, and the arena page
solves it in Chromium at load and then gets its signed cookie, so its battles count.

The server is an `arena serve --revote FILE` (the logged battles are shown, no model is
launched or contacted) with its own Redis and SQLite file, at 12 bits so it solves fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from factories import make_battle
from fixtures.arena_server import SESSION_HEADER, stop_arena_serve
from fixtures.ports import reserved_port
from fixtures.replay_server import MODELS, wait_until_healthy, write_revote_config

from arena.live.embedded import EmbeddedRedis
from arena.store import BattleLog
from arena.web.challenge_pow import solve_pow

BITS = 12


@dataclass
class PowArena:
    url: str
    log: BattleLog


@pytest.fixture(scope="module")
def pow_arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PowArena]:
    root = tmp_path_factory.mktemp("pow-arena")
    redis = EmbeddedRedis(data_dir=root / "redis").start()
    logged = root / "logged.jsonl"
    battles = [make_battle(turn_count=1, model_a=MODELS[0], model_b=MODELS[1],
                           publish_consent=True, terms_version="1") for _ in range(4)]
    logged.write_text("".join(json.dumps(b.to_dict()) + "\n" for b in battles), encoding="utf-8")
    config = root / "arena.toml"
    write_revote_config(config, data_dir=root / "data", db_url=f"sqlite:///{root / 'arena.db'}",
                        redis_url=redis.url, models_url="http://127.0.0.1:9/v1",
                        salt="pow-test-salt", limit=1000, every_votes=1000)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(
        "[arena]\n", f'[arena]\nsession_challenge = "pow"\npow_difficulty_bits = {BITS}\n', 1),
        encoding="utf-8")
    port = reserved_port()
    log_path = root / "serve.log"
    with open(log_path, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "arena", "serve", "--config", str(config), "--port",
             str(port), "--revote", str(logged)],
            stdout=output, stderr=subprocess.STDOUT, cwd=root)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, log_path)
        yield PowArena(url, BattleLog(f"sqlite:///{root / 'arena.db'}"))
    finally:
        stop_arena_serve(process, None)
        redis.stop()


def test_a_rest_client_gets_a_session_only_for_a_solved_challenge_and_only_once(pow_arena):
    url = pow_arena.url
    unsolved = httpx.post(f"{url}/api/sessions", timeout=30)
    assert unsolved.status_code == 403, unsolved.text
    assert "GET /api/sessions/challenge" in unsolved.json()["detail"]
    issued = httpx.get(f"{url}/api/sessions/challenge", timeout=30).json()
    assert issued["kind"] == "pow" and issued["difficulty_bits"] == BITS
    wrong = httpx.post(f"{url}/api/sessions",
                       json={"challenge": issued, "answer": {"nonce": "not-a-number"}},
                       timeout=30)
    assert wrong.status_code == 403, wrong.text
    answer = solve_pow(issued)
    granted = httpx.post(f"{url}/api/sessions",
                         json={"challenge": issued, "answer": answer}, timeout=30)
    assert granted.status_code == 201, granted.text
    session = granted.json()["session"]
    replayed = httpx.post(f"{url}/api/sessions",
                          json={"challenge": issued, "answer": answer}, timeout=30)
    assert replayed.status_code == 403, replayed.text
    # The granted session opens battles; an invented one does not.
    with httpx.stream("POST", f"{url}/api/replay/battles",
                      headers={SESSION_HEADER: session}, timeout=30) as reply:
        assert reply.status_code == 200, reply.read().decode()
    invented = httpx.post(f"{url}/api/replay/battles",
                          headers={SESSION_HEADER: "made-up"}, timeout=30)
    assert invented.status_code == 401, invented.text


@pytest.mark.browser
def test_the_page_solves_the_challenge_at_load_and_its_votes_count(pow_arena, chromium):
    url = pow_arena.url
    before = {b.battle_id for b in pow_arena.log.iter_battles()}
    context = chromium.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url)
        page.wait_for_function(
            "() => ['ready', 'refused', 'failed']"
            ".includes(document.documentElement.dataset.arenaSession)", timeout=60_000)
        state = page.evaluate("() => document.documentElement.dataset.arenaSession")
        assert state == "ready", errors
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["arena_session"]["httpOnly"]
        # The cookie is a session the server signed: it opens a battle over REST too.
        token = cookies["arena_session"]["value"]
        with httpx.stream("POST", f"{url}/api/replay/battles",
                          headers={SESSION_HEADER: token}, timeout=30) as reply:
            assert reply.status_code == 200, reply.read().decode()
        # A battle and a vote on the page itself: they go through with that identity.
        page.click("#next-battle")
        page.wait_for_function("() => !document.querySelector('#vote-b').disabled",
                               timeout=30_000)
        page.click("#vote-b")
        page.wait_for_function(  # said once the vote is in SQL
            "() => document.querySelector('#arena-status').innerText.includes('vote is saved')",
            timeout=30_000)
        voted = [b for b in pow_arena.log.iter_battles(status="voted")
                 if b.battle_id not in before]
        assert [(b.mode, b.winner) for b in voted] == [("replay", "model_b")]
        assert not [e for e in errors if "Content Security Policy" in e], errors
    finally:
        context.close()
