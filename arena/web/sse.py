"""Battle events as a Server-Sent-Event stream, the answer of every route that streams.

Each event's `event:` is the BattleEvent kind and its `data:` the event as JSON
(`{"kind", "side", "text", ...}`); model names never appear before the vote. A refusal that
happens once the stream has begun is sent as a last `refused` event (`{"kind": "refused",
"error": code, "detail": message}`), since the status line is already out.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import Response
from fastapi.responses import StreamingResponse

from arena.battles import BattleEvent
from arena.errors import ArenaError
from arena.web.sessions import remember_session


async def event_stream(events: AsyncIterator[BattleEvent]) -> AsyncIterator[bytes]:
    """The SSE encoding of `events`, ending with a `refused` event if the service refuses."""
    try:
        async for event in events:
            payload = json.dumps(event.to_dict(), ensure_ascii=False)
            yield f"event: {event.kind}\ndata: {payload}\n\n".encode()
    except ArenaError as refused:
        body = json.dumps({"kind": "refused", "error": refused.code,
                           "detail": refused.message})
        yield f"event: refused\ndata: {body}\n\n".encode()


def stream_response(events: AsyncIterator[BattleEvent], sid: str, new: bool) -> Response:
    """The streaming answer for session `sid`; a `new` session gets its cookie with it."""
    response = StreamingResponse(
        event_stream(events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    if new:
        remember_session(response, sid)
    return response
