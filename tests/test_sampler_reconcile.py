"""Redis and SQL agree: the sampler's per-pair vote counts in Redis are repaired from the SQL
log by `BattleService.reconcile_pair_counts` (the runtime calls it every few minutes), not only
when Redis lost them all. The blip is real: Redis pauses its writes (CLIENT PAUSE WRITE) right
after the vote's SQL commit, so the count update times out while the "counts built" marker
stays; closing the service waits for the record of a battle being abandoned.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import redis
from fixtures.battle_service import RuleArena

from arena.battles.sampling import count_drift
from arena.live.encoding import pair_field
from arena.record import BattleRecord
from arena.store import BattleLog
from arena.store.group_writer import GroupWriter

PAIR = frozenset(("alpha", "bravo"))
OWNER = "owner-session"
on_the_session_loop = pytest.mark.asyncio(loop_scope="session")


def test_count_drift_is_truth_minus_observed_over_unordered_pairs():
    truth = {("a", "b"): 3, ("b", "a"): 2, ("a", "c"): 1}
    observed = {frozenset(("a", "b")): 4, frozenset(("b", "c")): 2, frozenset(("a", "c")): 1}
    assert count_drift(truth, observed) == {frozenset(("a", "b")): 1,
                                            frozenset(("b", "c")): -2}
    assert count_drift(truth, {frozenset(("a", "b")): 5, frozenset(("a", "c")): 1}) == {}


def pausing_redis_after_the_commit(redis_url: str):
    """A writer factory: the real group-commit writer, whose first commit is followed by a
    Redis blip (its writes paused for 10 s), before the service can count the vote."""
    paused: list[bool] = []

    def make(log: BattleLog) -> GroupWriter:
        def commit_then_blip(records: Sequence[BattleRecord]) -> list[Exception | None]:
            outcomes = log.record_battles(records)
            if not paused:
                paused.append(True)
                with redis.Redis.from_url(redis_url) as client:
                    client.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")
            return outcomes

        return GroupWriter(log, sink=commit_then_blip)

    return make


@on_the_session_loop
async def test_counts_left_low_by_a_blip_after_the_commit_are_repaired(make_arena,
                                                                      redis_url: str):
    arena: RuleArena = make_arena(writer=pausing_redis_after_the_commit(redis_url))
    await arena.live.rebuild_pair_counts({})  # as the runtime does at start: marker set
    battle_id, _ = await arena.battle(OWNER)
    try:
        reveal = await arena.service.vote(battle_id, OWNER, "model_a")  # the count times out
    finally:
        with redis.Redis.from_url(redis_url) as client:
            client.execute_command("CLIENT", "UNPAUSE")
    assert reveal.winner == arena.logged(battle_id).winner == "model_a"
    others = [(await arena.battle(OWNER))[0] for _ in range(2)]
    for other in others:
        await arena.service.vote(other, OWNER, "tie")
    # One vote short in Redis for good: the marker says the counts were built.
    assert await arena.live.pair_counts_built()
    assert (await arena.live.pair_counts()).get(PAIR) == 2
    assert arena.log.pair_counts(mode="anonymous", status="voted") != {}

    assert await arena.service.reconcile_pair_counts() == {PAIR: 1}
    assert (await arena.live.pair_counts()) == {PAIR: 3}
    assert await arena.service.reconcile_pair_counts() == {}  # they agree now


@on_the_session_loop
async def test_counts_a_flush_lost_are_rebuilt_and_too_high_ones_lowered(arena: RuleArena):
    for _ in range(2):
        battle_id, _ = await arena.battle(OWNER)
        await arena.service.vote(battle_id, OWNER, "model_b")
    await arena.live.client.delete(arena.live.key("pair_counts"))
    assert await arena.service.reconcile_pair_counts() == {PAIR: 2}
    await arena.live.client.hincrby(arena.live.key("pair_counts"), pair_field("alpha", "bravo"), 5)
    assert await arena.service.reconcile_pair_counts() == {PAIR: -5}
    assert (await arena.live.pair_counts()) == {PAIR: 2}


@on_the_session_loop
async def test_closing_the_service_waits_for_an_abandoned_battles_record(arena: RuleArena):
    arena.models.script("alpha", ending="stall", after=1)
    battle_id, stream = await arena.service.start(OWNER, "Tell me a long story.")
    assert (await anext(stream)).kind == "battle"
    assert (await anext(stream)).kind == "delta"  # both sides are generating
    await stream.aclose()  # the client left mid-stream: a background task logs the battle
    await arena.service.aclose()  # shutdown: the writer closes only once that record is in
    record = arena.logged(battle_id)
    assert record is not None and record.status == "abandoned"
    assert record.end_reason == "disconnected_mid_turn"
