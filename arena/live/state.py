"""Live state in Redis: what several arena processes share while battles run.

Redis holds only state that is rebuilt or re-earned after a flush or restart; the vote log in
SQL is the source of truth. What lives here, under one key prefix (default ``arena:``):

=============================  ================================================================
key                            what, and how it comes back after a flush
=============================  ================================================================
``battle:<id>``                JSON state of a running battle, with a TTL. Lost battles end as
                               "unknown or expired"; the service also keeps its own in memory.
``vote:<id>``                  Vote claim (SET NX): the first claimer wins while it is alive
                               (arena.battles.vote_claims). After a flush SQL's unique battle
                               id still refuses a second vote.
``worker:<worker_id>``         A worker's presence (presence.py), renewed while it runs. Every
                               live worker sets its own again within 2.5 s.
``rate:<action>:<rater>``      Fixed-window counter (INCR + PEXPIRE at the first hit). A flush
                               just opens a fresh window.
``pair_counts``                Hash of votes per unordered pair for the sampler (HINCRBY).
``pair_counts:built``          Marker set by `rebuild_pair_counts`; missing after a flush, so the
                               service knows to rebuild the counts from SQL.
``down``                       Hash of models in outage (name → reason, since). Health probes
                               set them again.
``leaderboard``                Cached leaderboard JSON with its time and number of votes; the
                               background job recomputes it.
``model_states``               Hash of each model's lifecycle state (name → preview, active or
                               retired), published from the config by `arena serve` and by a
                               reload; after a flush every worker writes back the states it
                               last saw (`restore_model_states`).
=============================  ================================================================

Every call that cannot reach Redis raises `LiveStateUnavailable` (see connection.py). The vote
keys' calls are in votes.py (a base class); the Lua behind the atomic steps is in scripts.py;
how values are encoded, in encoding.py; workers' presence keys, in presence.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aioredis

from arena.live.connection import DEFAULT_PREFIX, raises_unavailable
from arena.live.encoding import (
    decode_state,
    duration_ms,
    encode_state,
    pair_field,
    pair_of_field,
    rate_window_ms,
)
from arena.live.results import CachedLeaderboard, RateLimitDecision
from arena.live.scripts import RATE_LUA
from arena.live.votes import DEFAULT_VOTE_CLAIM_TTL_S, LiveVotes

__all__ = ["DEFAULT_VOTE_CLAIM_TTL_S", "LiveState"]


class LiveState(LiveVotes):
    """Shared, rebuildable arena state over one `redis.asyncio.Redis` client.

    Use `LiveState.from_url` (fast-failing timeouts) or pass a client made with
    ``decode_responses=True``. Close with `aclose()` or ``async with``.
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        super().__init__(client, prefix=prefix)
        self._rate = client.register_script(RATE_LUA)
        self._pair_cache: tuple[float, dict[frozenset[str], int]] | None = None
        # Seconds on a monotonic clock: the pair-count cache's age is measured on it (Redis
        # keeps its own time for TTLs and rate windows). Replaceable so a test can move it.
        self.clock: Callable[[], float] = time.monotonic

    # ------------------------------------------------------------------------------ battles
    @raises_unavailable
    async def put_battle(self, battle_id: str, state: Mapping[str, Any], ttl_s: float) -> None:
        """Store a battle's JSON state, replacing any, expiring after ``ttl_s`` seconds."""
        await self.client.set(self.key("battle", battle_id), encode_state(state),
                              px=duration_ms(ttl_s, "battle TTL"))

    @raises_unavailable
    async def get_battle(self, battle_id: str) -> dict[str, Any] | None:
        """The battle's state, or None when unknown or expired."""
        raw = await self.client.get(self.key("battle", battle_id))
        return None if raw is None else decode_state(raw)

    # -------------------------------------------------------------------------------- votes
    @raises_unavailable
    async def settle_vote(
        self,
        battle_id: str,
        stub: Mapping[str, Any],
        ttl_s: float,
        pair: tuple[str, str] | None,
    ) -> None:
        """After a vote is in SQL: replace the battle's state by `stub` and, when `pair` is
        given, count the vote for that pair (one round trip, not atomic: both are
        rebuildable)."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.set(self.key("battle", battle_id), encode_state(stub),
                     px=duration_ms(ttl_s, "battle TTL"))
            if pair is not None:
                pipe.hincrby(self.key("pair_counts"), pair_field(*pair), 1)
            await pipe.execute()

    # --------------------------------------------------------------------------- rate limits
    @raises_unavailable
    async def hit_rate_limit(
        self, action: str, rater: str, *, limit: int, window_s: float
    ) -> RateLimitDecision:
        """Count one ``action`` by ``rater`` against ``limit`` hits per ``window_s`` seconds.

        Fixed window anchored at the rater's first hit (INCR, then PEXPIRE on the first):
        at most ``limit`` hits are allowed per window; refused hits do not extend it.
        """
        window_ms = rate_window_ms(limit, window_s)
        hits, ttl_ms = await self._rate(keys=[self.key("rate", action, rater)], args=[window_ms])
        return RateLimitDecision.of_hit(int(hits) <= limit, hits, ttl_ms, limit)

    async def allow_battle(self, rater: str, per_minute: int) -> RateLimitDecision:
        """`hit_rate_limit` for starting battles: ``per_minute`` per 60 s."""
        return await self.hit_rate_limit("battle", rater, limit=per_minute, window_s=60)

    # --------------------------------------------------------------------------- pair counts
    @raises_unavailable
    async def pair_counts(self, *, max_age_s: float = 0.0) -> dict[frozenset[str], int]:
        """Votes per unordered pair, keyed ``frozenset({a, b})`` (what `PairSampler` takes).

        With ``max_age_s > 0`` a copy read from Redis less than that many seconds ago is
        returned instead (the sampler does not need the last vote, and reading every pair on
        every battle grows with the square of the number of models).
        """
        now = self.clock()
        if max_age_s > 0 and self._pair_cache is not None:
            read_at, cached = self._pair_cache
            if now - read_at < max_age_s:
                return dict(cached)
        raw = await self.client.hgetall(self.key("pair_counts"))
        counts = {pair_of_field(field): int(count) for field, count in raw.items()}
        self._pair_cache = (now, counts)
        return dict(counts)

    @raises_unavailable
    async def pair_counts_built(self) -> bool:
        """False when the counts were never rebuilt from SQL or were flushed: rebuild them."""
        return bool(await self.client.exists(self.key("pair_counts", "built")))

    @raises_unavailable
    async def rebuild_pair_counts(self, counts: Mapping[Any, int]) -> None:
        """Replace all pair counts at once (from SQL) and set the "built" marker.

        Keys may be ``(a, b)`` tuples or frozensets; (a, b) and (b, a) add up.
        """
        merged: dict[str, int] = {}
        for pair, count in counts.items():
            field = pair_field(*tuple(pair))
            merged[field] = merged.get(field, 0) + int(count)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self.key("pair_counts"))
            if merged:
                pipe.hset(self.key("pair_counts"), mapping=merged)
            pipe.set(self.key("pair_counts", "built"), str(time.time()))
            await pipe.execute()

    # ------------------------------------------------------------------------------ outages
    @raises_unavailable
    async def mark_down(self, name: str, reason: str = "") -> None:
        """Flag a model as in outage; the sampler skips it until `mark_up`."""
        flag = json.dumps({"reason": reason, "since": time.time()})
        await self.client.hset(self.key("down"), name, flag)

    @raises_unavailable
    async def mark_up(self, name: str) -> None:
        """Clear a model's outage flag (no-op if it was not down)."""
        await self.client.hdel(self.key("down"), name)

    @raises_unavailable
    async def is_down(self, name: str) -> bool:
        """Whether a model is flagged as in outage (with `mark_down` and `mark_up`, the
        `serving.health.HealthStore` interface the app's health tracker writes through)."""
        return bool(await self.client.hexists(self.key("down"), name))

    @raises_unavailable
    async def down_models(self) -> dict[str, str]:
        """Models in outage: name → reason."""
        raw = await self.client.hgetall(self.key("down"))
        return {name: json.loads(flag)["reason"] for name, flag in raw.items()}

    # ------------------------------------------------------------------------ model lifecycle
    @raises_unavailable
    async def model_states(self) -> dict[str, str]:
        """Each model's lifecycle state as last published (name → state); {} when none was."""
        return dict(await self.client.hgetall(self.key("model_states")))

    @raises_unavailable
    async def set_model_states(self, states: Mapping[str, str]) -> None:
        """Replace all published states at once (MULTI: no reader sees half of them)."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self.key("model_states"))
            if states:
                pipe.hset(self.key("model_states"), mapping=dict(states))
            await pipe.execute()

    @raises_unavailable
    async def restore_model_states(self, states: Mapping[str, str]) -> None:
        """Write back states a flush lost, never over published ones (HSETNX: a reload wins)."""
        async with self.client.pipeline(transaction=False) as pipe:
            for name, state in states.items():
                pipe.hsetnx(self.key("model_states"), name, state)
            await pipe.execute()

    # --------------------------------------------------------------------------- leaderboard
    @raises_unavailable
    async def put_leaderboard(
        self, table: Any, *, votes: int, computed_at: float | None = None
    ) -> None:
        """Cache a JSON-able leaderboard computed from ``votes`` votes at ``computed_at``."""
        blob = {
            "table": table,
            "votes": int(votes),
            "computed_at": time.time() if computed_at is None else float(computed_at),
        }
        await self.client.set(self.key("leaderboard"), json.dumps(blob))

    @raises_unavailable
    async def get_leaderboard(self) -> CachedLeaderboard | None:
        """The cached leaderboard, or None when none was stored (or Redis was flushed)."""
        raw = await self.client.get(self.key("leaderboard"))
        if raw is None:
            return None
        blob = json.loads(raw)
        return CachedLeaderboard(blob["table"], float(blob["computed_at"]), int(blob["votes"]))
