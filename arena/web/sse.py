"""Battle events as a Server-Sent-Event stream, the answer of every route that streams.

Each event's `event:` is the BattleEvent kind and its `data:` the event as JSON
(`{"kind", "side", "text", ...}`). A refusal that happens once the stream has begun is sent as
a last `refused` event (`{"kind": "refused", "error": code, "detail": message}`), since the
status line is already out.

Every stream is sent before the vote, so nothing but the text may tell the two models apart.
This encoder does not trust the service to have left such things out: it forwards only the
fields in `public_event`'s allow-list (the text, the side, the battle id, a turn's logged
prompt) and replaces a side's error by one generic sentence. Token counts, finish reasons,
served ids, endpoints and error details never leave the server here, whatever an event holds.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Response
from fastapi.responses import StreamingResponse

from arena.battles import BattleEvent
from arena.battles.stopping import STOPPED_UNVOTABLE, STOPPED_VOTABLE
from arena.errors import ArenaError

SIDE_ERROR = "This side could not answer, so this battle cannot be voted."
BATTLE_FAILED = ("One of the models failed to answer, so this battle cannot be voted. "
                 "Please start a new round.")


def public_event(event: BattleEvent) -> dict[str, Any]:
    """What a rater may see of `event` before the vote: an allow-list per kind.

    `battle`: the id. `delta`: side and text. `turn` (re-vote): the logged prompt and its
    index. `done`: the side only. `error`: the side and SIDE_ERROR (a timeout or a refused
    connection would tell one deployment from another). `stopped` (the rater stopped the turn):
    `votable` and one of two fixed sentences. `failed`: BATTLE_FAILED, or STOPPED_UNVOTABLE
    after a stop that left a side without text. `ready` and any kind not listed: the kind only.
    """
    public: dict[str, Any] = {"kind": event.kind, "side": event.side, "text": ""}
    if event.kind == "battle":
        public["battle_id"] = str(event.data.get("battle_id", ""))
    elif event.kind in ("delta", "turn"):
        public["text"] = event.text
        if event.kind == "turn":
            index = event.data.get("index")
            public["index"] = index if isinstance(index, int) else None
    elif event.kind == "error":
        public["text"] = SIDE_ERROR
    elif event.kind == "stopped":
        votable = event.data.get("votable") is True
        public["text"] = STOPPED_VOTABLE if votable else STOPPED_UNVOTABLE
        public["votable"] = votable
    elif event.kind == "failed":
        public["text"] = STOPPED_UNVOTABLE if event.text == STOPPED_UNVOTABLE else BATTLE_FAILED
    if public["side"] not in ("a", "b"):
        public["side"] = None
    return public


async def event_stream(events: AsyncIterator[BattleEvent]) -> AsyncIterator[bytes]:
    """The SSE encoding of `events` (each through `public_event`), ending with a `refused`
    event if the service refuses."""
    try:
        async for event in events:
            payload = json.dumps(public_event(event), ensure_ascii=False)
            kind = event.kind if event.kind.isidentifier() else "message"
            yield f"event: {kind}\ndata: {payload}\n\n".encode()
    except ArenaError as refused:
        body = json.dumps({"kind": "refused", "error": refused.code,
                           "detail": refused.message})
        yield f"event: refused\ndata: {body}\n\n".encode()


def stream_response(events: AsyncIterator[BattleEvent]) -> Response:
    """The streaming answer of a battle route."""
    return StreamingResponse(
        event_stream(events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
