"""Streaming client failure paths that need no model server: every failure is a record."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from fixtures.ports import reserved_port

from serving.client import (
    Endpoint,
    StreamFinished,
    StreamStarted,
    StreamTimeouts,
    TextDelta,
    complete_chat,
    stream_chat,
)
from serving.config import SamplingSettings
from serving.health import HealthTracker, InMemoryHealthStore

MESSAGES = [{"role": "user", "content": "hi"}]


def closed_port() -> int:
    """A port nothing listens on, kept from other programs for a while (see reserved_port)."""
    return reserved_port()


async def test_refused_connection_ends_with_an_error_record():
    endpoint = Endpoint("m", f"http://127.0.0.1:{closed_port()}", "m")
    events = [e async for e in stream_chat(endpoint, MESSAGES, SamplingSettings().request_params())]
    assert isinstance(events[0], StreamStarted) and isinstance(events[-1], StreamFinished)
    record = events[-1].record
    assert events[0].record is record
    assert not record.ok and record.error.startswith("cannot connect to")
    assert record.finished_at is not None and record.seed == record.params["seed"]


async def test_silent_server_ends_with_a_first_token_timeout_not_a_hang():
    # A real listening socket that accepts and never answers.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        record = await complete_chat(
            Endpoint("m", f"http://127.0.0.1:{port}", "m"), MESSAGES,
            SamplingSettings().request_params(), timeouts=StreamTimeouts(first_token=1.0))
        assert 1.0 <= time.monotonic() - started < 5.0  # at the deadline, not a hang
        assert record.error == "timeout: no first token within 1 s"
    finally:
        server.close()


async def test_missing_sampling_parameters_are_refused_before_sending():
    endpoint = Endpoint("m", "http://127.0.0.1:1", "m")
    with pytest.raises(ValueError, match="sampling parameters missing: .*seed"):
        await complete_chat(endpoint, MESSAGES, {"temperature": 0.5})


async def test_health_marks_an_unreachable_endpoint_down_with_the_reason():
    tracker = HealthTracker(InMemoryHealthStore(), timeout_s=2.0)
    result = await tracker.check(Endpoint("m", f"http://127.0.0.1:{closed_port()}", "m"))
    assert not result.ok and "ConnectError" in result.reason
    assert await tracker.is_down("m")
    assert "ConnectError" in tracker.store.reasons["m"]


async def test_closing_before_the_request_marks_the_record_cancelled():
    stream = stream_chat(Endpoint("m", "http://127.0.0.1:1", "m"), MESSAGES,
                         SamplingSettings().request_params())
    started = await anext(stream)
    await stream.aclose()
    assert started.record.error.startswith("cancelled") and started.record.started_at is None


# --------------------------------------------------------------- deadlines while streaming
def _sse(*events: str) -> bytes:
    return "".join(f"data: {e}\n\n" for e in events).encode()


def _chunk(text: str, finish: str | None = None) -> str:
    import json

    return json.dumps({"id": "c1", "model": "m", "choices": [
        {"index": 0, "delta": {"content": text}, "finish_reason": finish}]})


@contextlib.asynccontextmanager
async def _scripted_server(script) -> AsyncIterator[Endpoint]:
    """A real HTTP/1.1 server whose single response body is written by `script(write)`; yields
    its endpoint and closes it afterwards."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")

        async def write(data: bytes) -> None:
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await writer.drain()

        try:
            await script(write)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield Endpoint("m", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", "m")
    finally:
        server.close()


async def test_a_server_that_stalls_mid_stream_hits_the_total_deadline():
    async def script(write):
        await write(_sse(_chunk("hello")))
        await asyncio.sleep(30)  # allowed sleep: upstream goes silent (under test)
    async with _scripted_server(script) as endpoint:
        started = time.monotonic()
        record = await complete_chat(endpoint, MESSAGES, SamplingSettings().request_params(),
                                     timeouts=StreamTimeouts(first_token=5.0, total=1.0))
        assert 0.9 <= time.monotonic() - started < 5.0  # at the deadline, not a hang
        assert record.error == "timeout: the request exceeded the total limit of 1 s"
        assert record.output == "hello"


async def test_the_deadline_never_cancels_the_consumer_between_reads():
    """A consumer that is busy in its own await when the deadline passes is not cancelled
    there: the stream ends with a timeout record at its next read."""

    async def script(write):
        await write(_sse(_chunk("a")))
        await asyncio.sleep(0.1)  # allowed sleep: upstream pauses (under test)
        await write(_sse(_chunk("b")))
        await asyncio.sleep(30)  # allowed sleep: upstream goes silent (under test)
    async with _scripted_server(script) as endpoint:
        events = []
        async for event in stream_chat(endpoint, MESSAGES, SamplingSettings().request_params(),
                                       timeouts=StreamTimeouts(first_token=5.0, total=1.0)):
            events.append(event)
            if len(events) == 2:  # after the first delta: outlive the deadline elsewhere
                await asyncio.sleep(3.0)  # allowed sleep: busy consumer past the deadline
        record = events[-1].record
        assert isinstance(events[-1], StreamFinished)
        assert record.error == "timeout: the request exceeded the total limit of 1 s"
        assert record.output == "a"  # "b" was there, but the deadline had passed


async def test_an_outside_cancel_during_a_read_is_not_turned_into_a_timeout():
    async def script(write):
        await write(_sse(_chunk("a")))
        await asyncio.sleep(30)  # allowed sleep: upstream goes silent (under test)
    async with _scripted_server(script) as endpoint:
        records = []
        got_text = asyncio.Event()

        async def consume():
            async for event in stream_chat(endpoint, MESSAGES, SamplingSettings().request_params(),
                                           timeouts=StreamTimeouts(first_token=5.0, total=10.0)):
                records.append(event.record if hasattr(event, "record") else None)
                if isinstance(event, TextDelta):
                    got_text.set()  # the task's next await is the read of the next chunk

        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(got_text.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert records[0].error == "cancelled: the consumer closed the stream"


async def test_chunks_split_anywhere_and_crlf_lines_are_parsed():
    body = _sse(_chunk("héllo "), _chunk("wörld", "stop"), "[DONE]").replace(b"\n", b"\r\n")

    async def script(write):
        for start in range(0, len(body), 7):  # 7-byte pieces split lines and characters
            await write(body[start:start + 7])

    async with _scripted_server(script) as endpoint:
        record = await complete_chat(endpoint, MESSAGES, SamplingSettings().request_params())
        assert record.ok, record.error
        assert record.output == "héllo wörld" and record.finish_reason == "stop"


async def test_a_slow_consumer_after_the_first_token_is_held_to_the_total_deadline_only():
    async def script(write):
        await write(_sse(_chunk("a")))
        await asyncio.sleep(0.2)  # allowed sleep: upstream pauses (under test)
        await write(_sse(_chunk("b", "stop"), "[DONE]"))

    async with _scripted_server(script) as endpoint:
        events = []
        async for event in stream_chat(endpoint, MESSAGES, SamplingSettings().request_params(),
                                       timeouts=StreamTimeouts(first_token=1.0, total=10.0)):
            events.append(event)
            if len(events) == 2:
                await asyncio.sleep(3.0)  # allowed sleep: busy consumer past first-token deadline
        record = events[-1].record
        assert record.ok, record.error
        assert record.output == "ab"
