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
for the token counts. With `logprobs` asked for, the tokens' log-probabilities the server
streams are kept in `record.extra["logprobs"]`.

Timeouts (`StreamTimeouts`, seconds): `connect` for the TCP/TLS connection, `first_token` from
sending the request to the first text, `total` for the whole request. All three are deadlines:
`asyncio.timeout_at` until the response headers arrive, then one timer per stream that cancels a
pending read when it passes (`ReadDeadline`), so a server that stops sending ends the stream
with an error record at the deadline; it never hangs.

Parsing: SSE lines are split from the raw bytes and each chunk's JSON is decoded from bytes,
rather than with httpx's `aiter_lines` (which decodes text and splits it again), to keep the
client's CPU per chunk small: on a CPU-only host that CPU is taken from the model server. Lines
are complete before they are decoded, so a UTF-8 character split across two reads is never cut.

Use one `httpx.AsyncClient` per process (`make_http_client()`) and pass it as `http=`, so
connections are pooled; without it each call opens and closes its own client.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from serving.credentials import split_credentials
from serving.read_deadline import ReadDeadline
from serving.records import SAMPLING_KEYS, GenerationRecord

# The most of an HTTP error body we keep in the record.
_ERROR_BODY_CHARS = 2000


@dataclass(frozen=True)
class Endpoint:
    """Where one model answers: server root URL (no `/v1`), the served model id, and how to
    authenticate: an API key (sent as `Authorization: Bearer`) or the user and password that
    were written into the URL (`https://user:pass@host`, sent as HTTP Basic auth).

    Credentials never stay in `base_url`: they are moved to `basic_auth` when the endpoint is
    made, so the URL that reaches records, logs and error messages carries none. Neither secret
    appears in the repr.
    """

    name: str
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        clean, credentials = split_credentials(self.base_url)
        if credentials is not None:
            object.__setattr__(self, "base_url", clean)
            if self.basic_auth is None:
                object.__setattr__(self, "basic_auth", credentials)

    @property
    def chat_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/v1/chat/completions"

    def headers(self) -> dict[str, str]:
        """The Authorization header of this endpoint (none without a key or credentials)."""
        if self.api_key:
            return {"Authorization": f"Bearer {self.api_key}"}
        if self.basic_auth is not None:
            pair = ":".join(self.basic_auth).encode()
            return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
        return {}


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


def _apply_payload(record: GenerationRecord, payload: bytes) -> str:
    """Decode one SSE `data:` payload into the record (metadata, output, first-token time);
    return its new text ("" if none)."""
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        shown = payload[:200].decode("utf-8", "replace")
        raise _StreamError(f"malformed stream chunk: {shown!r}") from None
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
        # Kept only when asked for (`logprobs` in params; the judge does): each generated
        # token's log-probability and its top alternatives, in order.
        logprobs = (choice.get("logprobs") or {}).get("content")
        if logprobs:
            record.extra.setdefault("logprobs", []).extend(logprobs)
        if choice.get("finish_reason"):
            record.finish_reason = choice["finish_reason"]
    if text:
        if record.first_token_at is None:
            record.first_token_at = _now()
        record.output += text
    return text


def new_generation_record(endpoint: Endpoint, messages: list[dict[str, str]],
                          params: dict[str, Any]) -> GenerationRecord:
    """The record of one request before it is sent: what is asked, of whom, with what."""
    return GenerationRecord(
        endpoint=endpoint.base_url,
        served_model=endpoint.model,
        messages=[dict(m) for m in messages],
        params=dict(params),
        seed=params.get("seed"),
        extra={"endpoint_name": endpoint.name},
    )


def _deadlines(timeouts: StreamTimeouts) -> tuple[float, float]:
    """The first-token and total deadlines of a request sent now, in event-loop time."""
    start = asyncio.get_running_loop().time()
    return start + min(timeouts.first_token, timeouts.total), start + timeouts.total


async def _send(client: httpx.AsyncClient, endpoint: Endpoint, body: dict[str, Any],
                timeouts: StreamTimeouts) -> httpx.Response:
    """POST the request with a streamed response; the caller must close the response."""
    request = client.build_request(
        "POST",
        endpoint.chat_url,
        json=body,
        headers=endpoint.headers(),
        timeout=httpx.Timeout(None, connect=timeouts.connect),
    )
    return await client.send(request, stream=True)


async def _status_error(response: httpx.Response, url: str) -> _StreamError:
    """The error for a response that is not 200, with the start of its body."""
    detail = (await response.aread()).decode("utf-8", "replace")
    return _StreamError(f"HTTP {response.status_code} from {url}: {detail[:_ERROR_BODY_CHARS]}")


def _check_complete(record: GenerationRecord, done: bool) -> None:
    """Raise _StreamError unless the stream reached [DONE] with a finish reason."""
    if not done:
        raise _StreamError("stream ended before [DONE]: the server closed the connection")
    if record.finish_reason is None:
        raise _StreamError("stream finished without a finish_reason")


def _failure_message(failed: Exception, record: GenerationRecord, endpoint: Endpoint,
                     timeouts: StreamTimeouts) -> str:
    """The `record.error` for a failure that ends the stream."""
    if isinstance(failed, TimeoutError):
        if record.first_token_at is None and timeouts.first_token < timeouts.total:
            return f"timeout: no first token within {timeouts.first_token:g} s"
        return f"timeout: the request exceeded the total limit of {timeouts.total:g} s"
    if isinstance(failed, httpx.ConnectTimeout):
        return f"connect timeout after {timeouts.connect:g} s to {endpoint.base_url}"
    if isinstance(failed, httpx.ConnectError):
        return f"cannot connect to {endpoint.base_url}: {failed}"
    if isinstance(failed, httpx.HTTPError):
        # RemoteProtocolError / ReadError: typically the server died mid-stream.
        return f"connection lost mid-stream: {type(failed).__name__}: {failed}"
    return str(failed)  # a _StreamError says what went wrong itself


def _mark_cancelled(record: GenerationRecord, why: str) -> None:
    """End the record of a stream its consumer cancelled or closed."""
    record.error = f"cancelled: {why}"
    record.finished_at = _now()


async def _release(deadline: ReadDeadline | None, response: httpx.Response | None,
                   own_client: httpx.AsyncClient | None) -> None:
    """Stop the read timer, close the response and a client the stream opened itself."""
    if deadline is not None:
        deadline.close()
    # Closing the response drops the connection, which makes vLLM abort the request.
    if response is not None:
        await _close_quietly(response)
    if own_client is not None:
        await own_client.aclose()


async def stream_chat(
    endpoint: Endpoint,
    messages: list[dict[str, str]],
    params: dict[str, Any],
    *,
    timeouts: StreamTimeouts = StreamTimeouts(),
    http: httpx.AsyncClient | None = None,
) -> AsyncIterator[StreamEvent]:
    """Stream one chat completion (the event protocol: see the module docstring). Raises
    ValueError, before any request, when `params` lacks a key of SAMPLING_KEYS."""
    body = request_body(endpoint, messages, params)
    record = new_generation_record(endpoint, messages, params)
    try:
        yield StreamStarted(record)
    except GeneratorExit:
        _mark_cancelled(record, "the consumer closed the stream before it started")
        raise

    first_token_deadline, total_deadline = _deadlines(timeouts)
    client = http or make_http_client()
    response: httpx.Response | None = None
    deadline: ReadDeadline | None = None
    done = False
    record.started_at = _now()
    try:
        async with asyncio.timeout_at(first_token_deadline):
            response = await _send(client, endpoint, body, timeouts)
            if response.status_code != 200:
                raise await _status_error(response, endpoint.chat_url)
        reads = response.aiter_bytes()
        pending = b""
        deadline = ReadDeadline(first_token_deadline)
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
                text = _apply_payload(record, payload)
                if text:
                    yield TextDelta(text)
        _check_complete(record, done)
    except (TimeoutError, _StreamError, httpx.HTTPError) as failed:
        record.error = _failure_message(failed, record, endpoint, timeouts)
    except (asyncio.CancelledError, GeneratorExit):
        _mark_cancelled(record, "the consumer closed the stream")
        raise
    finally:
        await _release(deadline, response, client if http is None else None)
    record.finished_at = _now()
    yield StreamFinished(record)


async def _close_quietly(response: httpx.Response) -> None:
    try:
        await response.aclose()
    except Exception:  # the stream is over either way
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
