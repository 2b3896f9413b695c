"""The stream leases one arena process holds, kept alive while their streams run.

Every answer that streams (a new battle's first turn, a follow-up) holds a lease in Redis
(`arena.live.limits`): it counts against its client address's `streams_per_address` and the
arena's `max_concurrent_streams`. `StreamLeases.held(lease, events)` wraps the stream and
releases the lease when the stream ends, however it ends (finished, failed, the client gone,
the task cancelled). One background task per process renews every lease it holds every
`LEASE_TTL_S / 3` seconds in one round trip; a process that dies stops renewing, so its leases
expire within `LEASE_TTL_S` seconds and free their slots. A lease is renewed for at most
`max_life_s` (a turn's longest possible stream), so one whose stream was never consumed (a
response that was never sent) cannot hold a slot for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

from arena.live import LiveStateUnavailable
from arena.live.connection import stop_if_cancelled
from arena.live.limits import LimitStore

log = logging.getLogger(__name__)

T = TypeVar("T")
LEASE_TTL_S = 30.0


@dataclass(frozen=True)
class Lease:
    """One stream's slot: its client's address key and a random id."""

    address: str
    lease_id: str
    taken_at: float  # time.monotonic() seconds


class StreamLeases:
    """Acquires, renews and releases this process's stream leases."""

    def __init__(self, store: LimitStore, *, max_life_s: float,
                 ttl_s: float = LEASE_TTL_S) -> None:
        self.store = store
        self.max_life_s = max_life_s
        self.ttl_s = ttl_s
        self._held: dict[str, Lease] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._releasing: set[asyncio.Task[None]] = set()

    async def acquire(self, address: str, *, per_address: int, total: int) -> Lease | str:
        """A lease for a stream of `address`, or the name of the full limit ('address' or
        'total'). Raises LiveStateUnavailable when Redis cannot be reached."""
        lease = Lease(address, secrets.token_hex(8), time.monotonic())
        outcome = await self.store.acquire_stream(address, lease.lease_id,
                                                  per_address=per_address, total=total,
                                                  ttl_s=self.ttl_s)
        if outcome != "ok":
            return outcome
        self._held[lease.lease_id] = lease
        self._start_renewing()
        return lease

    async def release(self, lease: Lease) -> None:
        """Free the lease's slot now (it expires by itself if Redis cannot be reached).

        The release runs in a task of its own, shielded: a stream whose client left is closed
        inside a cancelled scope, where every await would be cancelled again at once."""
        if self._held.pop(lease.lease_id, None) is None:
            return
        task = asyncio.get_running_loop().create_task(self._free(lease))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)
        await asyncio.shield(task)

    async def _free(self, lease: Lease) -> None:
        try:
            await self.store.release_stream(lease.address, lease.lease_id)
        except LiveStateUnavailable:
            log.warning("stream lease not released (it expires in %.0f s): Redis unreachable",
                        self.ttl_s)

    async def held(self, lease: Lease, events: AsyncIterator[T]) -> AsyncIterator[T]:
        """`events`, holding `lease` until they end or the consumer stops; closes `events`."""
        try:
            async with contextlib.aclosing(events) as stream:  # type: ignore[type-var]
                async for event in stream:
                    yield event
        finally:
            await self.release(lease)

    async def renew_all(self) -> None:
        """Renew every lease held (dropping those older than `max_life_s`); one round trip."""
        now = time.monotonic()
        for lease_id, lease in list(self._held.items()):
            if now - lease.taken_at > self.max_life_s:
                self._held.pop(lease_id, None)  # left to expire in Redis
        leases = [(lease.address, lease.lease_id) for lease in self._held.values()]
        await self.store.renew_streams(leases, self.ttl_s)

    def _start_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while self._held:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self.renew_all()
            except LiveStateUnavailable:
                log.warning("stream leases not renewed: Redis unreachable")
            except Exception:  # renewed again next round
                log.exception("renewing stream leases failed")
            stop_if_cancelled()

    async def aclose(self) -> None:
        """Stop renewing (the process is stopping; its leases expire by themselves)."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
