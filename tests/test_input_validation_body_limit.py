"""The request-body limit (arena.web.body_limit), on a real uvicorn server: a body over the
limit is refused with 413 and the API's JSON error before it is read, whether it declares its
length (a 50 MB body) or arrives chunked; bodies within the limit pass untouched.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fixtures.ports import reserved_port

from arena.web.body_limit import BodyLimit

LIMIT = 64 * 1024  # bytes


@dataclass
class LimitedServer:
    url: str
    bodies_read: list[int] = field(default_factory=list)  # sizes the route got to see


@pytest.fixture(scope="module")
def limited_server() -> Iterator[LimitedServer]:
    """uvicorn in a thread serving a route that reads its whole body, behind BodyLimit."""
    port = reserved_port()
    served = LimitedServer(url=f"http://127.0.0.1:{port}")
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        served.bodies_read.append(len(body))
        return {"bytes": len(body)}

    server = uvicorn.Server(uvicorn.Config(BodyLimit(app, LIMIT), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)  # allowed sleep: poll interval while the server starts, with a deadline
    try:
        yield served
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    """`total` bytes in chunks of `size`: httpx sends a generator chunked, without a length."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 413
    body = response.json()
    assert body["error"] == "body_too_large"
    assert f"larger than {LIMIT} bytes" in body["detail"] and "shorter" in body["detail"]


def test_a_50_mb_body_is_refused_before_it_is_read(limited_server: LimitedServer):
    before = list(limited_server.bodies_read)
    response = httpx.post(f"{limited_server.url}/echo", content=b"x" * 50_000_000, timeout=60)
    assert_refused(response)
    assert limited_server.bodies_read == before  # the route never ran


def test_a_chunked_body_over_the_limit_is_refused_at_the_limit(limited_server: LimitedServer):
    before = list(limited_server.bodies_read)
    with httpx.Client(timeout=60) as client:
        response = client.post(f"{limited_server.url}/echo", content=chunks(LIMIT * 4))
    assert "content-length" not in response.request.headers  # it really was chunked
    assert_refused(response)
    assert limited_server.bodies_read == before


@pytest.mark.parametrize("size", [0, 1000, LIMIT])
def test_bodies_within_the_limit_pass(limited_server: LimitedServer, size: int):
    declared = httpx.post(f"{limited_server.url}/echo", content=b"y" * size, timeout=30)
    chunked = httpx.post(f"{limited_server.url}/echo", content=chunks(size), timeout=30)
    assert declared.status_code == chunked.status_code == 200
    assert declared.json() == chunked.json() == {"bytes": size}


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        BodyLimit(FastAPI(), 0)
