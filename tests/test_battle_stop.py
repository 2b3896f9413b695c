"""Stop, in-process: the real `BattleService` over scripted models, a SQLite file and the
session's Redis (tests/fixtures/battle_service.py). A stop cancels both generations at once
(the scripted models see their streams closed, as vLLM sees a closed connection), on the worker
that streams or through Redis from another one; the battle is votable when both sides wrote
text, and what the rater was shown is exactly what is logged.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fixtures.battle_service import RuleArena, kinds

from arena.battles import BattleEvent
from arena.battles.stopping import STOPPED_UNVOTABLE, STOPPED_VOTABLE
from arena.errors import BattleNotFound, NotYourBattle, VoteConflict
from arena.live.embedded import EmbeddedRedis

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER, STRANGER = "stop-owner", "stop-stranger"
# Long enough that no answer finishes before the test stops it (400 x 20 ms = 8 s).
LONG = tuple(f"word{i} " for i in range(400))


def slow_models(arena: RuleArena, **fields) -> None:
    for model in ("alpha", "bravo"):
        arena.models.script(model, deltas=LONG, delay_s=0.02, **fields)


def shown(events: list[BattleEvent], side: str) -> str:
    return "".join(e.text for e in events if e.kind == "delta" and e.side == side)


async def stream_until_both_wrote(stream: AsyncIterator[BattleEvent], stop) -> list[BattleEvent]:
    """Every event of `stream`; `stop()` is awaited once both sides have shown text."""
    events: list[BattleEvent] = []
    asked = False
    async for event in stream:
        events.append(event)
        if not asked and shown(events, "a") and shown(events, "b"):
            asked = True
            assert await stop() is True
    assert asked, "the answers finished before the test could stop them"
    return events


async def test_stop_cancels_both_generations_and_the_shown_text_is_what_is_voted(
        arena: RuleArena):
    slow_models(arena)
    battle_id, stream = await arena.service.start(OWNER, "Tell a long story.")
    started = time.monotonic()
    events = await stream_until_both_wrote(
        stream, lambda: arena.service.stop(battle_id, OWNER))
    assert time.monotonic() - started < 5.0  # well before the 8 s the answers would take
    assert kinds(events)[-4:] == ["done", "done", "stopped", "ready"]
    stopped = events[-2]
    assert stopped.to_dict() == {"kind": "stopped", "side": None, "text": STOPPED_VOTABLE,
                                 "votable": True}
    assert sorted(arena.models.stopped) == ["alpha", "bravo"]  # both requests closed
    await arena.service.vote(battle_id, OWNER, "model_a")
    record = arena.logged(battle_id)
    assert record.status == "voted" and record.winner == "model_a"
    for side in ("a", "b"):
        generation = getattr(record.turns[0], f"generation_{side}")
        assert generation.output == shown(events, side) != ""
        assert len(generation.output) < len("".join(LONG))
        assert (generation.finish_reason, generation.error) == ("stopped", None)
        assert generation.finished_at is not None and generation.seed is not None


async def test_with_lockstep_the_text_held_back_is_shown_before_the_vote(make_arena):
    arena = make_arena(lockstep_streaming=True)
    arena.models.script("alpha", deltas=LONG, delay_s=0.002)  # fast: much is held back
    arena.models.script("bravo", deltas=LONG, delay_s=0.03)
    battle_id, stream = await arena.service.start(OWNER, "Two speeds.")
    events = await stream_until_both_wrote(
        stream, lambda: arena.service.stop(battle_id, OWNER))
    assert kinds(events)[-2:] == ["stopped", "ready"]
    await arena.service.vote(battle_id, OWNER, "tie")
    turn = arena.logged(battle_id).turns[0]
    assert turn.generation_a.output == shown(events, "a")
    assert turn.generation_b.output == shown(events, "b")


async def test_a_stop_sent_to_another_worker_reaches_the_stream(make_arena):
    first = make_arena()
    second = make_arena(like=first)  # another worker: same Redis keys, same SQL file
    slow_models(first)
    battle_id, stream = await first.service.start(OWNER, "Keep going.")
    started = time.monotonic()
    events = await stream_until_both_wrote(
        stream, lambda: second.service.stop(battle_id, OWNER))
    assert time.monotonic() - started < 5.0
    assert kinds(events)[-2:] == ["stopped", "ready"]
    assert sorted(first.models.stopped) == ["alpha", "bravo"]
    await second.service.vote(battle_id, OWNER, "model_b")
    assert first.logged(battle_id).winner == "model_b"


async def test_a_side_without_text_makes_the_battle_unvotable_in_the_same_words(make_arena):
    said = set()
    for silent in ("alpha", "bravo"):
        arena = make_arena()
        slow_models(arena)
        arena.models.script(silent, deltas=LONG, ending="stall", after=0)  # writes nothing
        battle_id, stream = await arena.service.start(OWNER, "One side is silent.")
        events: list[BattleEvent] = []
        asked = False
        async for event in stream:
            events.append(event)
            if not asked and len(shown(events, "a") + shown(events, "b")) > 20:
                asked = True
                assert await arena.service.stop(battle_id, OWNER) is True
        assert kinds(events)[-4:] == ["done", "done", "stopped", "failed"]
        assert events[-2].data == {"votable": False}
        said.add((events[-2].text, events[-1].text))
        record = arena.logged(battle_id)
        assert record.status == "error" and "stopped by the rater" in record.end_reason
        assert silent in arena.models.stopped
        with pytest.raises(VoteConflict):
            await arena.service.vote(battle_id, OWNER, "model_a")
    assert said == {(STOPPED_UNVOTABLE, STOPPED_UNVOTABLE)}  # whichever side was silent


async def test_stop_after_the_answers_finished_changes_nothing(make_arena):
    first = make_arena()
    second = make_arena(like=first)
    battle_id, events = await first.battle(OWNER)
    assert kinds(events)[-1] == "ready"
    assert await first.service.stop(battle_id, OWNER) is False
    with pytest.raises(NotYourBattle):
        await first.service.stop(battle_id, STRANGER)
    # A stop meant for the first turn that reaches Redis late never ends a later turn.
    await second.service.stops.request(battle_id, 1)
    follow = await first.follow_up(battle_id, OWNER, "And then?")
    assert kinds(follow) == ["done", "done", "ready"]
    await first.service.vote(battle_id, OWNER, "model_a")
    assert len(first.logged(battle_id).turns) == 2
    assert await first.service.stop(battle_id, OWNER) is False  # voted: nothing to stop


async def test_with_redis_down_the_streaming_worker_still_stops_and_the_other_says_so(
        make_arena, tmp_path: Path):
    redis = EmbeddedRedis(data_dir=tmp_path / "own-redis").start()
    try:
        first = make_arena(redis_url=redis.url)
        second = make_arena(like=first)
        slow_models(first)
        battle_id, stream = await first.service.start(OWNER, "Keep going.")
        events: list[BattleEvent] = []
        async for event in stream:
            events.append(event)
            if shown(events, "a") and shown(events, "b") and redis.is_running():
                redis.kill()
                with pytest.raises(BattleNotFound):  # no copy there, and Redis is down
                    await second.service.stop(battle_id, OWNER)
                assert await first.service.stop(battle_id, OWNER) is True  # its own copy
        assert kinds(events)[-2:] == ["stopped", "ready"]
        await first.service.vote(battle_id, OWNER, "model_a")  # votes need no Redis
    finally:
        redis.stop()
    assert first.logged(battle_id).turns[0].generation_a.finish_reason == "stopped"
