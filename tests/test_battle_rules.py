"""The battle rules, in-process: the real `BattleService` over scripted models, a SQLite file
and the session's Redis (tests/fixtures/battle_service.py). Each test asserts what the vote log
holds and what is refused with which error; none needs a model server.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.battle_service import MODELS, RuleArena, drain, kinds

from arena.battles.sampling import assign_sides
from arena.battles.state import battle_record, utcnow
from arena.errors import (
    BadInput,
    BattleNotFound,
    NotYourBattle,
    PromptTooLong,
    RateLimited,
    Unavailable,
    VoteConflict,
)
from arena.live.embedded import EmbeddedRedis
from arena.store.log import RecordRefused

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER, STRANGER = "owner-session", "stranger-session"


# ------------------------------------------------------------------------------ a whole battle
async def test_a_voted_battle_is_logged_once_with_its_pair_and_sides(arena: RuleArena):
    battle_id, events = await arena.battle(OWNER, "Write one sentence about rivers.")
    assert kinds(events) == ["battle", "done", "done", "ready"]
    reveal = await arena.service.vote(battle_id, OWNER, "model_b")

    record = arena.logged(battle_id)
    assert record is not None and (record.status, record.winner) == ("voted", "model_b")
    assert (record.model_a, record.model_b) == (reveal.model_a, reveal.model_b)
    assert {record.model_a, record.model_b} == set(MODELS)
    assert record.mode == "anonymous" and record.pair_policy == "uniform"
    assert record.pair_probability == pytest.approx(1.0)
    assert assign_sides((record.model_b, record.model_a), record.side_seed) == (
        record.model_a, record.model_b)
    assert record.rater_hash == arena.service.rater(OWNER) != OWNER
    streamed_a = "".join(e.text for e in events if e.kind == "delta" and e.side == "a")
    assert record.turns[0].generation_a.output == streamed_a
    assert record.conversation_a[0]["content"] == MODELS[record.model_a].system_prompt


# -------------------------------------------------------------------------------- ownership
async def test_another_session_may_not_vote_continue_end_or_see_the_names(arena: RuleArena):
    battle_id, _ = await arena.battle(OWNER)
    with pytest.raises(NotYourBattle, match="another session"):
        await arena.service.vote(battle_id, STRANGER, "model_a")
    with pytest.raises(NotYourBattle):
        await arena.service.continue_battle(battle_id, STRANGER, "Go on.")
    with pytest.raises(NotYourBattle):
        await arena.service.end(battle_id, STRANGER)
    assert arena.logged(battle_id) is None
    await arena.service.vote(battle_id, OWNER, "model_a")
    with pytest.raises(NotYourBattle):
        await arena.service.reveal(battle_id, STRANGER)
    assert arena.logged(battle_id).winner == "model_a"


# ------------------------------------------------------------------------------- one vote
async def test_a_second_vote_is_refused_and_the_first_stands(arena: RuleArena):
    battle_id, _ = await arena.battle(OWNER)
    await arena.service.vote(battle_id, OWNER, "model_a")
    with pytest.raises(VoteConflict, match="already has a vote"):
        await arena.service.vote(battle_id, OWNER, "model_b")
    assert arena.logged(battle_id).winner == "model_a"
    assert arena.log.count_battles(status="voted") == 1


async def test_twenty_concurrent_votes_on_two_workers_record_exactly_one(make_arena):
    first = make_arena()
    second = make_arena(like=first)  # another worker: same Redis keys, same SQL file
    battle_id, _ = await first.battle(OWNER)
    winners = ["model_a", "model_b", "tie", "tie (bothbad)"]

    async def cast(i: int) -> str:
        worker = (first, second)[i % 2]
        try:
            await worker.service.vote(battle_id, OWNER, winners[i % 4])
        except VoteConflict:
            return "refused"
        return "counted"

    outcomes = await asyncio.gather(*(cast(i) for i in range(20)))
    assert sorted(outcomes) == ["counted"] + ["refused"] * 19
    assert first.log.count_battles(status="voted") == 1
    assert first.logged(battle_id).winner in winners


async def test_two_votes_at_once_while_redis_is_down_record_exactly_one(
    make_arena, tmp_path: Path
):
    """With Redis down nothing claims the vote: the owner's worker admits both on its own copy
    of the battle, and SQL's unique battle id keeps one."""
    redis = EmbeddedRedis(data_dir=tmp_path / "own-redis").start()
    try:
        arena = make_arena(redis_url=redis.url)
        battle_id, _ = await arena.battle(OWNER)
        redis.kill()
        outcomes = await asyncio.gather(*(cast_vote(arena, battle_id, winner)
                                          for winner in ("model_a", "model_b")))
    finally:
        redis.stop()
    counted = [outcome for outcome in outcomes if outcome != "refused"]
    assert len(counted) == 1 and outcomes.count("refused") == 1, outcomes
    assert arena.logged(battle_id).winner == counted[0]
    assert arena.log.count_battles() == 1


async def cast_vote(arena: RuleArena, battle_id: str, winner: str) -> str:
    """The winner if the vote counted, "refused" if it was refused as a second vote."""
    try:
        return (await arena.service.vote(battle_id, OWNER, winner)).winner
    except VoteConflict as refused:
        assert "already has a vote" in str(refused)
        return "refused"


# ------------------------------------------------------------------------ the SQL write failing
@contextlib.contextmanager
def sql_refusing_new_battles(db_path: Path) -> Iterator[None]:
    """The log's database refuses every new battle while inside (a trigger aborts the insert),
    as a full disk or a lost connection would fail the write."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        db.execute("CREATE TRIGGER refuse_battles BEFORE INSERT ON battle "
                    "BEGIN SELECT RAISE(ABORT, 'planted write failure'); END")
    try:
        yield
    finally:
        with contextlib.closing(sqlite3.connect(db_path)) as db:
            db.execute("DROP TRIGGER refuse_battles")


async def test_a_vote_whose_sql_write_fails_is_not_counted_and_may_be_cast_again(
    arena: RuleArena,
):
    """The vote's claim is given back when its write fails; kept, it would refuse every later
    vote on the battle as a second one."""
    battle_id, _ = await arena.battle(OWNER)
    with sql_refusing_new_battles(arena.db_path):
        with pytest.raises(RecordRefused, match="planted write failure"):
            await arena.service.vote(battle_id, OWNER, "model_a")
    assert arena.logged(battle_id) is None
    reveal = await arena.service.vote(battle_id, OWNER, "model_b")
    assert reveal.winner == arena.logged(battle_id).winner == "model_b"
    assert arena.log.count_battles() == 1


async def test_a_battle_already_in_the_log_refuses_the_vote_and_keeps_the_logged_one(
    arena: RuleArena,
):
    """SQL's unique battle id is the last guard of one vote per battle (e.g. another worker
    wrote it while Redis was down): a vote that meets it is a second vote, and nothing logged
    is overwritten, neither by it nor by the expiry sweep of the copy it leaves behind."""
    battle_id, _ = await arena.battle(OWNER)
    state = arena.service.battles.local(battle_id)
    arena.log.record_battle(battle_record(state, status="voted", winner="model_a",
                                          voted_at=utcnow()))
    with pytest.raises(VoteConflict, match="already has a vote"):
        await arena.service.vote(battle_id, OWNER, "model_b")
    assert await arena.service.sweep_expired(now=time.time() + 601) == 0
    record = arena.logged(battle_id)
    assert (record.status, record.winner) == ("voted", "model_a")
    following, _ = await arena.battle(OWNER)
    await arena.service.vote(following, OWNER, "tie")
    assert arena.log.count_battles(status="voted") == 2


async def test_a_vote_before_both_answers_finish_is_refused(arena: RuleArena):
    arena.models.script("alpha", ending="stall", after=2)
    battle_id, stream = await arena.service.start(OWNER, "Count to twenty.")
    assert (await anext(stream)).kind == "battle"
    with pytest.raises(VoteConflict, match="finish"):
        await arena.service.vote(battle_id, OWNER, "tie")
    with pytest.raises(VoteConflict, match="still streaming"):
        await arena.service.continue_battle(battle_id, OWNER, "And then?")
    arena.models.release()
    assert kinds(await drain(stream))[-1] == "ready"
    await arena.service.vote(battle_id, OWNER, "tie")
    assert arena.logged(battle_id).winner == "tie"


async def test_the_vote_must_name_a_known_winner_and_battle(arena: RuleArena):
    battle_id, _ = await arena.battle(OWNER)
    with pytest.raises(BadInput, match="model_a"):
        await arena.service.vote(battle_id, OWNER, "left")
    with pytest.raises(BattleNotFound, match="unknown or expired"):
        await arena.service.vote("0" * 32, OWNER, "tie")
    assert arena.logged(battle_id) is None


# ------------------------------------------------------------------------------ the reveal
async def test_names_are_revealed_only_after_the_vote(arena: RuleArena):
    battle_id, events = await arena.battle(OWNER, "Who made you?")
    assert all(event.kind != "reveal" for event in events)
    with pytest.raises(VoteConflict, match="only after the vote"):
        await arena.service.reveal(battle_id, OWNER)
    voted = await arena.service.vote(battle_id, OWNER, "tie")
    again = await arena.service.reveal(battle_id, OWNER)  # e.g. a page reload
    record = arena.logged(battle_id)
    assert (again.model_a, again.model_b, again.winner) == (record.model_a, record.model_b, "tie")
    assert again == voted


# ---------------------------------------------------------------------------- turns, input
async def test_follow_ups_continue_the_battle_until_the_turn_limit(make_arena):
    arena = make_arena(max_turns=3)
    battle_id, _ = await arena.battle(OWNER, "Turn one.")
    for prompt in ("Turn two.", "Turn three."):
        assert kinds(await arena.follow_up(battle_id, OWNER, prompt))[-1] == "ready"
    with pytest.raises(VoteConflict, match="limit of 3 turns"):
        await arena.service.continue_battle(battle_id, OWNER, "Turn four.")
    await arena.service.vote(battle_id, OWNER, "tie (bothbad)")
    record = arena.logged(battle_id)
    assert [t.prompt for t in record.turns] == ["Turn one.", "Turn two.", "Turn three."]
    assert record.winner == "tie (bothbad)"
    # Each side keeps its own history: system, then user/assistant per turn.
    assert [m["role"] for m in record.conversation_b] == ["system"] + ["user", "assistant"] * 3
    assert record.turns[2].generation_b.messages == record.conversation_b[:6]


async def test_an_empty_or_too_long_prompt_is_refused_before_anything_streams(make_arena):
    arena = make_arena(max_prompt_chars=2000)
    with pytest.raises(BadInput, match="empty"):
        await arena.service.start(OWNER, "   ")
    with pytest.raises(PromptTooLong, match="2000"):
        await arena.service.start(OWNER, "x" * 2001)
    battle_id, _ = await arena.battle(OWNER)
    with pytest.raises(PromptTooLong):
        await arena.service.continue_battle(battle_id, OWNER, "x" * 2001)
    assert arena.log.count_battles() == 0


# --------------------------------------------------------------------------- named, modes
async def test_named_battles_put_the_chosen_models_on_the_chosen_sides(arena: RuleArena):
    battle_id, _ = await arena.battle(OWNER, "Compare yourselves.", mode="named",
                                      models=("bravo", "alpha"))
    reveal = await arena.service.vote(battle_id, OWNER, "model_a")
    assert (reveal.model_a, reveal.model_b) == ("bravo", "alpha")
    record = arena.logged(battle_id)
    assert (record.mode, record.pair_policy) == ("named", "named")
    assert record.pair_probability is None and record.side_seed is None


@pytest.mark.parametrize("models, reason", [
    (("alpha", "nope"), "unknown model 'nope'"),
    (("alpha", "alpha"), "two different models"),
    (("alpha",), "needs two models"),
    (None, "needs two models"),
])
async def test_a_named_battle_needs_two_different_known_models(arena: RuleArena, models, reason):
    with pytest.raises(BadInput, match=reason):
        await arena.service.start(OWNER, "hi", mode="named", models=models)
    assert arena.log.count_battles() == 0


async def test_an_unknown_mode_is_refused(arena: RuleArena):
    with pytest.raises(BadInput, match="'anonymous' or 'named'"):
        await arena.service.start(OWNER, "hi", mode="ranked")


# ------------------------------------------------------------------------------ rate limits
async def test_the_rate_limit_refuses_a_burst_of_new_battles(make_arena):
    arena = make_arena(battles_per_minute=3)
    for _ in range(3):
        await arena.battle(OWNER)
    with pytest.raises(RateLimited, match="too many new battles") as refused:
        await arena.service.start(OWNER, "One more.")
    assert refused.value.retry_after_s >= 1
    await arena.battle(STRANGER)  # the limit is per rater


async def test_the_vote_rate_limit_refuses_votes_beyond_the_hourly_limit(make_arena):
    arena = make_arena(votes_per_hour=2)
    battles = [(await arena.battle(OWNER))[0] for _ in range(3)]
    for battle_id in battles[:2]:
        await arena.service.vote(battle_id, OWNER, "tie")
    with pytest.raises(RateLimited, match="too many votes") as refused:
        await arena.service.vote(battles[2], OWNER, "tie")
    assert refused.value.retry_after_s > 0
    assert arena.logged(battles[2]) is None
    assert arena.log.count_battles(status="voted") == 2


# --------------------------------------------------------------------------------- abandon
async def test_leaving_a_battle_logs_it_as_abandoned_and_it_takes_no_vote(arena: RuleArena):
    battle_id, _ = await arena.battle(OWNER, "I will leave.")
    assert await arena.service.end(battle_id, OWNER) is True
    record = arena.logged(battle_id)
    assert (record.status, record.end_reason, record.winner) == ("abandoned", "new_round", None)
    assert len(record.turns) == 1
    with pytest.raises(VoteConflict, match="ended"):
        await arena.service.vote(battle_id, OWNER, "tie")
    assert await arena.service.end(battle_id, OWNER) is False  # logged once
    assert await arena.service.end("0" * 32, OWNER) is False


async def test_the_expiry_sweep_logs_idle_battles_as_abandoned(make_arena):
    arena = make_arena(battle_ttl_s=600)
    idle, _ = await arena.battle(OWNER, "Forgotten.")
    assert await arena.service.sweep_expired(now=time.time() + 60) == 0
    assert await arena.service.sweep_expired(now=time.time() + 601) == 1
    record = arena.logged(idle)
    assert (record.status, record.end_reason) == ("abandoned", "expired")
    with pytest.raises(VoteConflict):
        await arena.service.vote(idle, OWNER, "tie")
    assert await arena.service.sweep_expired(now=time.time() + 1201) == 0


async def test_a_client_that_leaves_mid_stream_leaves_an_abandoned_record(arena: RuleArena):
    arena.models.script("alpha", ending="stall", after=1)
    battle_id, stream = await arena.service.start(OWNER, "Go on and on.")
    seen = [await anext(stream) for _ in range(2)]
    assert seen[0].kind == "battle"
    await stream.aclose()  # the tab closed
    record = await arena.wait_logged(battle_id)
    assert (record.status, record.end_reason) == ("abandoned", "disconnected_mid_turn")
    assert record.turns[0].prompt == "Go on and on."
    alpha = "a" if record.model_a == "alpha" else "b"
    assert "disconnected" in getattr(record.turns[0], f"generation_{alpha}").error
    assert "alpha" in arena.models.stopped  # the stalled generation was stopped


# ------------------------------------------------------------------------- a side failing
@pytest.mark.parametrize("ending", ["disconnect", "error", "raise"])
async def test_a_side_failing_mid_stream_fails_the_battle(arena: RuleArena, ending):
    arena.models.script("bravo", ending=ending, after=2)
    battle_id, events = await arena.battle(OWNER, "Tell a long story.", mode="named",
                                           models=("bravo", "alpha"))
    assert "failed" in kinds(events) and "ready" not in kinds(events)
    errors = [e for e in events if e.kind == "error"]
    assert [e.side for e in errors] == ["a"]
    assert "bravo" not in errors[0].text and "http" not in errors[0].text.lower()
    with pytest.raises(VoteConflict, match="failed"):
        await arena.service.vote(battle_id, OWNER, "model_b")
    with pytest.raises(VoteConflict, match="failed"):
        await arena.service.continue_battle(battle_id, OWNER, "Try again?")
    record = arena.logged(battle_id)
    assert record.status == "error" and record.winner is None
    assert record.turns[0].generation_a.error and record.turns[0].generation_b.error is None
    assert "side a" in record.end_reason


# --------------------------------------------------------------------------- identity leak
async def test_an_answer_naming_its_model_flags_the_battle_and_keeps_the_vote(arena: RuleArena):
    arena.models.script("alpha", deltas=("I am", " Alpha", ", made by AlphaCorp."))
    battle_id, _ = await arena.battle(OWNER, "Who made you?")
    reveal = await arena.service.vote(battle_id, OWNER, "model_a")
    assert reveal.flags == ("identity_leak",)
    record = arena.logged(battle_id)
    assert record.flags == ["identity_leak"] and record.winner == "model_a"


async def test_a_prompt_naming_a_model_does_not_flag_the_battle(arena: RuleArena):
    battle_id, _ = await arena.battle(OWNER, "Are you alpha or bravo?")
    assert (await arena.service.vote(battle_id, OWNER, "tie")).flags == ()
    assert arena.logged(battle_id).flags == []


# ------------------------------------------------------------------------- Redis trouble
async def test_redis_down_refuses_new_battles_but_a_pending_vote_is_still_written(
    make_arena, tmp_path: Path
):
    redis = EmbeddedRedis(data_dir=tmp_path / "own-redis").start()
    try:
        arena = make_arena(redis_url=redis.url)
        pending, _ = await arena.battle(OWNER, "Vote after the outage.")
        redis.kill()
        with pytest.raises(Unavailable, match="Redis"):
            await arena.service.start(OWNER, "New battle during the outage.")
        with pytest.raises(Unavailable, match="Redis"):
            await arena.service.healthy_models()
        reveal = await arena.service.vote(pending, OWNER, "model_a")
        assert arena.logged(pending).winner == reveal.winner == "model_a"
    finally:
        redis.stop()


async def test_a_battle_whose_live_state_was_flushed_is_voted_once(make_arena):
    arena = make_arena()
    battle_id, _ = await arena.battle(OWNER)
    keys = [key async for key in arena.live.client.scan_iter(match=f"{arena.prefix}*")]
    await arena.live.client.delete(*keys)
    with pytest.raises(NotYourBattle):
        await arena.service.vote(battle_id, STRANGER, "tie")
    await arena.service.vote(battle_id, OWNER, "model_b")
    with pytest.raises(VoteConflict, match="already has a vote"):
        await arena.service.vote(battle_id, OWNER, "tie")
    assert arena.logged(battle_id).winner == "model_b"
