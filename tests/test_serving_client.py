"""Streaming client failure paths that need no model server: every failure is a record."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from serving.client import (
    Endpoint,
    StreamFinished,
    StreamStarted,
    StreamTimeouts,
    complete_chat,
    stream_chat,
)
from serving.config import SamplingSettings
from serving.health import HealthTracker, InMemoryHealthStore

MESSAGES = [{"role": "user", "content": "hi"}]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        assert 1.0 <= time.monotonic() - started < 3.0
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
