"""Which arena workers are alive: each keeps ``worker:<worker_id>`` in Redis for as long as it
runs, so another worker can tell that a battle's streamer, or a vote's claimer, is gone.

A worker (one `BattleService`, i.e. one process of one host) has a random id. While it runs,
a background task sets its key with a TTL of `ttl_s` (10 s) every `renew_s` seconds (2.5 s):
one SET per worker every 2.5 s, whatever its load. When the worker dies (SIGKILL, the host
lost), nothing renews the key and it is gone at most `ttl_s` seconds later.

`gone(worker_id)` is true only when the key is missing on two reads `renew_s` + a margin
apart: a Redis that restarted from a snapshot (its keys' TTLs run on) may miss a live worker's
key until that worker's next renewal, and a live worker must not be taken for dead.
A worker stalled for longer than `ttl_s` (an event loop blocked that long) is taken for dead;
what is decided then is safe anyway (see arena.battles.vote_claims and
arena.battles.lost_streams): SQL's unique battle id keeps one record per battle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import redis.asyncio as aioredis

from arena.live.connection import (
    DEFAULT_PREFIX,
    LiveConnection,
    raises_unavailable,
    stop_if_cancelled,
)
from arena.live.encoding import duration_ms
from arena.live.results import LiveStateUnavailable

log = logging.getLogger(__name__)

# How long a worker's key outlives its last renewal, and how often it is renewed (seconds).
PRESENCE_TTL_S = 10.0
PRESENCE_RENEW_S = 2.5
# Added to `renew_s` between the two reads of `gone` (seconds).
CONFIRM_MARGIN_S = 0.5


def new_worker_id() -> str:
    """A random id for one worker (hex, 16 chars): never reused, so a restarted worker is a
    new one and its predecessor stays gone."""
    return uuid.uuid4().hex[:16]


class WorkerPresence(LiveConnection):
    """This worker's presence key, renewed in the background, and the others' keys read.
    Shares `LiveState`'s client (``WorkerPresence(live.client, prefix=live.prefix)``)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX,
                 ttl_s: float = PRESENCE_TTL_S, renew_s: float = PRESENCE_RENEW_S,
                 worker_id: str | None = None) -> None:
        super().__init__(client, prefix=prefix)
        if not 0 < renew_s < ttl_s:
            raise ValueError(f"renew_s ({renew_s}) must be above 0 and below ttl_s ({ttl_s})")
        self.ttl_s = ttl_s
        self.renew_s = renew_s
        self.worker_id = worker_id or new_worker_id()
        self._renewer: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None

    def worker_key(self, worker_id: str) -> str:
        return self.key("worker", worker_id)

    async def ensure_running(self) -> None:
        """Start renewing this worker's key in the running event loop, if nothing renews it
        there yet; the first renewal is done before this returns (a battle stamped with this
        worker's id is never saved before its key exists). Tolerates Redis being down."""
        loop = asyncio.get_running_loop()
        if (self._renewer is not None and not self._renewer.done()
                and self._renewer.get_loop() is loop):
            return
        try:
            await self.renew()
        except LiveStateUnavailable as down:
            log.warning("worker %s: presence not renewed: %s", self.worker_id, down)
        self._stop = asyncio.Event()
        self._renewer = loop.create_task(self._renew_forever(self._stop))

    @raises_unavailable
    async def renew(self) -> None:
        """Set this worker's key for another `ttl_s` seconds."""
        await self.client.set(self.worker_key(self.worker_id), "1",
                              px=duration_ms(self.ttl_s, "worker presence TTL"))

    @raises_unavailable
    async def alive(self, worker_id: str) -> bool:
        """Whether that worker's key is in Redis now (this worker: always)."""
        if worker_id == self.worker_id:
            return True
        return bool(await self.client.exists(self.worker_key(worker_id)))

    async def gone(self, worker_id: str) -> bool:
        """True when that worker's key is missing now and still `renew_s` + a margin later
        (see the module docstring); waits only when it is missing at first."""
        if await self.alive(worker_id):
            return False
        await asyncio.sleep(self.renew_s + min(CONFIRM_MARGIN_S, self.renew_s))
        return not await self.alive(worker_id)

    async def _renew_forever(self, stop: asyncio.Event) -> None:
        unreachable = False  # warned once per outage, not every renewal
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.renew_s)
                return  # aclose: between renewals, never in the middle of a Redis command
            try:
                await self.renew()
            except LiveStateUnavailable as down:
                if not unreachable:
                    log.warning("worker %s: presence not renewed until Redis is back: %s",
                                self.worker_id, down)
                unreachable = True
            except Exception:  # renewed again next round
                log.exception("renewing worker %s's presence failed", self.worker_id)
            else:
                unreachable = False
            stop_if_cancelled()

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Stop renewing and drop this worker's key (it is leaving, not lost: nobody has to
        wait for the key to expire). The Redis client is `LiveState`'s to close."""
        renewer, self._renewer = self._renewer, None
        if renewer is None or renewer.get_loop() is not asyncio.get_running_loop():
            return
        # Asked to stop rather than cancelled: a cancel landing inside redis-py's command left
        # the shared client's next call waiting for good (seen in the tests, 3 runs in 5).
        if self._stop is not None:
            self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(renewer), timeout_s)
        except TimeoutError:  # a renewal stuck past the call deadline: give up on it
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        with contextlib.suppress(LiveStateUnavailable):
            await self._drop()

    @raises_unavailable
    async def _drop(self) -> None:
        await self.client.delete(self.worker_key(self.worker_id))
