"""A limit on the size of a request body, enforced before the body is read.

`BodyLimit` is a pure ASGI middleware (no Starlette request object, nothing buffered): a
request that declares a Content-Length over the limit is answered 413 at once, without a byte
of its body read; a body sent without a length (chunked) is counted as it arrives, and the
moment it passes the limit the request is answered 413 and the application sees the client
disconnect, so it stops reading. Either way at most `max_bytes` of a body is ever read, and
the refusal is the API's JSON error shape: ``{"error": "body_too_large", "detail": ...}``.

Without it, a 50 MB `category` was read, parsed and stored. The limit guards every route
(the REST API and the UI's); a prompt at `max_prompt_chars` is far below the default.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The default limit, in bytes: a prompt of 8,000 characters is at most ~48 KB of JSON (each
# character escaped as \uXXXX), so 1 MiB leaves room for any request the arena takes.
DEFAULT_MAX_BODY_BYTES = 1 << 20


def refusal_body(max_bytes: int) -> bytes:
    """The JSON of the 413 answer."""
    return orjson.dumps({
        "error": "body_too_large",
        "detail": f"the request body is larger than {max_bytes} bytes, the most this arena "
                  "accepts; send a shorter prompt (or fewer fields)",
    })


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when it sends none (or one that is not a
    number: the server refuses that itself)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware: refuse (413) any HTTP request whose body exceeds `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes!r}")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self.refuse(send)  # before a byte of the body is read
            return
        await CountedRequest(self, receive, send).run(scope)

    async def refuse(self, send: Send) -> None:
        body = refusal_body(self.max_bytes)
        await send({
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close")],
        })
        await send({"type": "http.response.body", "body": body})


class CountedRequest:
    """One request whose body is counted as the application reads it."""

    def __init__(self, limit: BodyLimit, receive: Receive, send: Send) -> None:
        self.limit = limit
        self._receive = receive
        self._send = send
        self.received = 0  # body bytes read so far
        self.refused = False  # the 413 went out (or the response had started: it ends)
        self.started = False  # the application started its response

    async def run(self, scope: Scope) -> None:
        try:
            await self.limit.app(scope, self.receive, self.send)
        except Exception:
            if not self.refused:
                raise
            # The application failed on the disconnect it was shown; the 413 is the answer.

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit.max_bytes:
                if not self.started:
                    await self.limit.refuse(self._send)
                self.refused = True
                return {"type": "http.disconnect"}  # the application stops reading
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the 413 is the answer; whatever the application says next is dropped
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)
