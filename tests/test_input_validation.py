"""Bad input harms no one: every text field a rater sends is checked before anything is stored
(a 422 `invalid_field` naming the field and the reason), and a record the database refuses
anyway (a model's output) fails that one vote while the others in its group commit are
committed. Runs on SQLite and PostgreSQL (`backend_arena`), with the session's Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3

import pytest
from fixtures.battle_service import RuleArena

from arena.battles.checks import InvalidField
from arena.errors import BadInput
from arena.store.log import RecordRefused

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER = "owner-session"


async def nothing_was_stored(arena: RuleArena) -> bool:
    """No battle in SQL and none in Redis under this arena's prefix."""
    in_redis = await arena.live.client.keys(f"{arena.prefix}battle:*")
    return arena.log.count_battles() == 0 and not in_redis


@pytest.mark.parametrize(("text", "reason"), [
    ("Hello\x00there", "a NUL character at position 5"),
    ("Hello \ud800", "a lone surrogate"),
    ("Hello \x1b[31mred", "the control character U+001B"),
    ("Bell\x07", "the control character U+0007"),
    ("C1 \x85 control", "the control character U+0085"),
])
async def test_a_prompt_with_a_forbidden_character_is_refused_before_anything_is_stored(
    backend_arena: RuleArena, text: str, reason: str
):
    with pytest.raises(InvalidField, match="prompt contains") as refused:
        await backend_arena.service.start(OWNER, text)
    assert reason in refused.value.message and "remove it" in refused.value.message
    assert (refused.value.status, refused.value.code) == (422, "invalid_field")
    assert await nothing_was_stored(backend_arena)


async def test_tabs_and_line_breaks_are_fine_in_a_prompt(backend_arena: RuleArena):
    battle_id, _ = await backend_arena.battle(OWNER, "Line one\r\n\tLine two\nLine three")
    await backend_arena.service.vote(battle_id, OWNER, "tie")
    assert backend_arena.logged(battle_id).turns[0].prompt.startswith("Line one\r\n\t")


async def test_a_follow_up_prompt_is_checked_the_same_way(backend_arena: RuleArena):
    battle_id, _ = await backend_arena.battle(OWNER)
    with pytest.raises(InvalidField, match="follow-up prompt contains a NUL"):
        await backend_arena.service.continue_battle(battle_id, OWNER, "more\x00")
    await backend_arena.service.vote(battle_id, OWNER, "model_a")
    assert len(backend_arena.logged(battle_id).turns) == 1


async def test_category_must_be_one_of_the_configured_ones(make_arena, battle_log_url: str):
    arena = make_arena(db_url=battle_log_url, categories=("coding", "writing"))
    for category, reason in [("poetry", "is not one of 'coding', 'writing'"),
                             ("coding\ud800", "lone surrogate"),
                             ("coding\x00", "NUL"),
                             ("x" * 50_000_000, "50000000 characters; the limit is 128")]:
        with pytest.raises(InvalidField, match="category") as refused:
            await arena.service.start(OWNER, "Hello?", category=category)
        assert reason in refused.value.message
        assert len(refused.value.message) < 300  # the refusal never echoes the field back
    assert await nothing_was_stored(arena)
    battle_id, _ = await arena.battle(OWNER, category="coding")
    await arena.service.vote(battle_id, OWNER, "tie")
    assert arena.logged(battle_id).category == "coding"


async def test_with_no_categories_configured_a_category_is_refused(backend_arena: RuleArena):
    with pytest.raises(InvalidField, match="this arena has no categories; leave it out"):
        await backend_arena.service.start(OWNER, "Hello?", category="coding")
    assert await nothing_was_stored(backend_arena)


async def test_a_refused_field_does_not_count_against_the_rate_limit(make_arena):
    arena = make_arena(battles_per_minute=1)
    for _ in range(5):
        with pytest.raises(InvalidField):
            await arena.service.start(OWNER, "bad\x00")
    battle_id, _ = await arena.battle(OWNER)  # the one battle of this minute
    assert battle_id


async def test_winner_models_mode_ids_and_keys_are_checked(backend_arena: RuleArena):
    service = backend_arena.service
    battle_id, _ = await backend_arena.battle(OWNER)
    with pytest.raises(BadInput, match="winner 'model_a\\\\x00' is not one of"):
        await service.vote(battle_id, OWNER, "model_a\x00")
    with pytest.raises(InvalidField, match="battle_id '../etc/passwd' is not an id"):
        await service.vote("../etc/passwd", OWNER, "tie")
    with pytest.raises(InvalidField, match="battle_id has 10000 characters"):
        await service.reveal("a" * 10_000, OWNER)
    with pytest.raises(InvalidField, match="idempotency_key contains the control"):
        await service.vote(battle_id, OWNER, "tie", idempotency_key="key\x7f")
    with pytest.raises(InvalidField, match="models contains a tab or line break at position 5"):
        await service.start(OWNER, "Hi", mode="named", models=("alpha\n", "bravo"))
    with pytest.raises(BadInput, match=r"mode 'xxxx.*\(100000 chars\) is not"):
        await service.start(OWNER, "Hi", mode="x" * 100_000)
    assert (await service.vote(battle_id, OWNER, "tie")).winner == "tie"
    assert backend_arena.log.count_battles() == 1


# ------------------------------------------------------------- what the database refuses anyway
@contextlib.contextmanager
def database_refusing_prompts_with(arena: RuleArena, word: str):
    """Make this database refuse a record whose prompt holds `word`, as PostgreSQL refuses a
    NUL: on SQLite a trigger aborts the turn's insert; on PostgreSQL the caller puts a NUL in
    the model's output instead, which it refuses by itself."""
    if not arena.settings.db_url.startswith("sqlite"):
        yield "\x00"
        return
    with contextlib.closing(sqlite3.connect(arena.db_path)) as db:
        db.execute(f"CREATE TRIGGER refuse_word BEFORE INSERT ON turn WHEN instr(NEW.prompt, "
                   f"'{word}') > 0 BEGIN SELECT RAISE(ABORT, 'prompt refused'); END")
    yield ""


async def test_a_vote_whose_record_the_database_refuses_fails_alone(make_arena,
                                                                   battle_log_url: str):
    arena = make_arena(db_url=battle_log_url)
    if battle_log_url.startswith("sqlite"):
        arena.db_path = battle_log_url.removeprefix("sqlite:///")
    with database_refusing_prompts_with(arena, "poison") as bad_output:
        arena.models.script("alpha", deltas=("A NUL from the model:", bad_output or "."))
        poisoned, _ = await arena.battle(OWNER, "poison")
        arena.models.script("alpha")
        others = [(await arena.battle(OWNER, f"Question {n}"))[0] for n in range(4)]
        outcomes = await asyncio.gather(
            *(arena.service.vote(b, OWNER, "model_b") for b in [poisoned, *others]),
            return_exceptions=True)
    assert isinstance(outcomes[0], RecordRefused) and poisoned in str(outcomes[0])
    assert [reveal.winner for reveal in outcomes[1:]] == ["model_b"] * 4
    assert arena.logged(poisoned) is None
    assert all(arena.logged(b).winner == "model_b" for b in others)
