"""A vote's idempotency key: a retry of the same vote after its answer was lost gets the same
reveal, not "already voted"; a different vote is still refused. Runs on SQLite and PostgreSQL
(`backend_arena`) with the session's Redis and the real group-commit writer.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from fixtures.battle_service import RuleArena

from arena.errors import NotYourBattle, VoteConflict
from arena.record import BattleRecord
from arena.store import BattleLog
from arena.store.group_writer import GroupWriter

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER, STRANGER = "owner-session", "stranger-session"


async def test_a_retry_with_the_same_key_gets_the_same_reveal(backend_arena: RuleArena):
    service = backend_arena.service
    battle_id, _ = await backend_arena.battle(OWNER)
    first = await service.vote(battle_id, OWNER, "model_a", idempotency_key="click-1")
    # The answer was lost on the way back: the client sends the same vote again.
    again = await service.vote(battle_id, OWNER, "model_a", idempotency_key="click-1")
    assert again == first and first.winner == "model_a"
    assert backend_arena.log.count_battles() == 1
    assert (await backend_arena.live.pair_counts())[frozenset(("alpha", "bravo"))] == 1


async def test_another_key_or_none_on_a_voted_battle_is_still_refused(backend_arena: RuleArena):
    service = backend_arena.service
    battle_id, _ = await backend_arena.battle(OWNER)
    await service.vote(battle_id, OWNER, "tie", idempotency_key="first")
    with pytest.raises(VoteConflict, match="already has a vote"):
        await service.vote(battle_id, OWNER, "model_b", idempotency_key="second")
    with pytest.raises(VoteConflict, match="already has a vote"):
        await service.vote(battle_id, OWNER, "model_b")
    assert backend_arena.logged(battle_id).winner == "tie"


async def test_the_key_is_per_battle_and_per_rater(backend_arena: RuleArena):
    service = backend_arena.service
    battle_id, _ = await backend_arena.battle(OWNER)
    other_id, _ = await backend_arena.battle(OWNER)
    await service.vote(battle_id, OWNER, "model_a", idempotency_key="same-key")
    with pytest.raises(NotYourBattle):
        await service.vote(battle_id, STRANGER, "model_a", idempotency_key="same-key")
    # The same key on another battle is another vote, recorded as such.
    assert (await service.vote(other_id, OWNER, "model_b", idempotency_key="same-key")
            ).winner == "model_b"
    assert backend_arena.log.count_battles() == 2


def writer_that_loses_its_first_answer(log: BattleLog) -> GroupWriter:
    """The real group-commit writer whose first batch is committed and whose answer is then
    lost (as when the writer process dies between its commit and its reply)."""
    lost: list[bool] = []

    def commit_then_lose(records: Sequence[BattleRecord]) -> list[Exception | None]:
        outcomes = log.record_battles(records)
        if not lost:
            lost.append(True)
            raise ConnectionResetError("the writer's answer was lost after its commit")
        return outcomes

    return GroupWriter(log, sink=commit_then_lose)


async def test_a_vote_committed_whose_answer_was_lost_is_answered_on_retry(
    make_arena, battle_log_url: str
):
    arena = make_arena(db_url=battle_log_url, writer=writer_that_loses_its_first_answer)
    battle_id, _ = await arena.battle(OWNER)
    with pytest.raises(ConnectionResetError):
        await arena.service.vote(battle_id, OWNER, "model_b", idempotency_key="k-1")
    assert arena.logged(battle_id).winner == "model_b"  # it was committed all the same
    with pytest.raises(VoteConflict, match="already has a vote"):
        await arena.service.vote(battle_id, OWNER, "model_b", idempotency_key="k-2")
    reveal = await arena.service.vote(battle_id, OWNER, "model_b", idempotency_key="k-1")
    assert (reveal.battle_id, reveal.winner) == (battle_id, "model_b")
    assert {reveal.model_a, reveal.model_b} == {"alpha", "bravo"}
    # The retry settled what the lost answer never did: the pair is counted once, and the
    # next retry is answered from Redis.
    assert (await arena.live.pair_counts())[frozenset(("alpha", "bravo"))] == 1
    assert await arena.service.vote(battle_id, OWNER, "model_b", idempotency_key="k-1") == reveal
    assert arena.log.count_battles() == 1


async def test_without_a_key_a_lost_answer_still_meets_already_voted(make_arena):
    arena = make_arena(writer=writer_that_loses_its_first_answer)
    battle_id, _ = await arena.battle(OWNER)
    with pytest.raises(ConnectionResetError):
        await arena.service.vote(battle_id, OWNER, "tie")
    with pytest.raises(VoteConflict, match="already has a vote"):
        await arena.service.vote(battle_id, OWNER, "tie")
    assert arena.logged(battle_id).winner == "tie"
