"""WAL checkpoints of a SQLite vote log, off the vote path.

By default SQLite checkpoints inside the COMMIT that pushes the write-ahead log past 1000 pages:
that commit copies the log into the database file and fsyncs it, and every vote queued behind
it waits as long. So the log's writer connection turns automatic checkpoints off
(`PRAGMA wal_autocheckpoint=0`, see arena.store.connections) and `WalCheckpointer`
runs them from a thread of its own on a connection of its own:

- every `interval_s`, a PASSIVE checkpoint: copies what it can without blocking any reader or
  writer (its fsync happens outside every transaction, and the sqlite3 module releases the GIL
  while it runs);
- when the log has grown past `restart_frames` pages, a RESTART checkpoint: it waits for the
  writer in progress, copies the little the passive ones left, fsyncs, and makes the next
  write start the log file again from its beginning. Under a steady stream of writes passive
  checkpoints alone never let the log restart (SQLite restarts it only when a write begins
  after everything has been copied), so the file would grow as long as the stream lasts.
  A restart blocks writers while it runs, and takes longer the larger the log, so the
  default threshold is small (16 MiB) and restarts are frequent and short. A RESTART rather
  than a TRUNCATE, which would also stall writes while it frees the file's blocks.
  The file keeps its size between restarts (it is reused), so the log stays under about
  `restart_frames` pages on disk.

Durability is unchanged: commits are not fsynced in WAL mode with synchronous=NORMAL either
way, and a checkpoint is the same operation whichever connection runs it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 1.0
# 16 MiB of log at SQLite's default 4 KiB page.
DEFAULT_RESTART_FRAMES = 4_096


class WalCheckpointer:
    """Checkpoints the SQLite database at `path` from a daemon thread until `close()`."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_ms: int,
        interval_s: float = DEFAULT_INTERVAL_S,
        restart_frames: int = DEFAULT_RESTART_FRAMES,
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.interval_s = interval_s
        self.restart_frames = restart_frames
        self.checkpoints = 0  # completed checkpoint calls (read by tests)
        self._stop = threading.Event()
        # Daemon: a checkpoint left undone at exit is done by the next connection to open the
        # database (or SQLite's last close); nothing is lost.
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    if connection is None:
                        connection = sqlite3.connect(
                            self.path, isolation_level=None, check_same_thread=False,
                            timeout=self.busy_timeout_ms / 1000,
                        )
                        connection.execute("PRAGMA wal_autocheckpoint=0").fetchall()
                    self.checkpoint(connection)
                except sqlite3.Error as error:  # retried next round; writes never depend on it
                    log.warning("WAL checkpoint of %s failed: %s", self.path, error)
        finally:
            if connection is not None:
                connection.close()

    def checkpoint(self, connection: sqlite3.Connection) -> tuple[int, int]:
        """One passive checkpoint, then a restarting one if the log is past the threshold.
        Returns (pages in the log, pages copied) as SQLite reports them."""
        # fetchall: a statement left unfinished would keep a read snapshot open.
        _busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
        if frames >= self.restart_frames:
            began = time.perf_counter()
            _busy, frames, copied = connection.execute(
                "PRAGMA wal_checkpoint(RESTART)").fetchall()[0]
            log.info("WAL of %s restarted at %d pages in %.1f ms", self.path, frames,
                     (time.perf_counter() - began) * 1000)
        self.checkpoints += 1
        return frames, copied
