"""The abuse limits around the battle service: every battle the REST API or the page starts,
continues or votes passes through `BattleGuard`, so the rules are the same for both.

Per session (the signed id, `arena.web.sessions`) the service itself keeps `battles_per_minute`
and `votes_per_hour` (`arena.battles.admission`); the guard adds, all in Redis and so global
across workers and hosts (`arena.live.limits`):

- new battles per minute per client address (`battles_per_minute_per_address`), re-votes
  and Regenerates included;
- votes per day per session (`votes_per_day`) and per address (`votes_per_day_per_address`);
- answers streaming at once per address (`streams_per_address`, 429) and in the whole arena
  (`max_concurrent_streams`, 503), held by expiring leases (`arena.web.stream_leases`).

Every refusal is a 429 (503 for the arena's capacity) with Retry-After and a message naming
the limit and when to retry. A request the service refuses after the guard counted it (a bad
prompt, the per-session limit) gets its count back, so only what was admitted counts. When
Redis is down a new battle is refused (the service needs Redis for it anyway), while a vote
or a follow-up goes on unlimited, as the service's own vote path does (nothing is lost for
want of a counter).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from arena.battles import BattleEvent, BattleService, Reveal
from arena.config import ArenaSettings
from arena.errors import RateLimited, Unavailable
from arena.live import LiveStateUnavailable
from arena.live.limits import Counter, LimitStore
from arena.web.identity import Client
from arena.web.stream_leases import LEASE_TTL_S, Lease, StreamLeases
from serving.config import ServingConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

DAY_S = 24 * 3600
# Retry-After when a stream slot is full: slots free as streams end, so soon.
STREAM_RETRY_S = 5.0
# vLLM's default `--max-num-seqs`: sequences one server runs at once.
VLLM_DEFAULT_MAX_NUM_SEQS = 256
REDIS_DOWN = ("the arena's live-state store (Redis) is unreachable, so no new battle can "
              "start; try again shortly")


def stream_capacity(serving: ServingConfig) -> int:
    """The default `max_concurrent_streams`: the sequences all models take at once (each
    model's `--max-num-seqs` in its `extra_args`, else vLLM's default of 256), halved, since
    every battle streams one sequence on each of two models."""
    total = 0
    for spec in serving.models:
        seqs = VLLM_DEFAULT_MAX_NUM_SEQS
        args = list(spec.extra_args)
        for index, arg in enumerate(args):
            if arg == "--max-num-seqs" and index + 1 < len(args):
                seqs = int(args[index + 1])
            elif arg.startswith("--max-num-seqs="):
                seqs = int(arg.split("=", 1)[1])
        total += seqs
    return max(total // 2, 1)


def wait_text(seconds: float) -> str:
    """A wait in words: '42 s', '17 min', '5 h 3 min'."""
    seconds = max(int(seconds + 0.999), 1)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{(seconds + 59) // 60} min"
    minutes = (seconds + 59) // 60  # rounded up first: 86399 s is 24 h 0 min, not 23 h 60 min
    return f"{minutes // 60} h {minutes % 60} min"


# What each counter's refusal says: its limit and window in words.
LIMIT_WORDS = {
    "battle_addr": "new battles from your network address: the limit is {limit} per minute",
    "vote_day": "votes from this session: the limit is {limit} per day",
    "vote_day_addr": "votes from your network address: the limit is {limit} per day",
}


class BattleGuard:
    """The per-address and arena-wide limits around one `BattleService`."""

    def __init__(self, service: BattleService, store: LimitStore, settings: ArenaSettings,
                 *, max_streams: int) -> None:
        self.service = service
        self.store = store
        self.settings = settings
        self.max_streams = max_streams
        # A turn streams for at most generation_timeout_s; the rest is slack.
        self.leases = StreamLeases(
            store, max_life_s=settings.generation_timeout_s + 2 * LEASE_TTL_S)

    # ----------------------------------------------------------------------------- battles
    async def start(self, client: Client, prompt: str,
                    **options: Any) -> tuple[str, AsyncIterator[BattleEvent]]:
        """`BattleService.start` for `client`, within the limits; the stream holds a lease."""
        (battle_id, events), lease = await self._counted_stream(
            client, lambda: self.service.start(client.session, prompt, **options))
        return battle_id, self.leases.held(lease, events)

    async def continue_battle(self, client: Client, battle_id: str,
                              prompt: str) -> AsyncIterator[BattleEvent]:
        """`BattleService.continue_battle` for `client`; the stream holds a lease."""
        lease = await self._open_stream(client, required=False)
        try:
            events = await self.service.continue_battle(battle_id, client.session, prompt)
        except BaseException:
            if lease is not None:
                await self.leases.release(lease)
            raise
        return events if lease is None else self.leases.held(lease, events)

    async def regenerate(self, client: Client, battle_id: str) -> AsyncIterator[BattleEvent]:
        """`BattleService.regenerate` for `client`: counted as a new battle from its address
        (it costs the models as much), and the stream holds a lease."""
        events, lease = await self._counted_stream(
            client, lambda: self.service.regenerate(battle_id, client.session))
        return self.leases.held(lease, events)

    async def _counted_stream(self, client: Client, call: Callable[[], Awaitable[T]]
                              ) -> tuple[T, Lease]:
        """Count a new battle of `client`'s address and take a stream lease (Redis required
        for both), then `call()`; the count and the lease are given back if anything fails.
        Returns what `call` returned and the lease, for `leases.held`."""
        counted = await self._take([self._battle_counter(client)], required=True)
        try:
            lease = await self._open_stream(client, required=True)
            assert lease is not None
            try:
                return await call(), lease
            except BaseException:
                await self.leases.release(lease)
                raise
        except BaseException:
            await self._give_back(counted)
            raise

    async def start_replay(self, client: Client) -> tuple[str, AsyncIterator[BattleEvent]]:
        """`BattleService.start_replay` for `client` (no model streams: no lease)."""
        counted = await self._take([self._battle_counter(client)], required=True)
        try:
            return await self.service.start_replay(client.session)
        except BaseException:
            await self._give_back(counted)
            raise

    async def vote(self, client: Client, battle_id: str, winner: str,
                   **options: Any) -> Reveal:
        """`BattleService.vote` for `client`, within the daily vote limits."""
        counters = [Counter("vote_day", client.session, self.settings.votes_per_day, DAY_S),
                    Counter("vote_day_addr", client.address,
                            self.settings.votes_per_day_per_address, DAY_S)]
        counted = await self._take(counters, required=False)
        try:
            return await self.service.vote(battle_id, client.session, winner, **options)
        except BaseException:
            await self._give_back(counted)
            raise

    async def aclose(self) -> None:
        await self.leases.aclose()

    # ----------------------------------------------------------------------------- helpers
    def _battle_counter(self, client: Client) -> Counter:
        return Counter("battle_addr", client.address,
                       self.settings.battles_per_minute_per_address, 60)

    async def _take(self, counters: Sequence[Counter], *, required: bool) -> Sequence[Counter]:
        """Count on every counter, or refuse (RateLimited) naming the full one. Returns what
        was counted (nothing when Redis is down and the count is not `required`)."""
        try:
            full = await self.store.take(counters)
        except LiveStateUnavailable as down:
            if required:
                raise Unavailable(REDIS_DOWN) from None
            log.warning("daily vote limits not checked: %s", down)
            return ()
        if full is None:
            return counters
        words = LIMIT_WORDS[full.counter.name].format(limit=full.counter.limit)
        raise RateLimited(f"too many {words}; try again in {wait_text(full.retry_after_s)}",
                          retry_after_s=full.retry_after_s)

    async def _give_back(self, counted: Sequence[Counter]) -> None:
        if not counted:
            return
        try:
            await self.store.give_back(counted)
        except LiveStateUnavailable:
            log.warning("a refused request's count was not given back: Redis unreachable")

    async def _open_stream(self, client: Client, *, required: bool) -> Lease | None:
        """A stream lease for `client`: RateLimited when its address streams its limit,
        Unavailable when the arena does. Without Redis: Unavailable when `required`, else
        None (the stream runs unleased)."""
        per_address = self.settings.streams_per_address
        try:
            lease = await self.leases.acquire(client.address, per_address=per_address,
                                              total=self.max_streams)
        except LiveStateUnavailable as down:
            if required:
                raise Unavailable(REDIS_DOWN) from None
            log.warning("stream not leased: %s", down)
            return None
        if lease == "address":
            raise RateLimited(
                f"too many answers streaming at once from your network address: the limit "
                f"is {per_address}; let one finish, then try again in "
                f"{wait_text(STREAM_RETRY_S)}", retry_after_s=STREAM_RETRY_S)
        if lease == "total":
            raise Unavailable(
                f"the arena is at capacity: {self.max_streams} answers are streaming, as many "
                f"as its models take at once; try again in {wait_text(STREAM_RETRY_S)}",
                retry_after_s=STREAM_RETRY_S)
        assert isinstance(lease, Lease)
        return lease
