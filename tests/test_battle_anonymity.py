"""Nothing before the vote tells the models apart but the text (issue #13, point 4).

In-process, over the real `BattleService` with scripted models (tests/fixtures/battle_service.py):
the events of a battle hold only allowed fields, a failing side's error reads the same whichever
model failed and however, and with `lockstep_streaming` both sides' text is released in step,
in an order that does not show which model was faster. The lockstep release policy on its own,
on a simulated clock, is tested in tests/test_battle_anonymity_lockstep.py.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from factories import make_battle
from fixtures.battle_service import RuleArena, drain, kinds

from arena.battles import BattleEvent
from arena.battles.checks import SIDE_FAILED

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER = "anonymity-owner"
# Every field an event may carry before the vote, by kind. A new field or kind fails the test
# on purpose: add it here only if it cannot tell the two models apart.
ALLOWED = {
    "battle": {"kind", "side", "text", "battle_id"},
    "turn": {"kind", "side", "text", "index"},
    "delta": {"kind", "side", "text"},
    "done": {"kind", "side", "text"},
    "error": {"kind", "side", "text"},
    "ready": {"kind", "side", "text"},
    "failed": {"kind", "side", "text"},
    "stopped": {"kind", "side", "text", "votable"},
}
# What no event may say, beyond the text the models wrote (names, served ids, endpoints, what a
# scripted record holds: finish reason, the error it was given).
TELLS = ("alpha", "bravo", "scripted.invalid", "http", "stop", "500", "timed out", "peer closed")
ALPHA_TEXT = ("The river ", "runs down ", "to the sea, ", "past fields ", "and towns, ",
              "and on.")
BRAVO_TEXT = ("Water moves slowly ", "through the valley; ", "it carries silt ",
              "and light ", "and the sound of rain ", "all the way ", "to the coast.")


def assert_only_allowed(events: list[BattleEvent]) -> None:
    for event in events:
        fields = event.to_dict()
        assert event.kind in ALLOWED, f"new event kind {event.kind!r} before the vote"
        assert set(fields) == ALLOWED[event.kind], f"{event.kind} carries {sorted(fields)}"
        assert event.side in ("a", "b", None)
        if "battle_id" in fields:
            # Random hex: it may hold "500" by chance, so it is checked for its form instead.
            assert re.fullmatch(r"[0-9a-f]{32}", fields["battle_id"]), fields
        said = {key: value for key, value in fields.items()
                if not (key == "text" and event.kind in ("delta", "turn")) and key != "battle_id"}
        for tell in TELLS:
            assert tell not in repr(said).lower(), f"{event.kind} event says {tell!r}: {said}"


@pytest.mark.parametrize("lockstep", [False, True])
async def test_battle_events_carry_only_the_allowed_fields(make_arena, lockstep):
    arena = make_arena(lockstep_streaming=lockstep)
    battle_id, events = await arena.battle(OWNER, "Describe a river.")
    events += await arena.follow_up(battle_id, OWNER, "And a lake?")
    assert kinds(events) == ["battle", "done", "done", "ready", "done", "done", "ready"]
    arena.models.script("bravo", ending="error", after=2)
    _, failed = await arena.battle(OWNER, "Once more.", mode="named", models=("bravo", "alpha"))
    assert "error" in kinds(failed) and kinds(failed)[-1] == "failed"
    assert_only_allowed(events + failed)


async def test_a_replayed_battle_carries_only_the_allowed_fields(make_arena):
    arena = make_arena(logged=[make_battle(turn_count=2, model_a="alpha", model_b="bravo")])
    battle_id, stream = await arena.service.start_replay(OWNER)
    events = await drain(stream)
    assert kinds(events) == ["battle", "turn", "done", "done", "turn", "done", "done", "ready"]
    assert_only_allowed(events)
    await arena.service.vote(battle_id, OWNER, "tie")
    assert arena.logged(battle_id).turns[0].generation_a.finish_reason == "stop"  # kept there


@pytest.mark.parametrize("lockstep", [False, True])
async def test_a_failing_side_reads_the_same_whichever_model_failed_and_however(
    make_arena, lockstep
):
    arena = make_arena(lockstep_streaming=lockstep)
    failures = [
        {"ending": "error", "error": "HTTP 500 from http://10.0.0.7:8001/v1: CUDA out of memory"},
        {"ending": "error", "error": "timed out: no first token after 60 s"},
        {"ending": "raise"},
        {"ending": "disconnect"},
    ]
    seen: set[tuple[str, str]] = set()
    for failing in ("alpha", "bravo"):
        other = "bravo" if failing == "alpha" else "alpha"
        for failure in failures:
            arena.models.scripts.clear()
            arena.models.script(failing, after=1, **failure)
            for pair in ((failing, other), (other, failing)):
                battle_id, events = await arena.battle(OWNER, "Fail?", mode="named",
                                                       models=pair)
                errors = [e for e in events if e.kind == "error"]
                assert [e.side for e in errors] == ["a" if pair[0] == failing else "b"]
                seen |= {(e.text, e.kind) for e in errors + events[-1:]}
                side = "a" if pair[0] == failing else "b"
                logged = getattr(arena.logged(battle_id).turns[0], f"generation_{side}")
                assert logged.error  # the full error stays in the record
    assert {text for text, kind in seen if kind == "error"} == {SIDE_FAILED}
    assert len({text for text, kind in seen if kind == "failed"}) == 1


def released_lengths(events: list[BattleEvent]) -> list[tuple[dict[str, int], set[str]]]:
    """After each event: characters released per side, and the sides already done."""
    lengths, done, after = {"a": 0, "b": 0}, set(), []
    for event in events:
        if event.kind == "delta":
            lengths[event.side] += len(event.text)
        if event.kind in ("done", "error"):
            done.add(event.side)
        after.append((dict(lengths), set(done)))
    return after


@pytest.mark.parametrize("fast", ["alpha", "bravo"])
async def test_lockstep_keeps_the_released_lengths_within_one_unit(make_arena, fast):
    arena = make_arena(lockstep_streaming=True)
    unit = arena.service.turns.pacing.unit_chars
    arena.models.script("alpha", deltas=ALPHA_TEXT, delay_s=0.0 if fast == "alpha" else 0.004)
    arena.models.script("bravo", deltas=BRAVO_TEXT, delay_s=0.0 if fast == "bravo" else 0.004)
    battle_id, events = await arena.battle(OWNER, "Rivers.", mode="named",
                                           models=("alpha", "bravo"))
    assert kinds(events) == ["battle", "done", "done", "ready"]
    checked = 0
    for lengths, done in released_lengths(events):
        if not done:
            assert abs(lengths["a"] - lengths["b"]) <= unit, lengths
            checked += 1
    assert checked > 2 * len("".join(ALPHA_TEXT)) // unit
    assert all(len(e.text) <= unit for e in events if e.kind == "delta")
    record = arena.logged(battle_id) or await vote_and_get(arena, battle_id)
    for side in ("a", "b"):
        shown = "".join(e.text for e in events if e.kind == "delta" and e.side == side)
        assert shown == getattr(record.turns[0], f"generation_{side}").output


async def vote_and_get(arena: RuleArena, battle_id: str) -> Any:
    await arena.service.vote(battle_id, OWNER, "tie")
    return arena.logged(battle_id)


async def run_speeds(arena: RuleArena, alpha_delay: float, bravo_delay: float
                     ) -> list[tuple[str, str | None, str]]:
    """One named battle (alpha left, bravo right) at these per-delta delays: its events."""
    arena.models.script("alpha", deltas=ALPHA_TEXT, delay_s=alpha_delay)
    arena.models.script("bravo", deltas=BRAVO_TEXT, delay_s=bravo_delay)
    _, events = await arena.battle(OWNER, "Rivers.", mode="named", models=("alpha", "bravo"))
    return [(e.kind, e.side, e.text) for e in events if e.kind != "battle"]


async def test_lockstep_hides_which_model_is_faster_and_off_does_not(make_arena):
    locked = make_arena(lockstep_streaming=True)
    assert await run_speeds(locked, 0.0, 0.005) == await run_speeds(locked, 0.005, 0.0)
    free = make_arena()
    fast_alpha, fast_bravo = await run_speeds(free, 0.0, 0.005), await run_speeds(free, 0.005, 0.0)
    assert fast_alpha != fast_bravo
    assert [s for k, s, _ in fast_alpha if k == "done"] == ["a", "b"]
    assert [s for k, s, _ in fast_bravo if k == "done"] == ["b", "a"]


async def test_with_lockstep_off_the_models_deltas_pass_unchanged(arena: RuleArena):
    arena.models.script("alpha", deltas=ALPHA_TEXT)
    arena.models.script("bravo", deltas=BRAVO_TEXT, delay_s=0.003)
    assert not arena.settings.lockstep_streaming
    _, events = await arena.battle(OWNER, "Rivers.", mode="named", models=("alpha", "bravo"))
    for side, script in (("a", ALPHA_TEXT), ("b", BRAVO_TEXT)):
        assert tuple(e.text for e in events if e.kind == "delta" and e.side == side) == script
    assert [e.side for e in events if e.kind == "done"] == ["a", "b"]


async def test_a_client_leaving_while_lockstep_holds_text_back_leaves_a_record(make_arena):
    arena = make_arena(lockstep_streaming=True)
    arena.models.script("alpha", ending="stall", after=1)  # "Hello": less than one unit
    battle_id, stream = await arena.service.start(OWNER, "Go on.", mode="named",
                                                  models=("alpha", "bravo"))
    assert (await anext(stream)).kind == "battle"
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(stream), 0.3)  # nothing is released: the tab closes
    record = await arena.wait_logged(battle_id)
    assert (record.status, record.end_reason) == ("abandoned", "disconnected_mid_turn")
    assert record.turns[0].generation_a.output == "Hello"
    assert record.turns[0].generation_b.output == "Hello from a model."
    arena.models.release()


async def test_a_failing_side_ends_the_lockstep_and_releases_what_was_held(make_arena):
    arena = make_arena(lockstep_streaming=True)
    arena.models.script("bravo", deltas=BRAVO_TEXT, ending="error", after=3)
    arena.models.script("alpha", deltas=("Short.",))
    battle_id, events = await arena.battle(OWNER, "Fail.", mode="named",
                                           models=("alpha", "bravo"))
    assert kinds(events)[-1] == "failed"
    turn = arena.logged(battle_id).turns[0]
    shown = {side: "".join(e.text for e in events if e.kind == "delta" and e.side == side)
             for side in ("a", "b")}
    assert shown == {"a": turn.generation_a.output, "b": turn.generation_b.output}
    assert shown["b"] == "".join(BRAVO_TEXT[:3])
