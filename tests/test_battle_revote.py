"""The battle rules of a re-voting arena (`arena serve --replay`), in-process: logged battles
shown again on new sides, voted through the ordinary rules (tests/fixtures/battle_service.py).
The same arena over a real server is tested in tests/test_revote_api.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from factories import make_battle
from fixtures.battle_service import RuleArena, drain, kinds

from arena.battles.sampling import assign_sides
from arena.errors import BadInput, NotYourBattle, Unavailable, VoteConflict
from arena.live.embedded import EmbeddedRedis

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER, STRANGER = "revote-owner", "revote-stranger"


def logged_battles(count: int) -> list:
    return [make_battle(turn_count=1 + i % 2, model_a="left-model", model_b="right-model",
                        outputs=[f"answer {i} " * 20]) for i in range(count)]


@pytest.fixture
def revote_arena(make_arena) -> RuleArena:
    return make_arena(logged=logged_battles(3))


async def shown_and_left(arena: RuleArena, battle_id: str, stream) -> str:
    """Watch the whole stream, leave the battle; the logged battle it showed."""
    await drain(stream)
    assert await arena.service.end(battle_id, OWNER) is True
    return arena.logged(battle_id).replay_of


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
    assert record.end_reason == "disconnected_mid_turn"
    assert record.replay_of in revote_arena.service.replay.pool.battles
    with pytest.raises(VoteConflict, match="ended"):
        await revote_arena.service.vote(battle_id, OWNER, "tie")
    assert await revote_arena.service.replay.votes() == {}
    # Shown once is shown, even half-way: the next battle is another logged one.
    following, stream = await revote_arena.service.start_replay(OWNER)
    assert await shown_and_left(revote_arena, following, stream) != record.replay_of


async def test_tabs_of_one_rater_racing_for_the_next_battle_never_get_the_same_one(make_arena):
    """As many tabs as logged battles ask at once: each gets a different one (one tab's pick
    lost to another's is picked again), and the next ask finds none left."""
    tabs = 8
    arena = make_arena(logged=logged_battles(tabs))
    started = await asyncio.gather(*(arena.service.start_replay(OWNER) for _ in range(tabs)))
    shown = [await shown_and_left(arena, battle_id, stream) for battle_id, stream in started]
    assert sorted(shown) == sorted(arena.service.replay.pool.battles)
    with pytest.raises(Unavailable, match="seen every battle"):
        await arena.service.start_replay(OWNER)


async def test_with_redis_down_no_replay_starts_a_shown_one_is_voted_and_redis_is_rebuilt(
    make_arena, tmp_path: Path
):
    """Who saw what and the re-vote counts live in Redis; when it comes back empty they are
    rebuilt from SQL, so the rater is not shown the battle voted during the outage again."""
    redis = EmbeddedRedis(data_dir=tmp_path / "redis-before").start()
    try:
        arena = make_arena(redis_url=redis.url, logged=logged_battles(2))
        battle_id, stream = await arena.service.start_replay(OWNER)
        await drain(stream)
        redis.kill()
        with pytest.raises(Unavailable, match="Redis"):
            await arena.service.start_replay(OWNER)
        reveal = await arena.service.vote(battle_id, OWNER, "model_a")
        voted = arena.logged(battle_id)
        assert (voted.mode, voted.winner) == ("replay", reveal.winner) == ("replay", "model_a")
        redis = EmbeddedRedis(port=redis.port, data_dir=tmp_path / "redis-after").start()
        other = await shown_and_left(arena, *await arena.service.start_replay(OWNER))
        assert {other, voted.replay_of} == set(arena.service.replay.pool.battles)
        assert await arena.service.replay.votes() == {voted.replay_of: 1}
        with pytest.raises(Unavailable, match="seen every battle"):
            await arena.service.start_replay(OWNER)
    finally:
        redis.stop()
