"""A child process that writes battle records, so SQL writes do not share the server's GIL.

In one process, the vote writer thread (JSON encoding, row building, the driver) and the event
loop (HTTP, Redis) take turns on one interpreter lock: on this 2-core machine a vote cost
about 1.5 ms of CPU without its SQL write and 3.2 ms with it, the write costing more than
twice what it costs alone because of the contention. `LogProcess` moves the writes into a
child process that owns its own `BattleLog`; the server sends each batch of records pickled
over a pipe (about 0.1 ms per record) and gets back one outcome per record, exactly what
`BattleLog.record_battles` returned in the child (None or the exception). `arena serve` uses
it through `GroupWriter(log, sink=LogProcess(url).record_battles)`; tests and library users
keep the in-process writer.

Failure rules: if the child cannot open the log (bad URL, newer schema) the constructor
raises its error. If it dies (killed, out of memory), the batch in flight fails with
`LogProcessDied` (its records may or may not have been committed: a retried vote then meets
DuplicateBattle, never a second row) and the next batch starts a new child. The child asks the
kernel to terminate it when the server dies, so it is never orphaned.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from arena.record import BattleRecord

log = logging.getLogger(__name__)

# How long the child may take to import and open the log, in seconds.
START_TIMEOUT_S = 120.0


class LogProcessDied(RuntimeError):
    """The writer process ended while a batch was in flight."""


class LogProcess:
    """Owns a child process with a `BattleLog(url)`; `record_battles` runs there."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()  # one batch in flight at a time
        self._process: Any = None
        self._pipe: Connection | None = None
        self._start()

    def record_battles(self, records: Sequence[BattleRecord]) -> list[Exception | None]:
        """`BattleLog.record_battles(records)` in the child; raises what it raised there."""
        payload = pickle.dumps(list(records), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if self._pipe is None:
                self._start()
            assert self._pipe is not None
            try:
                self._pipe.send_bytes(payload)
                reply = pickle.loads(self._pipe.recv_bytes())
            except (EOFError, OSError) as broken:
                self._discard()
                raise LogProcessDied(
                    f"the battle-log writer process ended during a write ({broken}); "
                    "a new one starts with the next write"
                ) from None
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def close(self, timeout_s: float = 30.0) -> None:
        """Let the child finish and exit (it has no queue: every batch was answered)."""
        with self._lock:
            if self._pipe is not None:
                try:
                    self._pipe.send_bytes(b"")
                except OSError:
                    pass
            if self._process is not None:
                self._process.join(timeout_s)
                if self._process.is_alive():
                    self._process.terminate()
            self._discard()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        # spawn: the server has threads (a fork would copy their locks mid-use).
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve, args=(self.url, child, os.getpid()),
            name="arena-log-writer", daemon=True,
        )
        process.start()
        child.close()
        if not parent.poll(START_TIMEOUT_S):
            process.terminate()
            raise LogProcessDied(f"the battle-log writer did not start in {START_TIMEOUT_S:.0f} s")
        try:
            ready = pickle.loads(parent.recv_bytes())
        except (EOFError, OSError):
            process.join(5)
            raise LogProcessDied(
                f"the battle-log writer exited while opening the log (code {process.exitcode})"
            ) from None
        if isinstance(ready, BaseException):
            process.join(5)
            raise ready
        self._process, self._pipe = process, parent

    def _discard(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
        self._pipe = None
        self._process = None


def _serve(url: str, pipe: Connection, parent_pid: int) -> None:
    """The child: open the log, then answer batches until told to stop (an empty message)."""
    if sys.platform.startswith("linux"):
        from serving.launcher import die_with_parent

        die_with_parent(parent_pid)()
    from arena.store import BattleLog

    try:
        battle_log = BattleLog(url)
    except Exception as failure:  # noqa: BLE001 - sent to the parent, which raises it
        pipe.send_bytes(_pickled(failure))
        return
    # What is alive now lives as long as the child: keep it out of the cyclic collector's
    # full passes, which would otherwise pause writes (see arena.app's lifespan).
    gc.collect()
    gc.freeze()
    pipe.send_bytes(pickle.dumps("ready"))
    try:
        while True:
            try:
                message = pipe.recv_bytes()
            except EOFError:  # the server closed its end
                return
            if not message:
                return
            try:
                reply: Any = battle_log.record_battles(pickle.loads(message))
            except Exception as failure:  # noqa: BLE001 - the database failed: the parent raises
                reply = failure
            pipe.send_bytes(_pickled(reply))
    finally:
        battle_log.close()


def _pickled(reply: Any) -> bytes:
    """`reply` pickled; an exception that cannot be pickled travels as a RuntimeError."""
    try:
        return pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001
        if isinstance(reply, list):
            reply = [_portable(item) for item in reply]
        else:
            reply = _portable(reply)
        return pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)


def _portable(item: Any) -> Any:
    if item is None:
        return None
    try:
        pickle.loads(pickle.dumps(item))
        return item
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(item).__name__}: {item}")
