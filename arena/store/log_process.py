"""A child process that writes battle records: SQL off the server's interpreter, group commit
in the child, and no thread in the server.

In one process, a vote writer thread (JSON encoding, row building, the driver) and the event
loop (HTTP, Redis) take turns on one interpreter lock, and the SQL write is a large share of a
vote's CPU. `LogProcess` moves the writes into a child process that owns its own `BattleLog`.
The event loop talks to it over a socket pair without any thread of its own: `write(record)`
sends the pickled record as one framed request and awaits the reply that names it. The child
commits whatever requests arrived while it was committing the last batch together (up to
`max_batch`, one transaction, one statement per table: `BattleLog.record_battles`), so with
one vote at a time each vote is one transaction and under load batches form by themselves.
Each request still gets its own outcome: None, or the exception `record_battles` gave for it
(DuplicateBattle, InvalidRecord, RecordRefused: a record the database refuses fails alone and
the rest of its batch is committed), or, when the database is unavailable, its error for the
whole batch.

Wire format, both ways: a 4-byte big-endian length, then that many bytes. A request's bytes
are an 8-byte request id and the pickled BattleRecord; an empty message asks the child to
stop once it has answered what came before. A reply is the pickle of (request ids, outcomes),
outcomes being a list (one per id) or one exception for all of them.

Failure rules: if the child cannot open the log (bad URL, newer schema) the constructor raises
its error. If it dies (killed, out of memory), every write in flight fails with
`LogProcessDied` (those records may or may not have been committed: a retried vote then meets
DuplicateBattle, never a second row) and the next write starts a new child. A write is never
acknowledged before the child committed it, so nothing acknowledged is lost. The child asks
the kernel to terminate it when the thread that started it (the server's event loop thread)
ends, so it is never orphaned; a clean `aclose` lets it answer everything first.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import sys
from typing import Any

from arena.record import BattleRecord
from arena.store.group_writer import DEFAULT_MAX_BATCH, resolve

log = logging.getLogger(__name__)

# How long the child may take to import and open the log, in seconds.
START_TIMEOUT_S = 120.0

_LENGTH = struct.Struct("!I")  # every message's length prefix, in bytes
_REQUEST_ID = struct.Struct("!Q")  # leads each request's bytes
_STOP = _LENGTH.pack(0)
# What the child reads from its socket at once, in bytes.
_RECV_BYTES = 1 << 20


class LogProcessDied(RuntimeError):
    """The writer process ended while a write was in flight."""


class LogProcess:
    """Owns a child process with a `BattleLog(url)`; `write` commits one record there.

    Used from one event loop (the server's); a write from another thread's loop is handed to
    that loop. `commits` and `records` count the transactions and records answered so far.
    """

    def __init__(self, url: str, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch!r}")
        self.url = url
        self.max_batch = max_batch
        self.commits = 0
        self.records = 0
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting: asyncio.Lock | None = None
        self._stream: asyncio.StreamWriter | None = None
        self._replies: asyncio.Task[None] | None = None
        self._process, sock = self._spawn()
        try:
            sock.settimeout(START_TIMEOUT_S)
            self._check_ready(_recv_message(sock), self._process)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        # Connected to the event loop by the first write.
        self._socket: socket.socket | None = sock

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def write(self, record: BattleRecord) -> None:
        """Return once `record` is committed; raise what `BattleLog.record_battles` gave for it.

        Cancelling the caller does not withdraw the record: once sent it is written all the
        same, so a vote is never half-done.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not None and loop is not self._loop:
            handed = asyncio.run_coroutine_threadsafe(self.write(record), self._loop)
            return await asyncio.wrap_future(handed)
        if self._closed:
            raise RuntimeError("the battle log writer is closed")
        payload = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        stream = self._stream or await self._connect(loop)
        request_id = next(self._ids)
        done = loop.create_future()
        # A caller cancelled while waiting never reads the outcome; read it so asyncio does
        # not report an unretrieved exception.
        done.add_done_callback(lambda future: future.cancelled() or future.exception())
        self._pending[request_id] = done
        stream.write(
            _LENGTH.pack(_REQUEST_ID.size + len(payload)) + _REQUEST_ID.pack(request_id) + payload
        )
        await asyncio.shield(done)

    async def aclose(self, timeout_s: float = 30.0) -> None:
        """Wait for the writes in flight, let the child finish and exit."""
        self._closed = True
        if self._pending:
            await asyncio.wait(list(self._pending.values()), timeout=timeout_s)
        if self._stream is not None:
            self._stream.write(_STOP)
            with contextlib.suppress(ConnectionError):  # the child is gone already
                await self._stream.drain()
        elif self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.setblocking(True)
                self._socket.sendall(_STOP)
        if self._process is not None:
            await asyncio.to_thread(self._process.join, timeout_s)
            if self._process.is_alive():
                self._process.terminate()
        if self._replies is not None:
            await asyncio.gather(self._replies, return_exceptions=True)
        if self._stream is not None:
            self._stream.close()
        if self._socket is not None:
            self._socket.close()
        self._process = self._stream = self._socket = None

    # -- connecting ------------------------------------------------------------------------------

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> asyncio.StreamWriter:
        """The stream to the child: the one opened in the constructor, or a new child's."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._stream is not None:
                return self._stream
            if self._closed:
                raise RuntimeError("the battle log writer is closed")
            fresh = self._socket is None
            if fresh:  # the last child died: start another (on this thread: see _spawn)
                self._process, self._socket = self._spawn()
            reader, stream = await asyncio.open_connection(sock=self._socket)
            self._socket = None
            if fresh:
                try:
                    ready = await asyncio.wait_for(_read_message(reader), START_TIMEOUT_S)
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    ready = None
                if ready is None and self._process.is_alive():  # never became ready
                    self._process.terminate()
                try:
                    self._check_ready(ready, self._process)
                except BaseException:
                    stream.close()
                    if self._process.is_alive():
                        self._process.terminate()
                    raise
            self._loop = loop
            self._replies = loop.create_task(self._read_replies(reader, stream, self._process))
            self._stream = stream
            return stream

    def _spawn(self) -> tuple[Any, socket.socket]:
        """Start a child; returns it and the parent's end of its socket pair.

        spawn, not fork: the server has threads (a fork would copy their locks mid-use). The
        child's PDEATHSIG is tied to the calling thread, which is the server's main thread:
        the constructor and every restart run there, never in a worker thread.
        """
        context = multiprocessing.get_context("spawn")
        parent, child = socket.socketpair()
        process = context.Process(
            target=_serve,
            args=(self.url, child, os.getpid(), self.max_batch, logging.getLogger().level),
            name="arena-log-writer", daemon=True,
        )
        try:
            process.start()
        finally:
            child.close()
        return process, parent

    @staticmethod
    def _check_ready(message: bytes | None, process: Any) -> None:
        if message is None:
            process.join(5)
            raise LogProcessDied(
                f"the battle-log writer exited while opening the log (code {process.exitcode})"
            )
        ready = pickle.loads(message)
        if isinstance(ready, BaseException):
            process.join(5)
            raise ready

    # -- replies ---------------------------------------------------------------------------------

    async def _read_replies(
        self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter, process: Any
    ) -> None:
        """Settle each write with its outcome; when the child is gone, fail what is left."""
        try:
            while True:
                ids, outcomes = pickle.loads(await _read_message(reader))
                if isinstance(outcomes, BaseException):  # the database failed: all of them
                    outcomes = [outcomes] * len(ids)
                self.commits += 1
                self.records += len(ids)
                for request_id, outcome in zip(ids, outcomes, strict=True):
                    done = self._pending.pop(request_id, None)
                    if done is not None:
                        resolve(done, outcome)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            if self._stream is stream:
                self._stream = None
            stream.close()
            if self._pending:
                died = LogProcessDied(
                    "the battle-log writer process ended during a write; "
                    "a new one starts with the next write"
                )
                for done in self._pending.values():
                    resolve(done, died)
                self._pending.clear()
            if not self._closed:
                log.error("the battle-log writer process (pid %s) ended", process.pid)
                if process.is_alive():
                    process.terminate()
                process.join(0)  # reap it if it is gone (multiprocessing reaps it later if not)


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return await reader.readexactly(length)


def _recv_message(sock: socket.socket) -> bytes | None:
    """One message from a blocking socket; None at end of stream."""
    buffer = bytearray()
    while len(buffer) < _LENGTH.size or len(buffer) < _LENGTH.size + _LENGTH.unpack_from(buffer)[0]:
        chunk = sock.recv(_RECV_BYTES)
        if not chunk:
            return None
        buffer += chunk
    (length,) = _LENGTH.unpack_from(buffer)
    return bytes(buffer[_LENGTH.size:_LENGTH.size + length])


def _send_message(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_LENGTH.pack(len(payload)) + payload)


# -- the child -------------------------------------------------------------------------------------


def _serve(url: str, sock: socket.socket, parent_pid: int, max_batch: int, log_level: int
           ) -> None:
    """The child: open the log, then commit requests in batches until told to stop."""
    # Logs to the server's stderr (inherited), at the server's level.
    logging.basicConfig(
        level=log_level, format="%(asctime)s log-writer %(levelname)s %(name)s: %(message)s")
    if sys.platform.startswith("linux"):
        from serving.processes import die_with_parent

        # SIGKILL, since SIGTERM is ignored below.
        die_with_parent(parent_pid, signal.SIGKILL)()
    # Ctrl-C in a terminal and systemd's stop signal the whole process group: the writer must
    # outlive the server's graceful shutdown, which still sends it the votes in flight. It
    # ends when the server closes its socket (or, through PDEATHSIG, when the server dies).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from arena.store import BattleLog

    try:
        battle_log = BattleLog(url)
    except Exception as failure:  # sent to the parent, which raises it
        _send_message(sock, _pickled(failure))
        return
    # What is alive now lives as long as the child: keep it out of the cyclic collector's
    # full passes, which would otherwise pause writes (see arena.web.app's lifespan).
    gc.collect()
    gc.freeze()
    _send_message(sock, pickle.dumps("ready"))
    buffer = bytearray()
    try:
        while True:
            requests, stop = _take_requests(buffer, max_batch)
            if requests:
                ids = [request_id for request_id, _ in requests]
                try:
                    records = [pickle.loads(payload) for _, payload in requests]
                    outcomes: Any = battle_log.record_battles(records)
                except Exception as failure:  # the parent fails the batch
                    outcomes = failure
                _send_message(sock, _pickled((ids, outcomes)))
            if stop:
                return
            if not requests:  # nothing complete is buffered: wait for more
                chunk = sock.recv(_RECV_BYTES)
                if not chunk:  # the server closed its end
                    return
                buffer += chunk
    finally:
        battle_log.close()


def _take_requests(buffer: bytearray, limit: int) -> tuple[list[tuple[int, bytes]], bool]:
    """Remove up to `limit` complete requests from the front of `buffer`.

    Returns them as (request id, pickled record) and whether a stop message came next.
    """
    requests: list[tuple[int, bytes]] = []
    offset = 0
    stop = False
    view = memoryview(buffer)
    try:
        while len(requests) < limit and len(buffer) - offset >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(view, offset)
            if length == 0:
                stop = True
                offset += _LENGTH.size
                break
            end = offset + _LENGTH.size + length
            if end > len(buffer):
                break
            start = offset + _LENGTH.size
            (request_id,) = _REQUEST_ID.unpack_from(view, start)
            requests.append((request_id, bytes(view[start + _REQUEST_ID.size:end])))
            offset = end
    finally:
        view.release()
    del buffer[:offset]
    return requests, stop


def _pickled(reply: Any) -> bytes:
    """`reply` pickled; an exception that cannot be pickled travels as a RuntimeError."""
    try:
        return pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        if isinstance(reply, tuple):
            ids, outcomes = reply
            if isinstance(outcomes, list):
                reply = (ids, [_portable(item) for item in outcomes])
            else:
                reply = (ids, _portable(outcomes))
        else:
            reply = _portable(reply)
        return pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)


def _portable(item: Any) -> Any:
    if item is None:
        return None
    try:
        pickle.loads(pickle.dumps(item))
        return item
    except Exception:
        return RuntimeError(f"{type(item).__name__}: {item}")
