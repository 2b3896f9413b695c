"""The abuse limits' Redis side (arena.live.limits, arena.web.stream_leases) on a real Redis:
counters all or nothing, refunds, stream leases capped per address and in total, released
when their stream ends however it ends, and expiring when nobody renews them (a crashed
worker). Against a real `arena serve`: tests/test_limits_serve.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from arena.live import LiveState
from arena.live.limits import Counter, LimitStore
from arena.web.guard import stream_capacity, wait_text
from arena.web.stream_leases import Lease, StreamLeases
from serving.config import parse_models_config


@pytest.fixture
def run(redis_url: str, live_prefix: str):
    """Run `scenario(store)` in a fresh event loop over a `LimitStore` on the test's prefix."""

    def run_scenario(scenario) -> None:
        async def main() -> None:
            async with LiveState.from_url(redis_url, prefix=live_prefix) as live:
                await scenario(LimitStore(live.client, prefix=live_prefix))

        asyncio.run(main())

    return run_scenario


def test_counters_count_all_or_nothing_and_give_back(run):
    async def scenario(store: LimitStore) -> None:
        session = Counter("vote_day", "s1", limit=3, window_s=60)
        address = Counter("vote_day_addr", "203.0.113.9", limit=2, window_s=60)
        assert await store.take([session, address]) is None
        assert await store.take([session, address]) is None
        full = await store.take([session, address])
        assert full is not None and full.counter == address
        assert 55 < full.retry_after_s <= 60
        # The refused request counted nowhere: the session's counter still has one left.
        assert await store.take([session]) is None
        assert (await store.take([session])).counter == session
        await store.give_back([address])
        assert await store.take([address]) is None
        assert (await store.take([address])).counter == address

    run(scenario)


def test_stream_leases_cap_per_address_and_in_total_and_free_on_release(run):
    async def scenario(store: LimitStore) -> None:
        take = dict(per_address=2, total=3, ttl_s=30)
        assert await store.acquire_stream("a", "1", **take) == "ok"
        assert await store.acquire_stream("a", "2", **take) == "ok"
        assert await store.acquire_stream("a", "3", **take) == "address"
        assert await store.acquire_stream("b", "4", **take) == "ok"
        assert await store.acquire_stream("c", "5", **take) == "total"
        assert (await store.streams_open("a"), await store.streams_open()) == (2, 3)
        await store.release_stream("a", "1")
        assert await store.acquire_stream("c", "5", **take) == "ok"
        assert await store.streams_open() == 3

    run(scenario)


def test_a_lease_nobody_renews_expires_and_a_renewed_one_does_not(run):
    async def scenario(store: LimitStore) -> None:
        take = dict(per_address=1, total=10, ttl_s=0.4)
        assert await store.acquire_stream("dead", "1", **take) == "ok"
        assert await store.acquire_stream("alive", "2", **take) == "ok"
        deadline = time.monotonic() + 1.2
        while time.monotonic() < deadline:
            await store.renew_streams([("alive", "2")], ttl_s=0.4)
            await asyncio.sleep(0.1)  # allowed sleep: renew more often than the lease's ttl
        # The worker holding "dead" crashed: its slot is free again; "alive" still holds its.
        assert await store.acquire_stream("dead", "3", **take) == "ok"
        assert await store.acquire_stream("alive", "4", **take) == "address"

    run(scenario)


def test_a_held_stream_releases_its_lease_however_it_ends(run):
    async def endless():
        while True:
            yield "delta"
            await asyncio.sleep(0)

    async def failing():
        yield "delta"
        raise RuntimeError("model died")

    async def scenario(store: LimitStore) -> None:
        leases = StreamLeases(store, max_life_s=60)
        limits = dict(per_address=1, total=10)
        first = await leases.acquire("x", **limits)
        assert isinstance(first, Lease)
        assert await leases.acquire("x", **limits) == "address"
        stream = leases.held(first, endless())
        assert await anext(stream) == "delta"
        await stream.aclose()  # the client went away mid-stream
        second = await leases.acquire("x", **limits)
        assert isinstance(second, Lease)
        with pytest.raises(RuntimeError):
            async for _ in leases.held(second, failing()):
                pass
        assert await store.streams_open("x") == 0
        await leases.aclose()

    run(scenario)


def test_the_default_stream_capacity_and_waits_in_words():
    config = parse_models_config({"models": [
        {"name": "a", "base_url": "http://127.0.0.1:9"},
        {"name": "b", "model": "m", "port": 8001, "extra_args": ["--max-num-seqs", "64"]},
        {"name": "c", "model": "m", "port": 8002, "extra_args": ["--max-num-seqs=32"]},
    ]})
    assert stream_capacity(config) == (256 + 64 + 32) // 2
    assert [wait_text(s) for s in (0.2, 42, 600, 7261, 86399)] == [
        "1 s", "42 s", "10 min", "2 h 2 min", "24 h 0 min"]
