"""Regenerate: new answers to the last prompt of a battle, from the same pair, on new seeds.

The turn replaced goes to the battle's `discarded_turns` (each generation with its own seed
and parameters, so a regenerated battle replays exactly); the conversations go back to before
it, and the same prompt streams again. The vote counts for the answers shown last. A battle is
regenerated at most `[arena] max_regenerations` times, only while it is ready (not while it
streams, not after the vote, not once failed); each Regenerate counts against the rater's new
battles per minute, as a new battle would (it costs the models as much).

The seeds are new when the models' seed policy draws one per request (the default, "random";
with `seed_policy = "fixed"` a Regenerate asks again with the same seed).
"""

from __future__ import annotations

from typing import Any

from arena.battles.state import GENERATING, READY, REPLAY_ONLY, SIDES, closed_reason
from arena.errors import VoteConflict

STILL_STREAMING = ("both answers are still streaming; stop them or wait until they finish, "
                   "then regenerate")


def check_regenerable(state: dict[str, Any], limit: int) -> None:
    """Raise VoteConflict, saying why, unless the battle's last turn may be regenerated."""
    if state["mode"] == "replay":
        raise VoteConflict(REPLAY_ONLY)
    if state["status"] == GENERATING:
        raise VoteConflict(STILL_STREAMING)
    if state["status"] != READY:
        raise VoteConflict(closed_reason(state))
    if not state["turns"]:
        raise VoteConflict("this battle has no answers to regenerate yet")
    used = len(state.get("discarded_turns") or ())
    if limit < 1:
        raise VoteConflict("this arena does not regenerate answers; vote or start a new round")
    if used >= limit:
        raise VoteConflict(f"these answers were regenerated {used} times, the limit of this "
                           "arena; vote on them or start a new round")


def discard_last_turn(state: dict[str, Any]) -> str:
    """Move the last turn to `discarded_turns` and set the conversations back to before it;
    returns its prompt (to be sent again)."""
    turn = state["turns"].pop()
    state.setdefault("discarded_turns", []).append(turn)
    for side in SIDES:
        # The messages a generation was sent: the conversation before it and the prompt.
        state[f"conversation_{side}"] = list(turn[f"generation_{side}"]["messages"][:-1])
    return turn["prompt"]
