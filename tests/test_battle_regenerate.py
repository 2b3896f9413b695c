"""Regenerate, in-process: the real `BattleService` over scripted models, a SQLite file and the
session's Redis (tests/fixtures/battle_service.py). New answers from the same pair to the same
prompt on new seeds; the replaced turn stays in the record (`discarded_turns`), so the battle
still replays exactly; the vote counts for the answers shown last; the limits hold.
"""

from __future__ import annotations

import asyncio

import pytest
from fixtures.battle_service import RuleArena, drain, kinds

from arena.battles.regenerate import STILL_STREAMING
from arena.battles.stream_claims import TAKEN
from arena.errors import NotYourBattle, RateLimited, VoteConflict
from arena.record import BattleRecord

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER, STRANGER = "regen-owner", "regen-stranger"
FIRST, SECOND = ("First", " answer."), ("Second", " answer.")


def script_all(arena: RuleArena, deltas: tuple[str, ...], **fields) -> None:
    for model in ("alpha", "bravo"):
        arena.models.script(model, deltas=deltas, **fields)


async def test_regenerate_replaces_the_answers_and_the_vote_counts_for_the_new_ones(
        arena: RuleArena):
    script_all(arena, FIRST)
    battle_id, _ = await arena.battle(OWNER, "Name a river.")
    script_all(arena, SECOND)
    events = await drain(await arena.service.regenerate(battle_id, OWNER))
    assert kinds(events) == ["done", "done", "ready"]
    assert {e.to_dict()["kind"] for e in events} <= {"delta", "done", "ready"}
    assert all(set(e.to_dict()) == {"kind", "side", "text"} for e in events)  # anonymous
    reveal = await arena.service.vote(battle_id, OWNER, "model_a")

    record = arena.logged(battle_id)
    assert (record.model_a, record.model_b) == (reveal.model_a, reveal.model_b)  # same pair
    assert [t.prompt for t in record.turns] == ["Name a river."]
    assert record.turns[0].generation_a.output == "Second answer."
    assert record.conversation_a[-1] == {"role": "assistant", "content": "Second answer."}
    assert record.conversation_a[-2] == {"role": "user", "content": "Name a river."}
    assert len(record.conversation_a) == 3  # system prompt, the prompt, the answer shown last
    [discarded] = record.discarded_turns
    assert (discarded.index, discarded.prompt) == (0, "Name a river.")
    for side in ("a", "b"):
        old = getattr(discarded, f"generation_{side}")
        new = getattr(record.turns[0], f"generation_{side}")
        assert old.output == "First answer." and old.finished_at is not None
        assert old.messages == new.messages  # the same request ...
        assert old.seed != new.seed and old.params["seed"] == old.seed  # ... on a new seed
    # The export carries the discarded turn whole: the battle replays exactly.
    again = BattleRecord.from_dict(record.to_dict())
    assert again.discarded_turns[0].to_dict() == discarded.to_dict()


async def test_a_follow_up_turn_is_regenerated_with_its_history(arena: RuleArena):
    script_all(arena, FIRST)
    battle_id, _ = await arena.battle(OWNER, "Start.")
    await arena.follow_up(battle_id, OWNER, "Go on.")
    script_all(arena, SECOND)
    await drain(await arena.service.regenerate(battle_id, OWNER))
    await arena.service.vote(battle_id, OWNER, "tie")
    record = arena.logged(battle_id)
    assert [t.prompt for t in record.turns] == ["Start.", "Go on."]
    assert [t.generation_b.output for t in record.turns] == ["First answer.", "Second answer."]
    [discarded] = record.discarded_turns
    assert discarded.index == 1 and discarded.generation_b.output == "First answer."
    assert discarded.generation_b.messages == record.turns[1].generation_b.messages
    assert record.turns[1].generation_b.messages[-3:] == [
        {"role": "user", "content": "Start."},
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "Go on."}]


async def test_regenerate_is_refused_beyond_its_limit_after_the_vote_and_to_others(make_arena):
    arena = make_arena(max_regenerations=2)
    battle_id, _ = await arena.battle(OWNER)
    with pytest.raises(NotYourBattle):
        await arena.service.regenerate(battle_id, STRANGER)
    for _ in range(2):
        await drain(await arena.service.regenerate(battle_id, OWNER))
    with pytest.raises(VoteConflict, match="regenerated 2 times"):
        await arena.service.regenerate(battle_id, OWNER)
    await arena.service.vote(battle_id, OWNER, "model_b")
    with pytest.raises(VoteConflict, match="already has a vote"):
        await arena.service.regenerate(battle_id, OWNER)
    assert len(arena.logged(battle_id).discarded_turns) == 2

    off = make_arena(max_regenerations=0)
    battle_id, _ = await off.battle(OWNER)
    with pytest.raises(VoteConflict, match="does not regenerate"):
        await off.service.regenerate(battle_id, OWNER)


async def test_regenerate_is_refused_while_streaming_and_on_a_failed_battle(arena: RuleArena):
    script_all(arena, FIRST, delay_s=0.05)
    battle_id, stream = await arena.service.start(OWNER, "Slowly.")
    await anext(stream)  # the battle event: both sides are streaming
    with pytest.raises(VoteConflict, match=STILL_STREAMING[:30]):
        await arena.service.regenerate(battle_id, OWNER)
    await drain(stream)
    arena.models.script("alpha", ending="error")
    events = await drain(await arena.service.regenerate(battle_id, OWNER))
    assert kinds(events)[-1] == "failed"
    with pytest.raises(VoteConflict, match="failed"):
        await arena.service.regenerate(battle_id, OWNER)
    record = arena.logged(battle_id)
    assert record.status == "error" and len(record.discarded_turns) == 1


async def test_regenerate_counts_as_a_new_battle_and_a_refusal_changes_nothing(make_arena):
    arena = make_arena(battles_per_minute=2)
    script_all(arena, FIRST)
    battle_id, _ = await arena.battle(OWNER)
    script_all(arena, SECOND)
    await drain(await arena.service.regenerate(battle_id, OWNER))
    with pytest.raises(RateLimited, match="per minute"):
        await arena.service.regenerate(battle_id, OWNER)
    # The refused request gave back its claim on the next stream: a follow-up may take it.
    assert kinds(await arena.follow_up(battle_id, OWNER, "More?"))[-1] == "ready"
    await arena.service.vote(battle_id, OWNER, "model_a")  # still votable, on what was shown
    record = arena.logged(battle_id)
    assert record.turns[0].generation_a.output == "Second answer."
    assert len(record.discarded_turns) == 1 and len(record.turns) == 2


async def test_two_requests_at_once_begin_one_stream_and_the_record_keeps_every_answer(
        make_arena):
    first = make_arena()
    second = make_arena(like=first)  # another worker: same Redis keys, same SQL file
    battle_id, _ = await first.battle(OWNER)

    async def regenerate(worker: RuleArena) -> str:
        try:
            await drain(await worker.service.regenerate(battle_id, OWNER))
        except VoteConflict as refused:
            assert refused.message in (TAKEN, STILL_STREAMING)
            return "refused"
        return "streamed"

    # The one stream stays open (its models stall) until the five others are answered, so
    # "at once" holds however slow the machine: none can start after it ended.
    for worker in (first, second):
        script_all(worker, SECOND, ending="stall")
    tasks = [asyncio.create_task(regenerate(w)) for w in (first, second) * 3]
    pending = set(tasks)
    async with asyncio.timeout(60):
        while len(tasks) - len(pending) < 5:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    for worker in (first, second):
        worker.models.release()
    outcomes = await asyncio.gather(*tasks)
    assert sorted(outcomes) == ["refused"] * 5 + ["streamed"]
    for worker in (first, second):
        script_all(worker, SECOND)
    follow_ups = await asyncio.gather(
        *(w.service.continue_battle(battle_id, OWNER, "Next?") for w in (first, second)),
        return_exceptions=True)
    assert sum(isinstance(f, VoteConflict) for f in follow_ups) == 1
    await drain(next(f for f in follow_ups if not isinstance(f, BaseException)))
    await first.service.vote(battle_id, OWNER, "tie")
    record = first.logged(battle_id)
    assert len(record.turns) == 2 and len(record.discarded_turns) == 1


async def test_a_regenerate_on_another_worker_is_logged_whole(make_arena):
    first = make_arena()
    second = make_arena(like=first)
    script_all(first, FIRST)
    battle_id, _ = await first.battle(OWNER)
    script_all(first, SECOND)
    await drain(await second.service.regenerate(battle_id, OWNER))
    await first.service.vote(battle_id, OWNER, "model_b")
    record = first.logged(battle_id)
    assert record.turns[0].generation_a.output == "Second answer."
    assert record.discarded_turns[0].generation_a.output == "First answer."
