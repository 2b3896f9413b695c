"""Who begins a battle's next stream: one request, whichever worker takes it.

A follow-up and a Regenerate each begin the battle's next stream (`stream_no` + 1, see
`arena.battles.state.begin_stream`). Two such requests at once (a double click, a script, two
workers) would both read the same state and both stream, and the state saved last would drop
the other's generations from the record. So each first claims ``stream:<battle_id>:<n>`` in
Redis (SET NX): one wins, the other is refused with a message; a request that fails after its
claim gives it back. A claim only has to outlive the moment between a request reading the
battle's state and the winner saving the new stream number (one round trip), so it expires
after `CLAIM_TTL_S`; stream numbers only grow, so a claim left behind never blocks a later
stream, and Redis holds few of them.
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis

from arena.live import LiveStateUnavailable
from arena.live.connection import DEFAULT_PREFIX, LiveConnection, raises_unavailable
from arena.live.encoding import duration_ms

log = logging.getLogger(__name__)

CLAIM_TTL_S = 60.0
TAKEN = ("these answers are already being replaced or continued by another request; wait for "
         "its answers")


class StreamClaims(LiveConnection):
    """The claims on battles' next streams, over `LiveState`'s client (``StreamClaims(
    live.client, prefix=live.prefix, ttl_s=...)``)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX,
                 ttl_s: float = CLAIM_TTL_S) -> None:
        super().__init__(client, prefix=prefix)
        self.ttl_s = ttl_s

    @raises_unavailable
    async def claim(self, battle_id: str, stream_no: int) -> bool:
        """True for exactly one caller per (battle, stream number)."""
        claimed = await self.client.set(self.key("stream", battle_id, str(stream_no)), "1",
                                        nx=True, px=duration_ms(self.ttl_s, "stream claim TTL"))
        return bool(claimed)

    async def release(self, battle_id: str, stream_no: int) -> None:
        """Give a claim back (its request failed before the stream began)."""
        try:
            await self._delete(self.key("stream", battle_id, str(stream_no)))
        except LiveStateUnavailable:
            log.warning("stream claim of battle %s not given back (it expires)", battle_id)

    @raises_unavailable
    async def _delete(self, key: str) -> None:
        await self.client.delete(key)

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Nothing to close: the Redis client is `LiveState`'s."""
