"""Live state against the session's real redis-server (tests/fixtures/redis.py).

Each test gets its own key prefix, so tests cannot see each other's keys; the tests that flush
or kill Redis use a redis-server of their own.

Redis keeps the time of TTLs and rate windows itself, so those tests use windows of seconds
(wide enough for a loaded machine) and poll Redis until the key is gone instead of sleeping for
a guessed time; the bounds they assert allow for the time the calls themselves take.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import AsyncIterator

import pytest
import redis

from arena.battles.sampling import PairSampler
from arena.live import LiveState, LiveStateUnavailable
from arena.live.embedded import EmbeddedRedis

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def live(redis_url: str, live_prefix: str) -> AsyncIterator[LiveState]:
    state = LiveState.from_url(redis_url, prefix=live_prefix)
    try:
        yield state
    finally:
        await state.clear()
        await state.aclose()


async def many_clients(url: str, prefix: str, n: int) -> list[LiveState]:
    """n independent clients, each with its own connection pool, like n worker processes."""
    clients = [LiveState.from_url(url, prefix=prefix) for _ in range(n)]
    await asyncio.gather(*(c.ping() for c in clients))
    return clients


async def ttl_s(live: LiveState, *parts: str) -> float | None:
    """Seconds until the key `parts` (under the prefix) expires; None when it is not stored."""
    ms = await live.client.pttl(live.key(*parts))
    return None if ms < 0 else ms / 1000


async def wait_until_gone(live: LiveState, *parts: str, within_s: float = 30.0) -> float:
    """Poll until Redis no longer holds the key `parts`; the `time.monotonic()` it was gone."""
    deadline = time.monotonic() + within_s
    while await live.client.exists(live.key(*parts)):
        assert time.monotonic() < deadline, f"{live.key(*parts)} still stored after {within_s} s"
        await asyncio.sleep(0.05)  # allowed sleep: poll: Redis expires keys on its clock
    return time.monotonic()


class ManualClock:
    """A monotonic clock that moves only when the test says (`LiveState.clock`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# Redis rounds expiry times to the millisecond; bounds measured in Python allow for that.
REDIS_CLOCK_SLACK_S = 0.005


async def vote_claimant(live: LiveState, battle_id: str) -> str | None:
    """Who holds the vote claim of a battle, or None."""
    return await live.client.get(live.key("vote", battle_id))


# ------------------------------------------------------------------------------------ battles
async def test_battle_state_round_trips_as_json(live: LiveState):
    state = {"battle_id": "b1", "status": "ready", "turns": [{"prompt": "hi", "n": 1}]}
    await live.put_battle("b1", state, ttl_s=60)
    assert await live.get_battle("b1") == state
    assert 59 < await ttl_s(live, "battle", "b1") <= 60


async def test_battle_state_expires_after_its_ttl(live: LiveState):
    stored = time.monotonic()
    await live.put_battle("short", {"status": "ready"}, ttl_s=2)
    assert await live.get_battle("short") == {"status": "ready"}
    assert 0 < await ttl_s(live, "battle", "short") <= 2
    gone = await wait_until_gone(live, "battle", "short")
    assert gone - stored >= 2 - REDIS_CLOCK_SLACK_S  # not before its TTL
    assert await live.get_battle("short") is None


async def test_battle_ttl_must_be_positive(live: LiveState):
    with pytest.raises(ValueError, match="positive number of seconds"):
        await live.put_battle("b3", {"status": "ready"}, ttl_s=0)


# -------------------------------------------------------------------------------------- votes
async def test_vote_is_claimed_exactly_once_by_20_concurrent_claimers(
    redis_url: str, live: LiveState
):
    clients = await many_clients(redis_url, live.prefix, 20)
    try:
        results = await asyncio.gather(
            *(c.claim_vote("battle-x", f"rater-{i}") for i, c in enumerate(clients))
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert sum(results) == 1
    assert await vote_claimant(live, "battle-x") == f"rater-{results.index(True)}"


async def test_second_vote_claim_by_the_same_owner_is_refused(live: LiveState):
    assert await live.claim_vote("b6", "alice") is True
    assert await live.claim_vote("b6", "alice") is False
    assert await live.claim_vote("b6", "bob") is False


async def test_released_vote_claim_can_be_claimed_again(live: LiveState):
    assert await live.claim_vote("b7", "alice")
    assert await live.release_vote("b7") is True
    assert await live.claim_vote("b7", "bob")
    assert await vote_claimant(live, "b7") == "bob"
    assert await live.release_vote("b7") is True
    assert await live.release_vote("b7") is False  # nothing left to release


async def test_vote_claim_expires_after_its_ttl(live: LiveState):
    claimed = time.monotonic()
    assert await live.claim_vote("b8", "alice", ttl_s=2)
    assert await vote_claimant(live, "b8") == "alice"
    assert 0 < await ttl_s(live, "vote", "b8") <= 2
    gone = await wait_until_gone(live, "vote", "b8")
    assert gone - claimed >= 2 - REDIS_CLOCK_SLACK_S
    assert await live.claim_vote("b8", "bob")  # claimable again


# -------------------------------------------------------------------------------- rate limits
async def test_rate_limit_allows_limit_hits_per_window_then_says_when_to_retry(live: LiveState):
    def hit():
        return live.hit_rate_limit("battle", "rater-1", limit=3, window_s=3)

    first_sent = time.monotonic()
    decisions = [await hit() for _ in range(3)]
    fourth_sent = time.monotonic()
    refused = await hit()
    answered = time.monotonic()
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert (refused.allowed, refused.remaining) == (False, 0)
    # The window opened at the first hit, no earlier than first_sent: what is left of it
    # when the fourth was answered is at least 3 s minus the time the hits took.
    assert 3 - (answered - first_sent) - REDIS_CLOCK_SLACK_S <= refused.retry_after_s <= 3
    reopened = await wait_until_gone(live, "rate", "battle", "rater-1")
    assert reopened - fourth_sent >= refused.retry_after_s - REDIS_CLOCK_SLACK_S
    again = await hit()
    assert again.allowed and again.remaining == 2


async def test_refused_hits_do_not_extend_the_window(live: LiveState):
    def hit():
        return live.hit_rate_limit("vote", "r", limit=1, window_s=3)

    assert (await hit()).allowed
    # Refused hits until Redis says at least a second of the window has passed.
    left_s = 3.0
    while left_s > 2:
        refused = await hit()
        assert not refused.allowed and refused.retry_after_s <= left_s
        left_s = await ttl_s(live, "rate", "vote", "r")
        await asyncio.sleep(0.05)  # allowed sleep: poll interval with a deadline
    refused = await hit()
    # A hit that restarted the window would be told to wait the whole 3 s again.
    assert not refused.allowed and refused.retry_after_s <= left_s
    await wait_until_gone(live, "rate", "vote", "r")
    assert (await hit()).allowed


async def test_rate_limits_are_separate_per_rater_and_per_action(live: LiveState):
    assert (await live.allow_battle("alice", per_minute=1)).allowed
    assert not (await live.allow_battle("alice", per_minute=1)).allowed
    assert (await live.allow_battle("bob", per_minute=1)).allowed
    assert (await live.hit_rate_limit("vote", "alice", limit=1, window_s=3600)).allowed
    refused = await live.hit_rate_limit("vote", "alice", limit=1, window_s=3600)
    assert not refused.allowed and 3599 < refused.retry_after_s <= 3600


async def test_rate_limit_must_allow_at_least_one_hit(live: LiveState):
    with pytest.raises(ValueError, match="at least 1"):
        await live.hit_rate_limit("battle", "r", limit=0, window_s=60)


async def test_admitting_a_vote_counts_it_and_claims_the_battle_in_one_call(live: LiveState):
    decision, claimed = await live.admit_vote("b1", "alice", limit=2, window_s=60)
    assert decision.allowed and decision.remaining == 1 and claimed
    assert await vote_claimant(live, "b1") == "alice"
    decision, claimed = await live.admit_vote("b1", "alice", limit=2, window_s=60)
    assert decision.allowed and not claimed  # within the limit, but the vote is taken
    decision, claimed = await live.admit_vote("b2", "alice", limit=2, window_s=60)
    assert not decision.allowed and not claimed and 59 < decision.retry_after_s <= 60
    assert await vote_claimant(live, "b2") is None  # a refused vote claims nothing
    # the same counter as hit_rate_limit("vote", ...)
    assert not (await live.hit_rate_limit("vote", "alice", limit=2, window_s=3600)).allowed


async def test_admitting_a_vote_on_a_stored_battle_checks_it_first(live: LiveState):
    """Owner and status are checked inside the same atomic step; only a votable battle is
    counted against the rate limit and claimed, and its state comes back with the answer."""
    state = {"battle_id": "b1", "owner": "alice", "status": "ready", "n": 2 ** 60,
             "text": "ünïcode \"quoted\""}
    await live.put_battle("b1", state, 60)
    await live.put_battle("b2", {**state, "battle_id": "b2", "status": "generating"}, 60)
    await live.put_battle("b3", {**state, "battle_id": "b3"}, 60)

    def admit(battle_id: str, rater: str = "alice"):
        return live.admit_stored_vote(battle_id, rater, votable_status="ready", limit=2,
                                      window_s=60)

    missing = await admit("nope")
    assert (missing.outcome, missing.state, missing.decision) == ("missing", None, None)
    assert (await admit("b1", "mallory")).outcome == "not_owner"
    not_ready = await admit("b2")
    assert not_ready.outcome == "not_ready" and not_ready.state["status"] == "generating"
    assert await vote_claimant(live, "b1") is None and await vote_claimant(live, "b2") is None
    # nothing was counted
    assert (await live.hit_rate_limit("vote", "mallory", limit=1, window_s=3600)).allowed

    admitted = await admit("b1")
    assert admitted.outcome == "admitted" and admitted.state == state  # exact, big ints too
    assert admitted.decision.allowed and admitted.decision.remaining == 1
    assert await vote_claimant(live, "b1") == "alice"
    taken = await admit("b1")
    assert taken.outcome == "taken" and taken.state is None
    limited = await admit("b3")  # the third vote of the window: over the limit of 2
    assert limited.outcome == "limited" and not limited.decision.allowed
    assert 59 < limited.decision.retry_after_s <= 60
    assert await vote_claimant(live, "b3") is None  # a refused vote claims nothing


async def test_settling_a_vote_stores_the_stub_and_counts_the_pair(live: LiveState):
    await live.put_battle("b1", {"status": "ready", "turns": ["long"]}, 60)
    await live.settle_vote("b1", {"status": "voted", "winner": "tie"}, 30, ("x", "y"))
    await live.settle_vote("b2", {"status": "voted", "winner": "tie"}, 30, None)
    assert await live.get_battle("b1") == {"status": "voted", "winner": "tie"}
    assert 29 < await ttl_s(live, "battle", "b1") <= 30
    assert await live.get_battle("b2") == {"status": "voted", "winner": "tie"}
    assert await live.pair_counts() == {frozenset({"x", "y"}): 1}


# -------------------------------------------------------------------------------- pair counts
async def test_pair_counters_count_unordered_pairs(live: LiveState):
    assert await live.pair_counts() == {}
    voted = {"status": "voted"}
    await live.settle_vote("b1", voted, 60, ("alpha", "bravo"))
    await live.settle_vote("b2", voted, 60, ("bravo", "alpha"))
    await live.settle_vote("b3", voted, 60, ("org/model:v1", "alpha"))
    assert await live.pair_counts() == {
        frozenset({"alpha", "bravo"}): 2,
        frozenset({"alpha", "org/model:v1"}): 1,
    }


async def test_pair_counts_feed_the_sampler_directly(live: LiveState):
    await live.rebuild_pair_counts({("alpha", "bravo"): 99})
    sampler = PairSampler("balanced")
    dist = sampler.distribution(["alpha", "bravo", "charlie"], await live.pair_counts())
    assert dist[frozenset({"alpha", "bravo"})] == pytest.approx(0.01 / 2.01)


async def test_pair_counts_cache_serves_a_recent_copy_only_when_asked(live: LiveState):
    """The cache's age is measured in the process, on `LiveState.clock`, moved here by hand."""
    clock = ManualClock()
    live.clock = clock
    voted = {"status": "voted"}
    pair = frozenset({"alpha", "bravo"})
    await live.settle_vote("b1", voted, 60, ("alpha", "bravo"))
    assert await live.pair_counts(max_age_s=5) == {pair: 1}
    await live.settle_vote("b2", voted, 60, ("alpha", "bravo"))
    clock.advance(4.9)
    assert await live.pair_counts(max_age_s=5) == {pair: 1}  # read 4.9 s ago: recent enough
    assert await live.pair_counts() == {pair: 2}  # no max_age_s: always read (and cached)
    await live.settle_vote("b3", voted, 60, ("alpha", "bravo"))
    clock.advance(4.9)
    assert await live.pair_counts(max_age_s=5) == {pair: 2}
    clock.advance(0.1)
    assert await live.pair_counts(max_age_s=5) == {pair: 3}  # 5 s old: read again


async def test_model_names_with_a_newline_are_refused_as_pair_members(live: LiveState):
    with pytest.raises(ValueError, match="newline"):
        await live.settle_vote("b1", {"status": "voted"}, 60, ("alpha\nbravo", "charlie"))


async def test_rebuild_replaces_all_pair_counts_and_marks_them_built(live: LiveState):
    await live.settle_vote("b1", {"status": "voted"}, 60, ("alpha", "charlie"))
    assert not await live.pair_counts_built()
    await live.rebuild_pair_counts({("alpha", "bravo"): 4, ("bravo", "alpha"): 1})
    assert await live.pair_counts() == {frozenset({"alpha", "bravo"}): 5}
    assert await live.pair_counts_built()
    await live.rebuild_pair_counts({})
    assert await live.pair_counts() == {}


async def test_burst_beyond_the_pool_size_waits_for_connections_instead_of_failing(
    redis_url: str, live_prefix: str
):
    async with LiveState.from_url(redis_url, prefix=live_prefix, max_connections=4) as small:
        try:
            results = await asyncio.gather(
                *(small.claim_vote(f"burst-{i}", "r") for i in range(200))
            )
            assert all(results)
        finally:
            await small.clear()


# ------------------------------------------------------------------------------ outage flags
async def test_outage_flags_are_set_listed_and_cleared(live: LiveState):
    assert not await live.is_down("alpha")
    await live.mark_down("alpha", "health check: connection refused")
    await live.mark_down("bravo", "timeout")
    assert await live.is_down("alpha")
    assert await live.down_models() == {
        "alpha": "health check: connection refused",
        "bravo": "timeout",
    }
    await live.mark_up("alpha")
    await live.mark_up("never-down")
    assert not await live.is_down("alpha")
    assert await live.down_models() == {"bravo": "timeout"}


# ------------------------------------------------------------------------------- leaderboard
async def test_leaderboard_cache_keeps_table_time_and_vote_count(live: LiveState):
    assert await live.get_leaderboard() is None
    table = [{"model": "alpha", "rating": 1012.5}, {"model": "bravo", "rating": 987.5}]
    await live.put_leaderboard(table, votes=42, computed_at=1_700_000_000.0)
    cached = await live.get_leaderboard()
    assert cached.table == table
    assert cached.votes == 42
    assert cached.computed_at == 1_700_000_000.0
    before = time.time()
    await live.put_leaderboard(table, votes=43)
    after = time.time()
    assert before <= (await live.get_leaderboard()).computed_at <= after  # now, by default


# ------------------------------------------------------------------------ isolation, flushing
async def test_clear_deletes_only_keys_under_the_prefix(redis_url: str, live_prefix: str):
    # "[bc]" would be a glob class matching the neighbour's "b:" prefix if clear() did not
    # escape it.
    mine = LiveState.from_url(redis_url, prefix=live_prefix + "[bc]:")
    neighbour = LiveState.from_url(redis_url, prefix=live_prefix + "b:")
    try:
        await mine.put_battle("b", {"status": "ready"}, ttl_s=60)
        await mine.settle_vote("b", {"status": "voted"}, 60, ("a", "b"))
        await neighbour.put_battle("b", {"status": "ready"}, ttl_s=60)
        assert await mine.clear() == 2
        assert await mine.get_battle("b") is None
        assert await neighbour.get_battle("b") == {"status": "ready"}
    finally:
        for state in (mine, neighbour):
            await state.clear()
            await state.aclose()


async def test_flushing_redis_loses_only_rebuildable_state(own_redis_url: str):
    sql_counts = {("alpha", "bravo"): 7, ("alpha", "charlie"): 2}  # stands in for the vote log
    async with LiveState.from_url(own_redis_url) as live:
        await live.rebuild_pair_counts(sql_counts)
        await live.settle_vote("b8", {"status": "voted"}, 60, ("alpha", "bravo"))
        await live.put_battle("b9", {"status": "ready"}, ttl_s=60)
        await live.claim_vote("b9", "alice")
        await live.mark_down("charlie", "timeout")
        await live.put_leaderboard([], votes=9)

        with redis.Redis.from_url(own_redis_url) as admin:
            admin.flushdb()

        assert await live.pair_counts() == {}
        assert not await live.pair_counts_built()  # tells the service to rebuild from SQL
        assert await live.get_battle("b9") is None
        assert await live.down_models() == {}
        assert await live.get_leaderboard() is None
        sql_counts[("alpha", "bravo")] += 1  # the vote above, committed to SQL first
        await live.rebuild_pair_counts(sql_counts)
        assert await live.pair_counts() == {
            frozenset({"alpha", "bravo"}): 8,
            frozenset({"alpha", "charlie"}): 2,
        }
        assert await live.pair_counts_built()


# ---------------------------------------------------------------------------------- outages
async def test_killed_redis_makes_every_call_raise_live_state_unavailable_quickly(
    own_redis: EmbeddedRedis,
):
    server = own_redis  # not the session server: this one dies
    live = LiveState.from_url(server.url)
    try:
        await live.put_battle("b", {"status": "ready"}, ttl_s=60)
        server.kill()
        calls = [
            live.ping(),
            live.get_battle("b"),
            live.put_battle("b", {"status": "ready"}, ttl_s=60),
            live.claim_vote("b", "alice"),
            live.hit_rate_limit("battle", "alice", limit=5, window_s=60),
            live.pair_counts(),
            live.down_models(),
            live.get_leaderboard(),
        ]
        for call in calls:
            started = time.monotonic()
            with pytest.raises(LiveStateUnavailable) as error:
                await call
            # A refused connection fails at once; the bound is the connect timeout (1 s) and
            # its one retry, with room for a loaded machine, far below redis-py's backoff.
            assert time.monotonic() - started < 3.0
        assert f"127.0.0.1:{server.port}" in str(error.value)
        assert "redis-server is running" in str(error.value)
    finally:
        await live.aclose()


async def test_a_call_that_outlives_its_deadline_gives_up_and_the_next_gets_a_fresh_pool(
    own_redis: EmbeddedRedis,
):
    """A frozen Redis (SIGSTOP) keeps its connections open and silent. With socket timeouts
    longer than the call's deadline, only the deadline can end the wait: the call raises
    LiveStateUnavailable in time, the client gets a new pool, and once Redis runs again every
    call works, the Lua scripts registered on the client included."""
    server = own_redis  # not the session server: this one is frozen
    assert server.pid is not None
    live = LiveState.from_url(server.url, socket_timeout_s=30.0, connect_timeout_s=30.0)
    live.call_deadline_s = 0.5
    try:
        await live.put_battle("b", {"status": "ready"}, ttl_s=60)
        first_pool = live.client.connection_pool
        os.kill(server.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(LiveStateUnavailable, match=r"did not answer within 0\.5 s"):
                await live.get_battle("b")
            assert time.monotonic() - started < 5.0
            assert live.client.connection_pool is not first_pool
        finally:
            os.kill(server.pid, signal.SIGCONT)
        assert await live.get_battle("b") == {"status": "ready"}
        decision = await live.hit_rate_limit("battle", "alice", limit=5, window_s=60)
        assert decision.allowed
    finally:
        await live.aclose()


async def test_unreachable_redis_url_raises_live_state_unavailable():
    # A port this test holds bound but not listening: connections are refused, and no other
    # process can start a server on it meanwhile.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        async with LiveState.from_url(f"redis://127.0.0.1:{port}/0") as live:
            with pytest.raises(LiveStateUnavailable, match="unreachable") as error:
                await live.mark_down("alpha", "timeout")
    assert f"127.0.0.1:{port}/0" in str(error.value)
