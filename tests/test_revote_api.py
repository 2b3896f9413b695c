"""Re-voting logged battles through the REST API of a real `arena serve --replay FILE`.

The server (tests/fixtures/replay_server.py) has its own Redis and SQLite file and no model
server: its configured models point at a socket that only listens, so any contact would count.
The rules of a re-voting battle (one vote, the owner's, no prompts) are tested in-process in
tests/test_battle_revote.py.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from fixtures.arena_server import SESSION_HEADER, new_session
from fixtures.replay_server import MODELS, ORIGINALS, SKIPPED

from arena.battles.sampling import assign_sides
from arena.record import BattleRecord


@dataclass
class Streamed:
    """What a client saw of one replay battle's stream."""

    battle_id: str = ""
    prompts: list[str] = field(default_factory=list)
    text: dict[str, list[str]] = field(default_factory=lambda: {"a": [], "b": []})
    kinds: list[str] = field(default_factory=list)
    raw: str = ""


def session(url: str) -> dict[str, str]:
    """The header of a new rater session the re-vote server issued."""
    return {SESSION_HEADER: new_session(url)}


def next_battle(url: str, headers: dict[str, str]) -> Streamed:
    seen = Streamed()
    with httpx.stream("POST", f"{url}/api/replay/battles", headers=headers, timeout=30) as reply:
        assert reply.status_code == 200, reply.read().decode()
        for line in reply.iter_lines():
            seen.raw += line + "\n"
            if not line.startswith("data: "):
                continue
            event = json.loads(line[len("data: "):])
            seen.kinds.append(event["kind"])
            if event["kind"] == "battle":
                seen.battle_id = event["battle_id"]
            elif event["kind"] == "turn":
                seen.prompts.append(event["text"])
                for side in "ab":
                    seen.text[side].append("")
            elif event["kind"] == "delta":
                seen.text[event["side"]][-1] += event["text"]
    return seen


def vote(url: str, headers: dict[str, str], battle_id: str, winner: str) -> httpx.Response:
    return httpx.post(f"{url}/api/battles/{battle_id}/vote", json={"winner": winner},
                      headers=headers, timeout=30)


def logged(server, battle_id: str) -> BattleRecord:
    record = server.log.get_battle(battle_id)
    assert record is not None, f"battle {battle_id} is not in the SQL log"
    return record


def test_replay_battle_streams_the_logged_turns_and_logs_the_vote_as_replay(replay_server):
    headers = session(replay_server.url)
    seen = next_battle(replay_server.url, headers)
    assert seen.kinds[0] == "battle" and seen.kinds[-1] == "ready"
    # Anonymous until the vote: no model name or endpoint in the stream.
    assert not [name for name in MODELS if name in seen.raw]
    assert "127.0.0.1" not in seen.raw
    # Nor what a logged generation knew about itself (the logged records have both).
    assert "completion_tokens" not in seen.raw and "finish_reason" not in seen.raw

    reply = vote(replay_server.url, headers, seen.battle_id, "model_b")
    assert reply.status_code == 200, reply.text
    reveal = reply.json()
    record = logged(replay_server, seen.battle_id)
    original = replay_server.originals[record.replay_of]
    assert reveal == {"battle_id": seen.battle_id, "winner": "model_b",
                      "model_a": record.model_a, "model_b": record.model_b, "flags": []}

    assert (record.mode, record.status, record.winner) == ("replay", "voted", "model_b")
    assert record.pair_policy == "replay"
    assert {record.model_a, record.model_b} == {original.model_a, original.model_b}
    # The logged coin reproduces the sides shown.
    assert assign_sides((record.model_a, record.model_b), record.side_seed) == (
        record.model_a, record.model_b)
    # The stream showed exactly the logged prompts and, per side, the outputs of the model
    # that side now holds; the record keeps those generations on those sides.
    assert seen.prompts == [turn.prompt for turn in original.turns]
    side_of = {original.model_a: "a", original.model_b: "b"}
    for new_side, model in (("a", record.model_a), ("b", record.model_b)):
        old = side_of[model]
        logged_outputs = [getattr(t, f"generation_{old}").output for t in original.turns]
        assert seen.text[new_side] == logged_outputs
        assert [getattr(t, f"generation_{new_side}").output for t in record.turns] == \
            logged_outputs
        assert getattr(record, f"conversation_{new_side}") == \
            getattr(original, f"conversation_{old}")
        assert getattr(record, f"system_prompt_{new_side}") == \
            getattr(original, f"system_prompt_{old}")


def test_sides_are_rerandomised_and_a_rater_never_gets_the_same_battle_twice(replay_server):
    headers = session(replay_server.url)
    shown: list[str] = []
    swapped = []
    for _ in range(ORIGINALS):
        seen = next_battle(replay_server.url, headers)
        reveal = vote(replay_server.url, headers, seen.battle_id, "model_a").json()
        record = logged(replay_server, seen.battle_id)
        original = replay_server.originals[record.replay_of]
        shown.append(record.replay_of)
        swapped.append(reveal["model_a"] != original.model_a)
        # Mapped back: the replay's left model is the original's left model unless swapped,
        # and the left column showed that model's logged answer to the first prompt.
        expected_left = original.model_b if swapped[-1] else original.model_a
        assert reveal["model_a"] == expected_left
        first = original.turns[0]
        left_output = first.generation_b.output if swapped[-1] else first.generation_a.output
        assert seen.text["a"][0] == left_output
    assert sorted(shown) == sorted(replay_server.originals), "each original exactly once"
    assert 0 < sum(swapped) < ORIGINALS, f"sides never re-randomised: {swapped}"

    exhausted = httpx.post(f"{replay_server.url}/api/replay/battles", headers=headers,
                           timeout=30)
    assert exhausted.status_code == 503
    assert "seen every battle" in exhausted.json()["detail"]


def test_prompts_and_follow_ups_are_refused_in_replay_mode(replay_server):
    headers = session(replay_server.url)
    fresh = httpx.post(f"{replay_server.url}/api/battles", json={"prompt": "hi"},
                       headers=headers, timeout=30)
    assert fresh.status_code == 400
    assert "replays logged battles" in fresh.json()["detail"]
    seen = next_battle(replay_server.url, headers)
    follow = httpx.post(f"{replay_server.url}/api/battles/{seen.battle_id}/turns",
                        json={"prompt": "and then?"}, headers=headers, timeout=30)
    assert follow.status_code == 409
    assert "replays logged battles" in follow.json()["detail"]


def test_the_pool_reports_what_it_loaded_and_skipped_to_operators_only(replay_server):
    url = f"{replay_server.url}/api/operator/replay"
    info = httpx.get(url, headers=replay_server.operator_headers, timeout=10)
    assert info.status_code == 200 and info.json() == {"battles": ORIGINALS, "skipped": SKIPPED}
    anonymous = httpx.get(url, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "unauthorized"
    # The route that was public before is gone: no pool report there any more.
    former = httpx.get(f"{replay_server.url}/api/replay", timeout=10)
    assert former.status_code in (404, 405) and str(ORIGINALS) not in former.text
    assert f"loaded {ORIGINALS} battles" in replay_server.log_path.read_text()


def test_unvoted_replay_battle_left_for_the_next_is_logged_as_abandoned(replay_server):
    headers = session(replay_server.url)
    seen = next_battle(replay_server.url, headers)
    ended = httpx.post(f"{replay_server.url}/api/battles/{seen.battle_id}/end",
                       headers=headers, timeout=30).json()
    assert ended["logged_as_abandoned"] is True
    record = logged(replay_server, seen.battle_id)
    assert (record.mode, record.status, record.winner) == ("replay", "abandoned", None)
    assert record.replay_of in replay_server.originals
    # Shown once is shown: the next battle is another original.
    following = next_battle(replay_server.url, headers)
    assert vote(replay_server.url, headers, following.battle_id, "model_a").status_code == 200
    assert logged(replay_server, following.battle_id).replay_of != record.replay_of


def test_who_saw_what_is_rebuilt_from_sql_after_redis_is_flushed(replay_server):
    headers = session(replay_server.url)
    originals = set()
    for _ in range(ORIGINALS):
        seen = next_battle(replay_server.url, headers)
        assert vote(replay_server.url, headers, seen.battle_id, "tie").status_code == 200
        originals.add(logged(replay_server, seen.battle_id).replay_of)
    replay_server.flush_redis()
    refused = httpx.post(f"{replay_server.url}/api/replay/battles", headers=headers,
                         timeout=30)
    assert refused.status_code == 503, "the rater's shown set was lost with Redis"
    # A new rater still gets a battle, and the replay-vote counts came back from SQL.
    other = next_battle(replay_server.url, session(replay_server.url))
    assert other.kinds[-1] == "ready"
    import redis

    with redis.Redis.from_url(replay_server.redis.url, decode_responses=True) as client:
        counts = {k: int(v) for k, v in client.hgetall("arena:replay:votes").items()}
    in_sql = Counter(r.replay_of for r in replay_server.log.iter_battles(mode="replay")
                     if r.status == "voted")
    assert counts == dict(in_sql)


@pytest.fixture(autouse=True)
def no_model_contacted(replay_server):
    """After every test of this module, whatever order they run in: no connection reached the
    models' endpoints."""
    yield
    assert replay_server.model_connections() == 0, "a re-voting arena contacted a model"


def test_the_configured_models_are_never_contacted(replay_server):
    headers = session(replay_server.url)
    seen = next_battle(replay_server.url, headers)
    assert vote(replay_server.url, headers, seen.battle_id, "tie").status_code == 200
    assert httpx.get(f"{replay_server.url}/healthz", timeout=10).json() == {"ok": True}
    health = httpx.get(f"{replay_server.url}/api/operator/health",
                       headers=replay_server.operator_headers, timeout=10).json()
    assert health == {"ok": True, "models_down": [], "redis": "ok", "sql": "ok"}
    assert replay_server.model_connections() == 0


@pytest.mark.parametrize("content, reason", [
    ("", "the file is empty"),
    ('{"battle_id": "x", "mode": "anonymous"}\n', "invalid record"),
    ("not json\n", "not valid JSON"),
])
def test_a_file_with_nothing_to_replay_is_refused_with_the_reason(tmp_path, content, reason):
    from arena.revote.pool import ReplayPool, ReplayPoolError

    path = tmp_path / "log.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReplayPoolError, match=reason):
        ReplayPool.load(path)
