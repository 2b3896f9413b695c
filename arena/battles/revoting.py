"""A battle over a logged battle (`arena serve --replay FILE`): no model is called; the logged
turns are laid out on new sides and streamed, and the vote goes through the ordinary rules.

The battle rules need from a re-vote pool only what `RevoteSource` names; `arena.revote.pool`
implements it (the pool file, who saw what, votes per logged battle) on top of the core.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

from arena.battles.interface import BattleEvent
from arena.battles.running import RunningBattles
from arena.battles.sampling import assign_sides
from arena.battles.state import GENERATING, READY, SIDES, utcnow
from arena.battles.streaming import detach
from arena.record import BattleRecord, Turn


class PoolExhausted(LookupError):
    """This rater has been shown every battle of the pool."""


class RevoteSource(Protocol):
    """Where a re-voting arena takes its logged battles from."""

    def __len__(self) -> int:
        """How many logged battles the pool holds."""
        ...

    async def assign(self, rater: str) -> BattleRecord:
        """A logged battle `rater` was not shown yet, marked as shown.

        Raises PoolExhausted, or LiveStateUnavailable when Redis cannot be reached.
        """
        ...

    async def note_vote(self, original_id: str) -> None:
        """Count one re-vote of `original_id` (after it is durable in SQL)."""
        ...


def revote_sides(original: BattleRecord, side_seed: int) -> dict[str, Any]:
    """The fields of a re-vote battle's state: the original laid out by a fresh coin.

    The logged coin `assign_sides({model_a, model_b}, side_seed)` decides who is on the left,
    and everything attached to a side (system prompt, conversation, each turn's generation)
    moves with its model, so replaying `assign_sides` with the record's `side_seed` gives its
    (model_a, model_b) as for every record. Returns model_a/model_b, system_prompt_a/_b,
    conversation_a/_b, turns (as dicts) and `swapped` (True when the original's left model
    is now on the right).
    """
    left, _ = assign_sides((original.model_a, original.model_b), side_seed)
    swapped = left != original.model_a
    a, b = ("b", "a") if swapped else ("a", "b")
    turns = []
    for turn in original.turns:
        generation = {"a": turn.generation_a, "b": turn.generation_b}
        turns.append(Turn(turn.index, turn.prompt, generation[a], generation[b]).to_dict())
    return {
        "model_a": getattr(original, f"model_{a}"),
        "model_b": getattr(original, f"model_{b}"),
        "system_prompt_a": getattr(original, f"system_prompt_{a}"),
        "system_prompt_b": getattr(original, f"system_prompt_{b}"),
        "conversation_a": list(getattr(original, f"conversation_{a}")),
        "conversation_b": list(getattr(original, f"conversation_{b}")),
        "turns": turns,
        "swapped": swapped,
    }


def revote_state(battle_id: str, owner: str, original: BattleRecord,
                 side_seed: int) -> dict[str, Any]:
    """The state of a re-vote battle of `original` (logged with mode `replay`), ready to stream
    its logged turns."""
    shown = revote_sides(original, side_seed)
    return {
        "battle_id": battle_id,
        "owner": owner,
        "mode": "replay",
        "replay_of": original.battle_id,
        **{key: shown[key] for key in (
            "model_a", "model_b", "system_prompt_a", "system_prompt_b",
            "conversation_a", "conversation_b", "turns")},
        "status": GENERATING,
        # The outputs are the logged ones, so whatever flagged them still applies.
        "flags": list(original.flags),
        "pair_policy": "replay",
        "pair_probability": None,
        "side_seed": side_seed,
        "category": original.category,
        "language": original.language,
        "started_at": utcnow().isoformat(),
        "touched": time.time(),
    }


def text_chunks(text: str, size: int = 48) -> list[str]:
    """`text` in pieces of about `size` characters, cut after a space where one is near, so the
    UI fills the columns the way a stream would. Joining the pieces gives `text` back."""
    pieces, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            space = text.rfind(" ", start + size // 2, end)
            end = space + 1 if space >= 0 else end
        pieces.append(text[start:end])
        start = end
    return pieces


def logged_turn_events(turn: dict[str, Any]) -> list[BattleEvent]:
    """One logged turn as a stream: its prompt (`turn`), both sides' text interleaved, `done`."""
    events = [BattleEvent("turn", text=turn["prompt"], data={"index": turn["index"]})]
    chunks = {side: text_chunks(turn[f"generation_{side}"]["output"]) for side in SIDES}
    for index in range(max(len(chunks["a"]), len(chunks["b"]))):
        for side in SIDES:
            if index < len(chunks[side]):
                events.append(BattleEvent("delta", side, chunks[side][index]))
    # The logged records' finish reasons and token counts stay out: they would tell the
    # models apart before the vote.
    events.extend(BattleEvent("done", side) for side in SIDES)
    return events


async def stream_logged_turns(
    state: dict[str, Any], battles: RunningBattles
) -> AsyncIterator[BattleEvent]:
    """Send the logged turns as a stream, turn by turn; `ready` after the last. A client that
    leaves before the end leaves the battle abandoned."""
    yield BattleEvent("battle", data={"battle_id": state["battle_id"]})
    finished = False
    try:
        for turn in state["turns"]:
            for event in logged_turn_events(turn):
                yield event
        state["status"] = READY
        await battles.save(state, tolerate_outage=True)
        finished = True
        yield BattleEvent("ready")
    finally:
        if not finished:
            detach(battles.abandon(state, "disconnected_mid_turn"))
