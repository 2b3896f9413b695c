"""Async streaming chat against an OpenAI-compatible server (vLLM), over httpx.

The event protocol
------------------
`stream_chat(endpoint, messages, params)` is an async generator of `StreamEvent`s:

1. exactly one `StreamStarted(record)` first. `record` is the live `GenerationRecord` of this
   request; the generator keeps filling it in. Keep the reference if you may cancel: a cancelled
   or closed stream marks it with `error = "cancelled: ..."` and a `finished_at` time.
2. zero or more `TextDelta(text)`, the new text in arrival order.
3. exactly one `StreamFinished(record)` last, with the same (now complete) record. Every failure
   (refused connection, HTTP error, timeout, a server that dies mid-stream, a malformed chunk)
   ends the stream this way with `record.error` set; `stream_chat` does not raise for them.

Each event is a small frozen dataclass, so a battle service can merge two streams by running one
task per side that does `await queue.put((side, event))` for every event, and reading the queue
until it has seen a `StreamFinished` from each side. Cancelling such a task (or calling
`aclose()` on the generator) closes the HTTP response, and vLLM aborts a request whose client
has gone. Wrap consumers that may `break` early in `contextlib.aclosing(...)`, so the generator
closes at once instead of when it is garbage-collected.

What is sent: `params` must hold every key of `serving.records.SAMPLING_KEYS` (see
`serving.config.SamplingSettings.request_params`), because vLLM silently fills unset keys from
the model's generation_config.json and the battle log would then not say what was used. Extra
keys (e.g. vLLM's `ignore_eos`) are sent as well. `stream_options.include_usage` asks the server
for the token counts.

Timeouts (`StreamTimeouts`, seconds): `connect` for the TCP/TLS connection, `first_token` from
sending the request to the first text, `total` for the whole request. All three are deadlines:
`asyncio.timeout_at` until the response headers arrive, then one timer per stream that cancels a
pending read when it passes (`_ReadDeadline`), so a server that stops sending ends the stream
with an error record at the deadline; it never hangs.

Use one `httpx.AsyncClient` per process (`make_http_client()`) and pass it as `http=`, so
connections are pooled; without it each call opens and closes its own client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from serving.records import SAMPLING_KEYS, GenerationRecord

# The most of an HTTP error body we keep in the record.
_ERROR_BODY_CHARS = 2000


@dataclass(frozen=True)
class Endpoint:
    """Where one model answers: server root URL (no `/v1`), the served model id, an API key."""

    name: str
    base_url: str
    model: str
    api_key: str | None = None

    @property
    def chat_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/v1/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


@dataclass(frozen=True)
class StreamTimeouts:
    """Deadlines in seconds: connecting, first text after sending, whole request."""

    connect: float = 10.0
    first_token: float = 60.0
    total: float = 600.0


@dataclass(frozen=True)
class StreamStarted:
    """First event: the live record of this request (filled in as the stream goes)."""

    record: GenerationRecord


@dataclass(frozen=True)
class TextDelta:
    """New text from the model."""

    text: str


@dataclass(frozen=True)
class StreamFinished:
    """Last event: the complete record; `record.error` is set when the generation failed."""

    record: GenerationRecord


StreamEvent = StreamStarted | TextDelta | StreamFinished


def make_http_client(max_connections: int = 256) -> httpx.AsyncClient:
    """An AsyncClient for `stream_chat`: pooled connections, timeouts left to `StreamTimeouts`."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(None),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=64),
    )


def _now() -> datetime:
    return datetime.now(UTC)


class _StreamError(Exception):
    """A failure that ends the stream with an error record."""


class _ReadDeadline:
    """A deadline for the reads of one stream: TimeoutError from `read` once it has passed.

    `asyncio.timeout_at` around each read made a timer and a context per chunk (about 15 us
    of CPU per chunk here, a tenth of what httpx itself costs). This keeps one timer per
    deadline instead. When it fires while a read is pending, it cancels the task, exactly as
    `asyncio.timeout` does, and `read` turns that cancellation into TimeoutError; when it
    fires between reads, it only marks the deadline expired and the next `read` raises. So it
    never cancels the task anywhere but inside `read`: the stream's generator yields between
    reads, and the consumer's own awaits there must not be hit (a single timeout around the
    whole read loop would do exactly that).
    """

    def __init__(self, when: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.when = when
        self.expired = False
        self._reader: asyncio.Task[Any] | None = None  # the task inside `read`, if any
        self._cancelled_it = False
        self._timer = self._loop.call_at(when, self._fire)

    def move(self, when: float) -> None:
        """Replace the deadline (monotonic loop time, as `loop.time()`). An old deadline that
        passed between reads no longer counts (the first-token deadline, once text came)."""
        if when == self.when:
            return
        self._timer.cancel()
        self.when = when
        self.expired = self._loop.time() >= when
        if not self.expired:
            self._timer = self._loop.call_at(when, self._fire)

    async def read(self, awaitable: Any) -> Any:
        if self.expired:
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()  # never awaited: close it so Python does not warn
            raise TimeoutError
        self._reader = asyncio.current_task()
        try:
            return await awaitable
        except asyncio.CancelledError:
            if self._cancelled_it and self._reader is not None:
                self._cancelled_it = False
                if self._reader.uncancel() == 0:  # nobody else cancelled the task as well
                    raise TimeoutError from None
            raise
        finally:
            self._reader = None

    def close(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        self.expired = True
        if self._reader is not None and not self._cancelled_it:
            self._cancelled_it = True
            self._reader.cancel()


def request_body(endpoint: Endpoint, messages: list[dict[str, str]], params: dict[str, Any]
                 ) -> dict[str, Any]:
    """The JSON body sent for one streamed chat completion."""
    missing = [key for key in SAMPLING_KEYS if key not in params]
    if missing:
        raise ValueError(
            f"sampling parameters missing: {', '.join(missing)}; send every key of "
            "SAMPLING_KEYS (use serving.config.SamplingSettings.request_params())"
        )
    return {
        "model": endpoint.model,
        "messages": messages,
        **params,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def _apply_chunk(record: GenerationRecord, chunk: dict[str, Any]) -> str:
    """Copy one SSE chunk's metadata into the record; return its new text ("" if none)."""
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise _StreamError(f"server error mid-stream: {message}")
    if chunk.get("model"):
        record.response_model = chunk["model"]
    if chunk.get("system_fingerprint"):
        record.system_fingerprint = chunk["system_fingerprint"]
    if chunk.get("id"):
        record.extra.setdefault("response_id", chunk["id"])
    usage = chunk.get("usage")
    if usage:
        record.prompt_tokens = usage.get("prompt_tokens")
        record.completion_tokens = usage.get("completion_tokens")
    text = ""
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        text += delta.get("content") or ""
        if choice.get("finish_reason"):
            record.finish_reason = choice["finish_reason"]
    return text


async def stream_chat(
    endpoint: Endpoint,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    *,
    timeouts: StreamTimeouts = StreamTimeouts(),
    http: httpx.AsyncClient | None = None,
) -> AsyncIterator[StreamEvent]:
    """Stream one chat completion; see the module docstring for the event protocol.

    Raises ValueError (before any request) when `params` lacks a key of SAMPLING_KEYS.
    """
    body = request_body(endpoint, messages, params)
    record = GenerationRecord(
        endpoint=endpoint.base_url,
        served_model=endpoint.model,
        messages=[dict(m) for m in messages],
        params=dict(params),
        seed=params.get("seed"),
        extra={"endpoint_name": endpoint.name},
    )
    try:
        yield StreamStarted(record)
    except GeneratorExit:
        record.error = "cancelled: the consumer closed the stream before it started"
        record.finished_at = _now()
        raise

    loop = asyncio.get_running_loop()
    start = loop.time()
    first_token_deadline = start + min(timeouts.first_token, timeouts.total)
    total_deadline = start + timeouts.total
    own_client = http is None
    client = http or make_http_client()
    response: httpx.Response | None = None
    deadline: _ReadDeadline | None = None
    done = False
    record.started_at = _now()
    try:
        request = client.build_request(
            "POST",
            endpoint.chat_url,
            json=body,
            headers=endpoint.headers(),
            timeout=httpx.Timeout(None, connect=timeouts.connect),
        )
        async with asyncio.timeout_at(first_token_deadline):
            response = await client.send(request, stream=True)
            if response.status_code != 200:
                detail = (await response.aread()).decode("utf-8", "replace")
                raise _StreamError(
                    f"HTTP {response.status_code} from {endpoint.chat_url}: "
                    f"{detail[:_ERROR_BODY_CHARS]}"
                )
        # SSE lines are split from the raw bytes here and JSON is decoded from bytes, instead
        # of httpx's aiter_lines decoding text and splitting it again: per chunk the client
        # then costs no more CPU than a bare httpx loop, which matters on a CPU-only host
        # where that CPU is taken from the model server. Lines are complete before they are
        # decoded, so a UTF-8 character split across two reads is never cut.
        reads = response.aiter_bytes()
        pending = b""
        deadline = _ReadDeadline(first_token_deadline)
        while not done:
            if record.first_token_at is not None:
                deadline.move(total_deadline)
            try:
                data = await deadline.read(anext(reads))
            except StopAsyncIteration:
                break
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                if not line.startswith(b"data:"):
                    continue  # SSE comments, blank separators, other fields
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    break
                try:
                    chunk = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    shown = payload[:200].decode("utf-8", "replace")
                    raise _StreamError(f"malformed stream chunk: {shown!r}") from None
                text = _apply_chunk(record, chunk)
                if text:
                    if record.first_token_at is None:
                        record.first_token_at = _now()
                    record.output += text
                    yield TextDelta(text)
        if not done:
            raise _StreamError("stream ended before [DONE]: the server closed the connection")
        if record.finish_reason is None:
            raise _StreamError("stream finished without a finish_reason")
    except TimeoutError:
        if record.first_token_at is None and timeouts.first_token < timeouts.total:
            record.error = f"timeout: no first token within {timeouts.first_token:g} s"
        else:
            record.error = f"timeout: the request exceeded the total limit of {timeouts.total:g} s"
    except _StreamError as failed:
        record.error = str(failed)
    except httpx.ConnectTimeout:
        record.error = f"connect timeout after {timeouts.connect:g} s to {endpoint.base_url}"
    except httpx.ConnectError as failed:
        record.error = f"cannot connect to {endpoint.base_url}: {failed}"
    except httpx.HTTPError as failed:
        # RemoteProtocolError / ReadError: typically the server died mid-stream.
        record.error = f"connection lost mid-stream: {type(failed).__name__}: {failed}"
    except (asyncio.CancelledError, GeneratorExit):
        record.error = "cancelled: the consumer closed the stream"
        record.finished_at = _now()
        raise
    finally:
        if deadline is not None:
            deadline.close()
        # Closing the response drops the connection, which makes vLLM abort the request.
        if response is not None:
            await _close_quietly(response)
        if own_client:
            await client.aclose()
    record.finished_at = _now()
    yield StreamFinished(record)


async def _close_quietly(response: httpx.Response) -> None:
    try:
        await response.aclose()
    except Exception:  # noqa: BLE001 - the stream is over either way
        pass


async def complete_chat(
    endpoint: Endpoint,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    *,
    timeouts: StreamTimeouts = StreamTimeouts(),
    http: httpx.AsyncClient | None = None,
) -> GenerationRecord:
    """Run `stream_chat` to the end and return its record (text in `record.output`)."""
    async for event in stream_chat(endpoint, messages, params, timeouts=timeouts, http=http):
        if isinstance(event, StreamFinished):
            return event.record
    raise AssertionError("stream_chat ended without StreamFinished")  # protocol guarantee
