"""Stop: the rater ends the turn now streaming, on whichever worker streams it.

A stop request names a battle and the stream it means (`stream_no`: the battle's count of
streams begun, kept in its state, so a stop meant for one turn never ends the next one). It
is delivered two ways:

- in this process, at once, to the turn streamer watching that stream (the common case: the
  stop reaches the worker that streams);
- through Redis, for a stream on another worker: the key ``stop:<battle_id>:<stream_no>`` is
  set (with a TTL of a turn's longest life), and every process that streams polls the keys of
  its own streams with one MGET every `POLL_S` seconds (one round trip per process, however
  many streams it runs; none while it streams nothing). A stop thus reaches another worker
  within `POLL_S` seconds, or not at all while Redis is down (the rater's tab can still close
  the stream: the answers then end as abandoned).

What the turn streamer does on a stop (cancel both generations, as on a closed tab, which
aborts the vLLM requests; keep the text so far) is in arena.battles.streaming. The words the
rater reads are below: the same whichever side had no text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator

import redis.asyncio as aioredis

from arena.live import LiveStateUnavailable
from arena.live.connection import (
    DEFAULT_PREFIX,
    LiveConnection,
    raises_unavailable,
    stop_if_cancelled,
)
from arena.live.encoding import duration_ms

log = logging.getLogger(__name__)

# How often a process that streams looks for stops sent to another worker (seconds).
POLL_S = 0.25
# What the rater reads after a stop (the `stopped` event's text), whichever side was short.
STOPPED_VOTABLE = "Stopped. Both answers so far are shown: you can vote on them."
STOPPED_UNVOTABLE = ("Stopped before both sides had written something, so this battle cannot "
                     "be voted. Please start a new round.")
# The finish reason a stopped generation is logged with (its text is what the rater saw).
STOPPED_FINISH_REASON = "stopped"


class StopSignals(LiveConnection):
    """Stop requests for the streams of one arena: sent by `request`, received by the streams
    this process `watch`es. Shares `LiveState`'s client (``StopSignals(live.client,
    prefix=live.prefix, ttl_s=...)``)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX,
                 ttl_s: float = 600.0, poll_s: float = POLL_S) -> None:
        super().__init__(client, prefix=prefix)
        self.ttl_s = ttl_s
        self.poll_s = poll_s
        self._watched: dict[str, Callable[[], None]] = {}  # stop key -> what to call
        self._poller: asyncio.Task[None] | None = None

    def stop_key(self, battle_id: str, stream_no: int) -> str:
        return self.key("stop", battle_id, str(stream_no))

    async def request(self, battle_id: str, stream_no: int) -> None:
        """Stop that stream: here at once if this process streams it, and through Redis for
        any other worker. Raises LiveStateUnavailable only when the stream is not this
        process's and Redis cannot be reached."""
        key = self.stop_key(battle_id, stream_no)
        on_stop = self._watched.pop(key, None)
        if on_stop is not None:
            on_stop()
            return
        await self._send(key)

    @raises_unavailable
    async def _send(self, key: str) -> None:
        await self.client.set(key, "1", px=duration_ms(self.ttl_s, "stop signal TTL"))

    @contextlib.contextmanager
    def watch(self, battle_id: str, stream_no: int, on_stop: Callable[[], None]
              ) -> Iterator[None]:
        """Call `on_stop` (once, in this event loop) when that stream is asked to stop,
        while the block runs."""
        key = self.stop_key(battle_id, stream_no)
        self._watched[key] = on_stop
        loop = asyncio.get_running_loop()
        # One poller per process; a new one if the last ended or ran in another event loop.
        if self._poller is None or self._poller.done() or self._poller.get_loop() is not loop:
            self._poller = loop.create_task(self._poll_forever())
        try:
            yield
        finally:
            self._watched.pop(key, None)

    async def poll_once(self) -> int:
        """Look in Redis for stops sent to this process's streams; deliver them. Returns how
        many were delivered."""
        keys = list(self._watched)
        if not keys:
            return 0
        found = await self._read(keys)
        delivered = 0
        for key, value in zip(keys, found, strict=True):
            on_stop = self._watched.pop(key, None) if value is not None else None
            if on_stop is not None:
                on_stop()
                delivered += 1
        return delivered

    @raises_unavailable
    async def _read(self, keys: list[str]) -> list[str | None]:
        return list(await self.client.mget(keys))

    async def _poll_forever(self) -> None:
        unreachable = False  # warned once per outage, not four times a second
        while self._watched:
            await asyncio.sleep(self.poll_s)
            try:
                await self.poll_once()
            except LiveStateUnavailable as down:
                if not unreachable:
                    log.warning("stop requests from other workers not read until Redis is "
                                "back: %s", down)
                unreachable = True
            except Exception:  # polled again next round
                log.exception("reading stop requests failed")
            else:
                if unreachable:
                    log.info("stop requests from other workers are read again")
                unreachable = False
            stop_if_cancelled()

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Stop polling (the Redis client is `LiveState`'s to close)."""
        if self._poller is not None and self._poller.get_loop() is asyncio.get_running_loop():
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
