"""The rater's reason for a vote, in-process: the real `BattleService` over scripted models, a
SQL log (SQLite, and PostgreSQL where the outcome depends on the database) and the session's
Redis (tests/fixtures/battle_service.py). Only the rater who voted, only after the vote, only
configured tags, a capped comment, once; stored on the vote row and exported with it.
"""

from __future__ import annotations

import asyncio

import pytest
from fixtures.battle_service import RuleArena

from arena.battles.after_vote import NO_VOTE, REASON_GIVEN, VOTE_FIRST
from arena.battles.checks import InvalidField
from arena.errors import BadInput, BattleNotFound, NotYourBattle, VoteConflict
from arena.record import BattleRecord

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER, STRANGER = "reason-owner", "reason-stranger"
TAGS = ("more accurate", "better written", "followed instructions", "safer")


async def voted(arena: RuleArena, winner: str = "model_a") -> str:
    battle_id, _ = await arena.battle(OWNER, "Why is the sky blue?")
    await arena.service.vote(battle_id, OWNER, winner)
    return battle_id


async def test_a_reason_is_stored_on_the_vote_and_exported(backend_arena: RuleArena):
    arena = backend_arena
    assert arena.service.reason_tags == TAGS  # the configured tags (here the defaults)
    battle_id = await voted(arena)
    await arena.service.set_reason(battle_id, OWNER, ["safer", "more accurate", "safer"],
                                   "  Clearer, and it cited a source.  ")
    record = arena.logged(battle_id)
    assert record.reason_tags == ["more accurate", "safer"]  # sorted, once each
    assert record.reason_comment == "Clearer, and it cited a source."
    assert record.winner == "model_a"
    exported = [r.to_dict() for r in arena.log.iter_battles()]
    assert exported[0]["reason_tags"] == ["more accurate", "safer"]
    assert BattleRecord.from_dict(exported[0]).reason_comment == record.reason_comment
    with pytest.raises(VoteConflict, match=REASON_GIVEN):
        await arena.service.set_reason(battle_id, OWNER, ["better written"], None)
    assert arena.logged(battle_id).reason_tags == ["more accurate", "safer"]


async def test_two_reasons_at_once_keep_exactly_one(backend_arena: RuleArena):
    arena = backend_arena
    battle_id = await voted(arena)

    async def give(tag: str) -> str:
        try:
            await arena.service.set_reason(battle_id, OWNER, [tag], None)
        except VoteConflict:
            return "refused"
        return tag

    outcomes = await asyncio.gather(*(give(tag) for tag in TAGS))
    stored = [outcome for outcome in outcomes if outcome != "refused"]
    assert len(stored) == 1 and arena.logged(battle_id).reason_tags == stored


async def test_only_the_rater_who_voted_gives_a_reason_after_the_vote(make_arena):
    first = make_arena()
    second = make_arena(like=first)  # another worker
    battle_id, _ = await first.battle(OWNER)
    with pytest.raises(VoteConflict, match=VOTE_FIRST):
        await first.service.set_reason(battle_id, OWNER, ["safer"], None)
    with pytest.raises(NotYourBattle):
        await first.service.set_reason(battle_id, STRANGER, ["safer"], None)
    await first.service.vote(battle_id, OWNER, "tie")
    with pytest.raises(NotYourBattle):
        await second.service.set_reason(battle_id, STRANGER, ["safer"], None)
    with pytest.raises(BattleNotFound):
        await second.service.set_reason("f" * 32, OWNER, ["safer"], None)
    await second.service.set_reason(battle_id, OWNER, [], "Both fine.")  # any worker
    assert first.logged(battle_id).reason_comment == "Both fine."

    abandoned, _ = await first.battle(OWNER)
    await first.service.end(abandoned, OWNER)
    with pytest.raises(VoteConflict, match=NO_VOTE):
        await first.service.set_reason(abandoned, OWNER, ["safer"], None)


async def test_tags_come_from_the_config_and_the_comment_is_capped(make_arena):
    arena = make_arena(reason_tags=("clearer", "shorter"), reason_comment_chars=20)
    battle_id = await voted(arena)
    refusals = [
        (["more accurate"], None, InvalidField, "'clearer', 'shorter'"),
        ("clearer", None, InvalidField, "list of tags"),
        (["clearer"], "x" * 21, InvalidField, "the limit is 20"),
        (["clearer"], "bad\x00byte", InvalidField, "NUL"),
        ([], "   ", BadInput, "at least one tag or a comment"),
        (None, None, BadInput, "at least one tag or a comment"),
    ]
    for tags, comment, error, words in refusals:
        with pytest.raises(error, match=words):
            await arena.service.set_reason(battle_id, OWNER, tags, comment)
    assert arena.logged(battle_id).reason_tags == []  # nothing refused was stored
    await arena.service.set_reason(battle_id, OWNER, ["shorter"], "x" * 20)
    assert arena.logged(battle_id).reason_tags == ["shorter"]
