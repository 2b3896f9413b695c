"""Abuse limits in Redis, shared by every worker and host: counters and stream leases.

Counters (`take`, `give_back`): fixed windows anchored at their first hit, like
`LiveState.hit_rate_limit`, but several at once and all or nothing: a request is counted on
every counter it names only if none of them is full, so a refusal costs the client nothing
and one limit never eats another's budget. A request refused later (by the battle service)
gives its hits back. Keys: ``rate:<name>:<who>``.

Stream leases (`acquire_stream`, `renew_streams`, `release_stream`): how many answers stream
at once, per client address and in total. Each stream holds a lease, a member of two sorted
sets (``streams:addr:<address>`` and ``streams:all``) scored with its expiry time on Redis's
clock. A lease is released when its stream ends; its holder renews it while the stream runs;
a lease whose holder died (a crashed worker, a lost connection) expires by itself, so a crash
never keeps a slot for more than the lease's time to live. Expired members are dropped on
every acquisition, inside the same script that counts them.

Every script runs atomically in one round trip (Lua), so concurrent workers never interleave
between a count and its increment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from arena.live.connection import DEFAULT_PREFIX, LiveConnection, raises_unavailable
from arena.live.encoding import duration_ms

# Redis's clock in ms, for lease expiry (the same for every host, whatever its own clock says).
_NOW_MS = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# Counters KEYS[1..n]; ARGV[1..n] their windows (ms), ARGV[n+1..2n] their limits. Returns
# {0, 0} when every counter had room (each is then counted), else {i, ms until counter i's
# window closes} for the first full one (nothing is counted).
TAKE_LUA = """
local n = #KEYS
for i = 1, n do
  local hits = tonumber(redis.call('GET', KEYS[i]) or '0')
  if hits >= tonumber(ARGV[n + i]) then
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], ARGV[i])
      ttl = tonumber(ARGV[i])
    end
    return {i, ttl}
  end
end
for i = 1, n do
  if redis.call('INCR', KEYS[i]) == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[i]) end
end
return {0, 0}
"""

# Undo one hit on each counter KEYS[1..n] that still exists (one whose window closed is gone,
# and must not come back without its expiry).
GIVE_BACK_LUA = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 and tonumber(redis.call('GET', KEYS[i])) > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 0
"""

# A stream lease: KEYS[1] the address's set, KEYS[2] the arena's; ARGV: lease id, time to live
# (ms), per-address limit, total limit. Returns 'ok', 'address' or 'total' (the limit that is
# full; nothing is added then).
ACQUIRE_LUA = _NOW_MS + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 'address' end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 'total' end
local expiry = now + tonumber(ARGV[2])
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], expiry, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 'ok'
"""

# Renew leases: KEYS[1] the arena's set, KEYS[2..n] the address sets; ARGV[1] the time to live
# (ms), ARGV[2..n] the lease in the matching address set. Only leases still there are renewed
# (XX): one that expired or was released stays gone.
RENEW_LUA = _NOW_MS + """
local expiry = now + tonumber(ARGV[1])
for i = 2, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', expiry, ARGV[i])
  redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
if #KEYS > 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 0
"""

# Streams open: KEYS[1] a lease set; expired members are not counted.
COUNT_LUA = _NOW_MS + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""


@dataclass(frozen=True)
class Counter:
    """One fixed-window limit on one client: at most `limit` hits per `window_s` seconds on
    ``rate:<name>:<who>``."""

    name: str
    who: str
    limit: int
    window_s: float


@dataclass(frozen=True)
class Full:
    """The counter that refused a `take`, and when its window reopens (seconds)."""

    counter: Counter
    retry_after_s: float


class LimitStore(LiveConnection):
    """The counters and stream leases of the arena's abuse limits, over one Redis client
    (share `LiveState`'s: ``LimitStore(live.client, prefix=live.prefix)``)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        super().__init__(client, prefix=prefix)
        self._take = client.register_script(TAKE_LUA)
        self._give_back = client.register_script(GIVE_BACK_LUA)
        self._acquire = client.register_script(ACQUIRE_LUA)
        self._renew = client.register_script(RENEW_LUA)
        self._count = client.register_script(COUNT_LUA)

    def counter_key(self, counter: Counter) -> str:
        return self.key("rate", counter.name, counter.who)

    @raises_unavailable
    async def take(self, counters: Sequence[Counter]) -> Full | None:
        """Count one hit on every counter if none is full; else the first full one."""
        if not counters:
            return None
        windows = [duration_ms(c.window_s, f"{c.name} window") for c in counters]
        index, ttl_ms = await self._take(
            keys=[self.counter_key(c) for c in counters],
            args=[*windows, *(c.limit for c in counters)],
        )
        if int(index) == 0:
            return None
        return Full(counters[int(index) - 1], int(ttl_ms) / 1000)

    @raises_unavailable
    async def give_back(self, counters: Sequence[Counter]) -> None:
        """Undo one `take` of these counters (the request was refused after all)."""
        if counters:
            await self._give_back(keys=[self.counter_key(c) for c in counters])

    def stream_keys(self, address: str) -> tuple[str, str]:
        return self.key("streams", "addr", address), self.key("streams", "all")

    @raises_unavailable
    async def acquire_stream(self, address: str, lease: str, *, per_address: int, total: int,
                             ttl_s: float) -> str:
        """Take a stream slot for `address` under lease id `lease`, living `ttl_s` seconds
        unless renewed: 'ok', or the limit that is full ('address' or 'total')."""
        return str(await self._acquire(
            keys=list(self.stream_keys(address)),
            args=[lease, duration_ms(ttl_s, "stream lease"), per_address, total],
        ))

    @raises_unavailable
    async def renew_streams(self, leases: Sequence[tuple[str, str]], ttl_s: float) -> None:
        """Push the expiry of these (address, lease) pairs `ttl_s` seconds from now."""
        if not leases:
            return
        await self._renew(
            keys=[self.key("streams", "all"),
                  *(self.stream_keys(address)[0] for address, _ in leases)],
            args=[duration_ms(ttl_s, "stream lease"), *(lease for _, lease in leases)],
        )

    @raises_unavailable
    async def release_stream(self, address: str, lease: str) -> None:
        """Free a stream slot (its stream ended)."""
        by_address, everyone = self.stream_keys(address)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zrem(by_address, lease)
            pipe.zrem(everyone, lease)
            await pipe.execute()

    @raises_unavailable
    async def streams_open(self, address: str | None = None) -> int:
        """Streams holding a live lease: of `address`, or of the whole arena."""
        by_address, everyone = self.stream_keys(address or "")
        return int(await self._count(keys=[by_address if address else everyone]))
