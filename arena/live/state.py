"""Live state in Redis: what several arena processes share while battles run.

Redis holds only state that is rebuilt or re-earned after a flush or restart; the vote log in
SQL is the source of truth. What lives here, under one key prefix (default ``arena:``):

=============================  ================================================================
key                            what, and how it comes back after a flush
=============================  ================================================================
``battle:<id>``                JSON state of a running battle, with a TTL. Lost battles end as
                               "unknown or expired"; the service also keeps its own in memory.
``vote:<id>``                  Vote idempotency key (SET NX): the first claimer wins. After a
                               flush SQL's unique battle id still refuses a second vote.
``rate:<action>:<rater>``      Fixed-window counter (INCR + PEXPIRE at the first hit). A flush
                               just opens a fresh window.
``pair_counts``                Hash of votes per unordered pair for the sampler (HINCRBY).
``pair_counts:built``          Marker set by `rebuild_pair_counts`; missing after a flush, so the
                               service knows to rebuild the counts from SQL.
``down``                       Hash of models in outage (name → reason, since). Health probes
                               set them again.
``leaderboard``                Cached leaderboard JSON with its time and number of votes; the
                               background job recomputes it.
=============================  ================================================================

Every call that cannot reach Redis raises `LiveStateUnavailable` (the REST API answers 503),
after at most one retry and short socket timeouts, so an outage is reported in about a second
rather than after redis-py's default backoff.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

DEFAULT_PREFIX = "arena:"
DEFAULT_VOTE_CLAIM_TTL_S = 24 * 3600

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)

P = ParamSpec("P")
T = TypeVar("T")


class LiveStateUnavailable(RuntimeError):
    """Redis cannot be reached (down, wrong URL, timed out); the message says where and why."""


@dataclass(frozen=True)
class RateLimitDecision:
    """The outcome of one hit on a rate limit.

    ``remaining`` hits are left in the current window of at most ``limit`` hits; when
    ``allowed`` is False the window reopens in ``retry_after_s`` seconds.
    """

    allowed: bool
    remaining: int
    retry_after_s: float
    limit: int

    @classmethod
    def of_hit(cls, allowed: bool, hits: Any, ttl_ms: Any, limit: int) -> RateLimitDecision:
        """The decision for a hit that made the window's count `hits`, `ttl_ms` ms before the
        window closes (as the rate-limit Lua reports them)."""
        return cls(
            allowed=allowed,
            remaining=max(limit - int(hits), 0),
            retry_after_s=0.0 if allowed else int(ttl_ms) / 1000,
            limit=limit,
        )


@dataclass(frozen=True)
class VoteAdmission:
    """What `LiveState.admit_stored_vote` found, in one atomic step.

    ``outcome`` is ``missing`` (no state stored: Redis lost it or it expired), ``not_owner``
    (another rater's battle), ``not_ready`` (its status is not the votable one; ``state`` is
    its state), ``limited`` (the rater's vote rate limit refused it; ``decision`` says until
    when), ``taken`` (another vote holds the battle's claim) or ``admitted`` (counted and
    claimed by this caller; ``state`` is the battle's state). Nothing was counted or claimed
    for ``missing``, ``not_owner`` and ``not_ready``, and ``decision`` is then None.
    """

    outcome: str
    state: dict[str, Any] | None
    decision: RateLimitDecision | None


@dataclass(frozen=True)
class CachedLeaderboard:
    """A leaderboard as stored: the JSON-able table, when it was computed (Unix seconds), and
    how many votes it was computed from."""

    table: Any
    computed_at: float
    votes: int


def _guarded(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turn connection failures inside a LiveState method into LiveStateUnavailable."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except _UNREACHABLE as error:
            self = args[0]
            assert isinstance(self, LiveState)
            raise LiveStateUnavailable(self._unreachable(error)) from error

    return wrapper


def _count_hit_lua(key: str, window_ms: str) -> str:
    """Lua for one hit on a fixed-window counter anchored at the first hit: INCR `key`, start
    the window's clock (`window_ms`) on the first hit. Leaves `hits` (in this window) and `ttl`
    (ms until it closes) set. `key` and `window_ms` are Lua expressions (KEYS[i], ARGV[j])."""
    return f"""
local hits = redis.call('INCR', {key})
if hits == 1 then redis.call('PEXPIRE', {key}, {window_ms}) end
local ttl = redis.call('PTTL', {key})
if ttl < 0 then
  redis.call('PEXPIRE', {key}, {window_ms})
  ttl = tonumber({window_ms})
end
"""


# One hit on a rate limit (KEYS[1], window ARGV[1] ms). Returns {hits in this window, ms until
# the window closes}.
_RATE_LUA = _count_hit_lua("KEYS[1]", "ARGV[1]") + "return {hits, ttl}\n"

# The admission of a vote in one round trip: count it against the rater's vote rate limit
# (as _RATE_LUA: KEYS[1], window ARGV[1] ms) and, if within ARGV[2] hits, claim the battle's
# vote (SET KEYS[2] ARGV[3] NX PX ARGV[4]). Returns {hits, ms until the window closes,
# claimed: 1, 0 (someone holds the claim) or -1 (rate-limited, nothing claimed)}.
_ADMIT_VOTE_LUA = _count_hit_lua("KEYS[1]", "ARGV[1]") + """
if hits > tonumber(ARGV[2]) then return {hits, ttl, -1} end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4]) then return {hits, ttl, 1} end
return {hits, ttl, 0}
"""

# The whole admission of a vote on a stored battle, atomically, in one round trip: read the
# battle's state (KEYS[1]); only if ARGV[1] owns it and its status is ARGV[2], count the vote
# against the rater's rate limit (KEYS[2], window ARGV[3] ms, at most ARGV[4] hits) and, within
# it, claim the vote (SET KEYS[3] ARGV[1] NX PX ARGV[5]). Returns {outcome, state JSON or '',
# hits, ms until the window closes}; outcome is one of the VoteAdmission outcomes. Nothing is
# counted or claimed unless the rater owns a battle in that status.
_ADMIT_STORED_VOTE_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {'missing', '', 0, 0} end
local ok, state = pcall(cjson.decode, raw)
if not ok or type(state) ~= 'table' then return {'missing', '', 0, 0} end
if state['owner'] ~= ARGV[1] then return {'not_owner', '', 0, 0} end
if state['status'] ~= ARGV[2] then return {'not_ready', raw, 0, 0} end
""" + _count_hit_lua("KEYS[2]", "ARGV[3]") + """
if hits > tonumber(ARGV[4]) then return {'limited', '', hits, ttl} end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[5]) then
  return {'admitted', raw, hits, ttl}
end
return {'taken', '', hits, ttl}
"""

def _pair_field(model_a: str, model_b: str) -> str:
    # Sorted names joined by a newline, which no model name may contain: unambiguous, and
    # much cheaper to split than JSON to parse when the sampler reads every pair per battle.
    if model_a == model_b:
        raise ValueError(f"a pair needs two different models, got {model_a!r} twice")
    if "\n" in model_a or "\n" in model_b:
        raise ValueError(f"model names must not contain a newline: {model_a!r}, {model_b!r}")
    return "\n".join(sorted((model_a, model_b)))


def _dumps(state: Mapping[str, Any]) -> bytes:
    """A battle state as JSON. orjson: the state carries whole conversations and is written
    and read on every request, where the standard library's encoder cost several times more."""
    return orjson.dumps(state)


def _rate_window_ms(limit: int, window_s: float) -> int:
    """A rate limit's window in ms, after checking that it admits at least one hit."""
    if limit < 1:
        raise ValueError(f"rate limit must be at least 1, got {limit!r}")
    return _ms(window_s, "rate-limit window")


def _ms(seconds: float, what: str) -> int:
    if not seconds > 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {seconds!r}")
    return max(int(round(seconds * 1000)), 1)


class LiveState:
    """Shared, rebuildable arena state over one `redis.asyncio.Redis` client.

    Use `LiveState.from_url` (fast-failing timeouts) or pass a client made with
    ``decode_responses=True``. Close with `aclose()` or ``async with``.
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self._rate = client.register_script(_RATE_LUA)
        self._admit_vote = client.register_script(_ADMIT_VOTE_LUA)
        self._admit_stored_vote = client.register_script(_ADMIT_STORED_VOTE_LUA)
        self._pair_cache: tuple[float, dict[frozenset[str], int]] | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout_s: float = 2.0,
        connect_timeout_s: float = 1.0,
        max_connections: int = 64,
        pool_timeout_s: float = 5.0,
    ) -> LiveState:
        """Connect lazily to ``url`` (``redis://host:port/db``); nothing is sent until a call.

        One retry without backoff (a pooled connection may be stale after a Redis restart),
        then `LiveStateUnavailable`. At most ``max_connections`` connections; a call beyond
        that waits up to ``pool_timeout_s`` for a free one instead of failing at once.
        """
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            decode_responses=True,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            retry=Retry(NoBackoff(), retries=1),
            max_connections=max_connections,
            timeout=pool_timeout_s,
        )
        return cls(aioredis.Redis.from_pool(pool), prefix=prefix)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # ---------------------------------------------------------------------------- lifecycle
    @_guarded
    async def ping(self) -> None:
        """Raise `LiveStateUnavailable` unless Redis answers."""
        await self.client.ping()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> LiveState:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @_guarded
    async def clear(self) -> int:
        """Delete every key under this prefix (SCAN, not FLUSHDB); returns how many."""
        deleted = 0
        batch: list[str] = []
        async for name in self.client.scan_iter(match=self._glob_prefix() + "*", count=500):
            batch.append(name)
            if len(batch) >= 500:
                deleted += await self.client.delete(*batch)
                batch.clear()
        if batch:
            deleted += await self.client.delete(*batch)
        return deleted

    # ------------------------------------------------------------------------------ battles
    @_guarded
    async def put_battle(self, battle_id: str, state: Mapping[str, Any], ttl_s: float) -> None:
        """Store a battle's JSON state, replacing any, expiring after ``ttl_s`` seconds."""
        await self.client.set(
            self.key("battle", battle_id), _dumps(state), px=_ms(ttl_s, "battle TTL")
        )

    @_guarded
    async def get_battle(self, battle_id: str) -> dict[str, Any] | None:
        """The battle's state, or None when unknown or expired."""
        raw = await self.client.get(self.key("battle", battle_id))
        return None if raw is None else orjson.loads(raw)

    # -------------------------------------------------------------------------------- votes
    @_guarded
    async def claim_vote(
        self, battle_id: str, owner: str, *, ttl_s: float = DEFAULT_VOTE_CLAIM_TTL_S
    ) -> bool:
        """True for exactly one caller per battle (SET NX): that caller may record the vote.

        Every later claim, by anyone including the winner, gets False until the claim expires
        (``ttl_s``) or is released. SQL's unique battle id is the durable guard behind it.
        """
        return bool(
            await self.client.set(
                self.key("vote", battle_id), owner, nx=True, px=_ms(ttl_s, "vote claim TTL")
            )
        )

    @_guarded
    async def admit_vote(
        self,
        battle_id: str,
        rater: str,
        *,
        limit: int,
        window_s: float,
        claim_ttl_s: float = DEFAULT_VOTE_CLAIM_TTL_S,
    ) -> tuple[RateLimitDecision, bool]:
        """`hit_rate_limit` on the rater's votes, then `claim_vote` if allowed: one round trip.

        Returns the rate-limit decision and whether this caller now holds the battle's vote
        claim (always False when the rate limit refused the vote: nothing is claimed then).
        """
        window_ms = _rate_window_ms(limit, window_s)
        hits, ttl_ms, claimed = await self._admit_vote(
            keys=[self.key("rate", "vote", rater), self.key("vote", battle_id)],
            args=[window_ms, limit, rater, _ms(claim_ttl_s, "vote claim TTL")],
        )
        decision = RateLimitDecision.of_hit(int(claimed) >= 0, hits, ttl_ms, limit)
        return decision, int(claimed) == 1

    @_guarded
    async def admit_stored_vote(
        self,
        battle_id: str,
        rater: str,
        *,
        votable_status: str,
        limit: int,
        window_s: float,
        claim_ttl_s: float = DEFAULT_VOTE_CLAIM_TTL_S,
    ) -> VoteAdmission:
        """Read the battle's state, check that ``rater`` owns it and that its status is
        ``votable_status``, then `admit_vote`: all atomically, in one round trip.

        The vote path's only read of the battle: the state comes back with the admission.
        """
        window_ms = _rate_window_ms(limit, window_s)
        outcome, raw, hits, ttl_ms = await self._admit_stored_vote(
            keys=[
                self.key("battle", battle_id),
                self.key("rate", "vote", rater),
                self.key("vote", battle_id),
            ],
            args=[rater, votable_status, window_ms, limit, _ms(claim_ttl_s, "vote claim TTL")],
        )
        state = orjson.loads(raw) if raw else None
        decision = None
        if outcome in ("limited", "taken", "admitted"):
            decision = RateLimitDecision.of_hit(outcome != "limited", hits, ttl_ms, limit)
        return VoteAdmission(outcome=outcome, state=state, decision=decision)

    @_guarded
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
            pipe.set(self.key("battle", battle_id), _dumps(stub), px=_ms(ttl_s, "battle TTL"))
            if pair is not None:
                pipe.hincrby(self.key("pair_counts"), _pair_field(*pair), 1)
            await pipe.execute()

    @_guarded
    async def release_vote(self, battle_id: str) -> bool:
        """Drop the vote claim (e.g. the SQL write failed) so the vote can be retried; True
        if there was one."""
        return bool(await self.client.delete(self.key("vote", battle_id)))

    # --------------------------------------------------------------------------- rate limits
    @_guarded
    async def hit_rate_limit(
        self, action: str, rater: str, *, limit: int, window_s: float
    ) -> RateLimitDecision:
        """Count one ``action`` by ``rater`` against ``limit`` hits per ``window_s`` seconds.

        Fixed window anchored at the rater's first hit (INCR, then PEXPIRE on the first):
        at most ``limit`` hits are allowed per window; refused hits do not extend it.
        """
        window_ms = _rate_window_ms(limit, window_s)
        hits, ttl_ms = await self._rate(keys=[self.key("rate", action, rater)], args=[window_ms])
        return RateLimitDecision.of_hit(int(hits) <= limit, hits, ttl_ms, limit)

    async def allow_battle(self, rater: str, per_minute: int) -> RateLimitDecision:
        """`hit_rate_limit` for starting battles: ``per_minute`` per 60 s."""
        return await self.hit_rate_limit("battle", rater, limit=per_minute, window_s=60)

    # --------------------------------------------------------------------------- pair counts
    @_guarded
    async def pair_counts(self, *, max_age_s: float = 0.0) -> dict[frozenset[str], int]:
        """Votes per unordered pair, keyed ``frozenset({a, b})`` (what `PairSampler` takes).

        With ``max_age_s > 0`` a copy read from Redis less than that many seconds ago is
        returned instead (the sampler does not need the last vote; with many models reading
        every pair on every battle costs milliseconds).
        """
        now = time.monotonic()
        if max_age_s > 0 and self._pair_cache is not None:
            read_at, cached = self._pair_cache
            if now - read_at < max_age_s:
                return dict(cached)
        raw = await self.client.hgetall(self.key("pair_counts"))
        counts = {frozenset(field.split("\n")): int(count) for field, count in raw.items()}
        self._pair_cache = (now, counts)
        return dict(counts)

    @_guarded
    async def pair_counts_built(self) -> bool:
        """False when the counts were never rebuilt from SQL or were flushed: rebuild them."""
        return bool(await self.client.exists(self.key("pair_counts", "built")))

    @_guarded
    async def rebuild_pair_counts(self, counts: Mapping[Any, int]) -> None:
        """Replace all pair counts at once (from SQL) and set the "built" marker.

        Keys may be ``(a, b)`` tuples or frozensets; (a, b) and (b, a) add up.
        """
        merged: dict[str, int] = {}
        for pair, count in counts.items():
            field = _pair_field(*tuple(pair))
            merged[field] = merged.get(field, 0) + int(count)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self.key("pair_counts"))
            if merged:
                pipe.hset(self.key("pair_counts"), mapping=merged)
            pipe.set(self.key("pair_counts", "built"), str(time.time()))
            await pipe.execute()

    # ------------------------------------------------------------------------------ outages
    @_guarded
    async def mark_down(self, name: str, reason: str = "") -> None:
        """Flag a model as in outage; the sampler skips it until `mark_up`."""
        flag = json.dumps({"reason": reason, "since": time.time()})
        await self.client.hset(self.key("down"), name, flag)

    @_guarded
    async def mark_up(self, name: str) -> None:
        """Clear a model's outage flag (no-op if it was not down)."""
        await self.client.hdel(self.key("down"), name)

    @_guarded
    async def is_down(self, name: str) -> bool:
        """Whether a model is flagged as in outage (with `mark_down` and `mark_up`, the
        `serving.health.HealthStore` interface the app's health tracker writes through)."""
        return bool(await self.client.hexists(self.key("down"), name))

    @_guarded
    async def down_models(self) -> dict[str, str]:
        """Models in outage: name → reason."""
        raw = await self.client.hgetall(self.key("down"))
        return {name: json.loads(flag)["reason"] for name, flag in raw.items()}

    # --------------------------------------------------------------------------- leaderboard
    @_guarded
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

    @_guarded
    async def get_leaderboard(self) -> CachedLeaderboard | None:
        """The cached leaderboard, or None when none was stored (or Redis was flushed)."""
        raw = await self.client.get(self.key("leaderboard"))
        if raw is None:
            return None
        blob = json.loads(raw)
        return CachedLeaderboard(blob["table"], float(blob["computed_at"]), int(blob["votes"]))

    # ------------------------------------------------------------------------------ helpers
    def _glob_prefix(self) -> str:
        # Escape glob metacharacters so a prefix like "t[1]:" matches only itself.
        return "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix)

    def _unreachable(self, error: BaseException) -> str:
        kwargs = self.client.connection_pool.connection_kwargs
        where = (
            kwargs["path"]
            if "path" in kwargs
            else f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
        )
        return (
            f"Redis at {where} is unreachable ({type(error).__name__}: {error}). Live state "
            "(running battles, rate limits, outage flags) is unavailable until it is back: "
            "check that redis-server is running, or fix redis_url in the config."
        )
