"""The battle rules of a re-voting arena (`arena serve --replay`), in-process: logged battles
shown again on new sides, voted through the ordinary rules (tests/fixtures/battle_service.py).
The same arena over a real server is tested in tests/test_revote_api.py."""

from __future__ import annotations

import pytest
from factories import make_battle
from fixtures.battle_service import RuleArena, drain, kinds

from arena.battles.sampling import assign_sides
from arena.errors import BadInput, NotYourBattle, Unavailable, VoteConflict

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER, STRANGER = "revote-owner", "revote-stranger"


@pytest.fixture
def revote_arena(make_arena) -> RuleArena:
    originals = [make_battle(turn_count=1 + i % 2, model_a="left-model", model_b="right-model",
                             outputs=[f"answer {i} " * 20]) for i in range(3)]
    return make_arena(logged=originals)


async def test_a_logged_battle_is_streamed_on_new_sides_and_its_vote_logged_as_replay(
    revote_arena: RuleArena,
):
    battle_id, stream = await revote_arena.service.start_replay(OWNER)
    events = await drain(stream)
    assert kinds(events)[0] == "battle" and kinds(events)[-1] == "ready"
    await revote_arena.service.vote(battle_id, OWNER, "model_b")

    record = revote_arena.logged(battle_id)
    original = revote_arena.service.replay.pool.battles[record.replay_of]
    assert (record.mode, record.status, record.winner) == ("replay", "voted", "model_b")
    assert record.pair_policy == "replay" and record.pair_probability is None
    assert assign_sides((original.model_a, original.model_b), record.side_seed) == (
        record.model_a, record.model_b)
    assert [e.text for e in events if e.kind == "turn"] == [t.prompt for t in original.turns]
    old_side = "a" if record.model_a == original.model_a else "b"
    shown_left = "".join(e.text for e in events if e.kind == "delta" and e.side == "a")
    assert shown_left == "".join(getattr(t, f"generation_{old_side}").output
                                 for t in original.turns)
    assert await revote_arena.service.replay.votes() == {original.battle_id: 1}


async def test_prompts_and_follow_ups_are_refused_in_a_revoting_arena(revote_arena, arena):
    with pytest.raises(BadInput, match="replays logged battles"):
        await revote_arena.service.start(OWNER, "hi")
    battle_id, stream = await revote_arena.service.start_replay(OWNER)
    await drain(stream)
    with pytest.raises(VoteConflict, match="replays logged battles"):
        await revote_arena.service.continue_battle(battle_id, OWNER, "and then?")
    with pytest.raises(BadInput, match="not in replay mode"):
        await arena.service.start_replay(OWNER)


async def test_a_second_vote_and_a_vote_from_another_session_are_refused(
    revote_arena: RuleArena,
):
    battle_id, stream = await revote_arena.service.start_replay(OWNER)
    await drain(stream)
    with pytest.raises(NotYourBattle):
        await revote_arena.service.vote(battle_id, STRANGER, "model_a")
    await revote_arena.service.vote(battle_id, OWNER, "tie")
    with pytest.raises(VoteConflict, match="already has a vote"):
        await revote_arena.service.vote(battle_id, OWNER, "model_a")
    assert revote_arena.logged(battle_id).winner == "tie"


async def test_a_rater_is_shown_each_logged_battle_once_then_told_there_is_no_more(
    revote_arena: RuleArena,
):
    shown = set()
    for _ in range(3):
        battle_id, stream = await revote_arena.service.start_replay(OWNER)
        await drain(stream)
        assert await revote_arena.service.end(battle_id, OWNER) is True
        shown.add(revote_arena.logged(battle_id).replay_of)
    assert shown == set(revote_arena.service.replay.pool.battles)
    with pytest.raises(Unavailable, match="seen every battle"):
        await revote_arena.service.start_replay(OWNER)
    battle_id, _ = await revote_arena.service.start_replay(STRANGER)  # another rater: all new
    assert battle_id


async def test_a_client_that_leaves_a_replay_stream_leaves_an_abandoned_record(
    revote_arena: RuleArena,
):
    battle_id, stream = await revote_arena.service.start_replay(OWNER)
    assert [(await anext(stream)).kind for _ in range(2)] == ["battle", "turn"]
    await stream.aclose()
    record = await revote_arena.wait_logged(battle_id)
    assert (record.mode, record.status) == ("replay", "abandoned")
    assert record.end_reason == "disconnected_mid_turn" and record.replay_of
