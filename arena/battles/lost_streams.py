"""A battle whose streaming worker is gone: its host died mid-turn.

The worker that streams a turn stamps the battle's state with its id (`streamer`, see
arena.live.presence) and the prompt it streams (`streaming_prompt`) when it saves the state as
generating (`arena.battles.state.mark_streaming`); the turn's end clears both. If that worker
dies mid-turn, nothing else would ever change the state: it would stay `generating` in Redis
until `battle_ttl_s`, a vote would be told that both answers must finish (they never will),
and the expiry sweep that logs idle battles ran in the dead process.

So a vote, follow-up, Regenerate or Stop that finds a battle generating looks at its streamer's
presence. When the streamer is gone, the battle is ended as abandoned with end_reason
``host_lost`` (its record has the lost turn: the prompt, both generations with the error
below and no text, since the text streamed is lost with the host), and the rater is told what
happened (409 `stream_lost`). A state without `streamer` (saved by an older arena) is left
as it was.
"""

from __future__ import annotations

import logging
from typing import Any

from arena.battles.running import RunningBattles
from arena.battles.state import GENERATING, SIDES, clear_streaming
from arena.battles.streaming import failed_record
from arena.errors import VoteConflict
from arena.live import LiveStateUnavailable
from arena.live.presence import WorkerPresence
from arena.record import Turn

log = logging.getLogger(__name__)

HOST_LOST = "host_lost"  # the end_reason of such a battle
STREAM_LOST = ("the server that was streaming this battle stopped before both answers "
               "finished; start a new round")


class StreamLost(VoteConflict):
    """The worker streaming this battle is gone; the battle was ended."""

    code = "stream_lost"


class HostLost(ConnectionAbortedError):
    """What each generation of a lost turn records as its error."""


async def stream_lost(state: dict[str, Any], presence: WorkerPresence) -> bool:
    """Whether the battle is generating on a worker that is gone (False when Redis cannot
    tell: a live stream is never ended on a guess)."""
    streamer = state.get("streamer")
    if state.get("status") != GENERATING or not streamer:
        return False
    try:
        return await presence.gone(streamer)
    except LiveStateUnavailable:
        return False


def append_lost_turn(state: dict[str, Any]) -> None:
    """Add the turn that was streaming to the state's turns: its prompt, and for each side
    the messages sent and the host's loss as the error."""
    prompt = state.get("streaming_prompt") or ""
    records = {side: failed_record(
        state, side, [*state[f"conversation_{side}"], {"role": "user", "content": prompt}],
        HostLost("the server streaming this battle stopped before the answer finished"))
        for side in SIDES}
    state["turns"].append(Turn(len(state["turns"]), prompt, records["a"],
                               records["b"]).to_dict())


async def refuse_if_stream_lost(state: dict[str, Any], presence: WorkerPresence,
                                battles: RunningBattles) -> None:
    """If the battle is generating on a worker that is gone: log it as abandoned (end_reason
    host_lost) and raise StreamLost. Otherwise return (the caller answers as before)."""
    if not await stream_lost(state, presence):
        return
    log.warning("battle %s was streaming on worker %s, which is gone; ending it as %s",
                state["battle_id"], state.get("streamer"), HOST_LOST)
    append_lost_turn(state)
    clear_streaming(state)
    await battles.abandon(state, HOST_LOST)
    raise StreamLost(STREAM_LOST)
