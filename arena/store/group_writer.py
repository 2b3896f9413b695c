"""Group commit: many concurrent battle records written to SQL in one transaction.

The battle service acknowledges a vote only once it is committed. Committing each vote in its
own transaction makes BEGIN/COMMIT and one statement per table per vote the cost of every vote;
under load, votes arrive while the previous commit is still running. `GroupWriter` gives the
log one writer thread that takes everything queued since its last commit (up to `max_batch`
records) and stores it with `BattleLog.record_battles`: one transaction, one statement per
table. Each caller awaits its own record and gets its own outcome (None, DuplicateBattle,
InvalidRecord, RecordRefused, or the database's error), only after the commit that holds it.
A record the database refuses (a NUL in text on PostgreSQL, say) fails alone: the batch is
then written one record per transaction, so the rest of it is committed and only that
record's caller gets the error; only an unavailable database fails the whole batch. With one caller
at a time this is exactly one transaction per record, as without grouping; under load a batch
forms by itself, and latency stays one commit plus the wait for the commit in progress.

This is the in-process writer (library use); `arena serve` writes through
`arena.store.log_process.LogProcess`, which applies the same rule in a child process.

The thread is not a daemon: at interpreter exit it finishes what is queued, then stops (it
polls the main thread), so an accepted vote is never dropped by a clean shutdown.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from arena.record import BattleRecord
from arena.store import BattleLog

# Records per transaction at most: large enough to absorb a burst of several hundred votes per
# second, small enough that one transaction stays a few milliseconds.
DEFAULT_MAX_BATCH = 64
# How often the idle writer looks whether the interpreter is exiting, in seconds.
_IDLE_POLL_S = 0.25


class RecordWriter(Protocol):
    """What the battle service writes its records through (this module's `GroupWriter`, or
    `arena.store.log_process.LogProcess` in `arena serve`)."""

    async def write(self, record: BattleRecord) -> None:
        """Return once `record` is committed; raise what `BattleLog.record_battles` gave it."""
        ...

    async def aclose(self) -> None:
        """Commit what is queued, then stop."""
        ...


@dataclass
class _Pending:
    record: BattleRecord
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]


class GroupWriter:
    """Writes battle records to `log` from one thread, committing what is queued together."""

    def __init__(
        self,
        log: BattleLog,
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        sink: Callable[[Sequence[BattleRecord]], list[Exception | None]] | None = None,
    ) -> None:
        """`sink` writes one batch (default `log.record_battles`)."""
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch!r}")
        self.log = log
        self.sink = sink or log.record_battles
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self._closed = threading.Event()
        # Transactions and records written so far (read by benchmarks and tests).
        self.commits = 0
        self.records = 0
        # Started by the first write, so a service that never writes holds no thread.
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    async def write(self, record: BattleRecord) -> None:
        """Return once `record` is committed; raise what `BattleLog.record_battle` would.

        Cancelling the caller does not withdraw the record: it is written all the same
        (as with a thread-pool write), so a vote is never half-done.
        """
        if self._closed.is_set():
            raise RuntimeError("the battle log writer is closed")
        if self._thread is None:
            with self._starting:
                if self._thread is None:
                    thread = threading.Thread(target=self._run, name="battle-log-writer")
                    thread.start()
                    self._thread = thread
        loop = asyncio.get_running_loop()
        pending = _Pending(record, loop, loop.create_future())
        # A caller cancelled while waiting never reads the outcome; read it so asyncio does
        # not report an unretrieved exception.
        pending.done.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._queue.put(pending)
        await asyncio.shield(pending.done)

    async def aclose(self) -> None:
        """`close` without blocking the event loop."""
        await asyncio.to_thread(self.close)

    def close(self, timeout_s: float | None = None) -> None:
        """Write what is queued, then stop the thread."""
        self._closed.set()
        with self._starting:
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=_IDLE_POLL_S)
            except queue.Empty:
                if self._closed.is_set() or not threading.main_thread().is_alive():
                    return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            outcomes: list[BaseException | None] = list(
                self.sink([pending.record for pending in batch])
            )
        except BaseException as failure:  # the database itself failed: every record fails
            outcomes = [failure] * len(batch)
            if not isinstance(failure, Exception):
                self._settle(batch, outcomes)
                raise
        self.commits += 1
        self.records += len(batch)
        self._settle(batch, outcomes)

    @staticmethod
    def _settle(batch: list[_Pending], outcomes: list[BaseException | None]) -> None:
        for pending, outcome in zip(batch, outcomes, strict=True):
            try:
                pending.loop.call_soon_threadsafe(resolve, pending.done, outcome)
            except RuntimeError:  # that event loop is closed: nobody is waiting any more
                pass


def resolve(done: asyncio.Future[None], outcome: BaseException | None) -> None:
    """Settle a write's future with its outcome (None: committed), unless already settled."""
    if done.done():
        return
    if outcome is None:
        done.set_result(None)
    else:
        done.set_exception(outcome)
