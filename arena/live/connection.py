"""One Redis client under one key prefix, failing fast: the base that `LiveState` builds on.

Every call that cannot reach Redis raises `LiveStateUnavailable` (the REST API answers 503),
after at most one retry and short socket timeouts, so an outage is reported in about a second
rather than after redis-py's default backoff; and no call waits longer than CALL_DEADLINE_S
whatever happens inside redis-py (see `raises_unavailable`). So does a write that a full Redis
refuses (its
memory cap with the `noeviction` policy: nothing stored is dropped to make room) and a Redis
that refuses the password: each with a message that says which and what to fix. Messages name
Redis by host, port and database, never by a URL with its password.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Concatenate, ParamSpec, Self, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from arena.live.encoding import glob_escaped
from arena.live.results import LiveStateUnavailable

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "arena:"

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)
# The longest any one call may take, everything included (pool wait, connect, retry, reads),
# seconds. The timeouts above bound each step; this bounds the whole, because a call that waits
# on the pool's locks has no timer of its own (see `raises_unavailable`).
CALL_DEADLINE_S = 30.0
# How Redis refuses a write when it is full; inside a Lua script the refusal comes back as a
# script error that quotes it.
_OUT_OF_MEMORY = "OOM command not allowed"


def is_out_of_memory(error: BaseException) -> bool:
    """True when ``error`` is Redis refusing a write because it reached its ``maxmemory``."""
    return isinstance(error, OutOfMemoryError) or (
        isinstance(error, ResponseError) and _OUT_OF_MEMORY in str(error)
    )

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C", bound="LiveConnection")


def stop_if_cancelled() -> None:
    """Raise CancelledError if the running task has been asked to cancel (`Task.cancelling`).

    A loop that keeps going after LiveStateUnavailable (or any Exception) calls this after
    each round. A cancel that lands inside a redis-py command may not come out as
    CancelledError: redis-py's clean-up on the way out (giving the connection back to its
    pool, disconnecting) can raise an exception of its own, which replaces it. The loop would
    take that for an outage and go on, and whoever cancelled it would wait for ever (the
    leaderboard job was seen refreshing every 0.5 s after `task.cancel()` in a loaded test
    run, its task "cancelling")."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def raises_unavailable(
    method: Callable[Concatenate[C, P], Awaitable[T]],
) -> Callable[Concatenate[C, P], Awaitable[T]]:
    """Turn connection failures inside a `LiveConnection` method into `LiveStateUnavailable`,
    with a message that says where Redis was expected and what to check."""

    @functools.wraps(method)
    async def wrapper(self: C, *args: P.args, **kwargs: P.kwargs) -> T:
        deadline = asyncio.timeout(self.call_deadline_s)
        try:
            async with deadline:
                return await method(self, *args, **kwargs)
        except TimeoutError as error:
            if not deadline.expired():
                raise
            # redis-py's pool waits for its locks without a timer: after a Redis restart under
            # load a call was once seen waiting there for good (docs/roadmap.md). Give up, and
            # give the client a fresh pool, so the next call does not queue behind it.
            self.replace_pool()
            raise LiveStateUnavailable(
                f"Redis at {self.where()} did not answer within {self.call_deadline_s:g} s; "
                "its connection pool was replaced. If this repeats, check that redis-server "
                "is running and not overloaded."
            ) from error
        except _UNREACHABLE as error:
            raise LiveStateUnavailable(self.unreachable_message(error)) from error
        except ResponseError as error:
            if not is_out_of_memory(error):
                raise
            raise LiveStateUnavailable(self.full_message()) from error

    return wrapper


class LiveConnection:
    """A `redis.asyncio.Redis` client (made with ``decode_responses=True``) and the key
    prefix everything it stores lives under. Close with `aclose()` or ``async with``."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX,
                 call_deadline_s: float = CALL_DEADLINE_S) -> None:
        self.client = client
        self.prefix = prefix
        self.call_deadline_s = call_deadline_s
        self._dropped_pools: set[asyncio.Task[None]] = set()

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
    ) -> Self:
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

    @raises_unavailable
    async def call(self, command: Callable[[], Awaitable[T]]) -> T:
        """Await `command()`, calls on `self.client` made by a module that keeps keys of its
        own beside this class's (the re-vote ledger), under the same deadline and with the
        same LiveStateUnavailable messages as this class's own methods."""
        return await command()

    def replace_pool(self) -> None:
        """Give the client a new, empty connection pool with the same settings, and close the
        old pool's connections in the background (giving up after a few seconds).

        The client object stays, so the Lua scripts registered on it, and every object that
        shares it (`arena.live.limits.LimitStore`), use the new pool from their next call.
        """
        old = self.client.connection_pool
        self.client.connection_pool = type(old)(
            connection_class=old.connection_class,
            max_connections=old.max_connections,
            **({"timeout": old.timeout} if hasattr(old, "timeout") else {}),
            **old.connection_kwargs,
        )
        log.warning("Redis at %s: a call outlived its deadline; connection pool replaced",
                    self.where())
        task = asyncio.get_running_loop().create_task(self._drop_pool(old))
        self._dropped_pools.add(task)
        task.add_done_callback(self._dropped_pools.discard)

    @staticmethod
    async def _drop_pool(pool: aioredis.ConnectionPool) -> None:
        try:
            async with asyncio.timeout(5.0):
                await pool.disconnect()
        except Exception as error:  # its sockets are closed when collected anyway
            log.info("old Redis pool not closed cleanly: %s", error)

    def key(self, *parts: str) -> str:
        """The Redis key of ``parts`` under this prefix: ``prefix + ":".join(parts)``."""
        return self.prefix + ":".join(parts)

    @raises_unavailable
    async def ping(self) -> None:
        """Raise `LiveStateUnavailable` unless Redis answers."""
        await self.client.ping()

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Close the pool's connections, giving up after `timeout_s` seconds: closing waits
        for the pool's lock without a timer of its own, and a shutdown must not hang on a
        client that never lets go of it (a suspect, not a proven cause, of one loaded test run
        that hung after a Redis restart with no timer pending: docs/roadmap.md)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.client.aclose()
        except TimeoutError:
            log.warning("Redis connections not closed within %g s; dropped", timeout_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @raises_unavailable
    async def clear(self) -> int:
        """Delete every key under this prefix (SCAN, not FLUSHDB); returns how many."""
        deleted = 0
        batch: list[str] = []
        pattern = glob_escaped(self.prefix) + "*"
        async for name in self.client.scan_iter(match=pattern, count=500):
            batch.append(name)
            if len(batch) >= 500:
                deleted += await self.client.delete(*batch)
                batch.clear()
        if batch:
            deleted += await self.client.delete(*batch)
        return deleted

    def where(self) -> str:
        """Where Redis is expected: host:port/db (or a socket path), without any password."""
        kwargs = self.client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return str(kwargs["path"])
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"

    def full_message(self) -> str:
        """What to tell an operator when Redis refused a write because it is full."""
        return (
            f"Redis at {self.where()} is full (it reached its maxmemory and evicts nothing, so "
            "no running battle is lost): new battles and rate-limited steps are refused until "
            "memory frees up (battles expire after battle_ttl_s); raise [arena] "
            "redis_maxmemory_mb (embedded Redis) or the external Redis's maxmemory."
        )

    def unreachable_message(self, error: BaseException) -> str:
        """What to tell an operator when ``error`` kept a call from reaching Redis."""
        where = self.where()
        if isinstance(error, AuthenticationError):
            return (
                f"Redis at {where} refused the password ({type(error).__name__}): live state "
                "is unavailable; give the right password in redis_url (or ARENA_REDIS_URL)."
            )
        return (
            f"Redis at {where} is unreachable ({type(error).__name__}: {error}). Live state "
            "(running battles, rate limits, outage flags) is unavailable until it is back: "
            "check that redis-server is running, or fix redis_url in the config."
        )
