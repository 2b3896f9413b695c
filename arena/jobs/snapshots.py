"""The leaderboard's snapshot folders: written whole or not at all, and only the newest kept.

Layout of the job's out_dir (everything in it is served publicly at /snapshots):

    <out_dir>/<UTC stamp>/          one finished snapshot (stamp: 20260301T120000123456Z)
    <out_dir>/.<UTC stamp>.part/    a snapshot being written (never served as finished)
    <out_dir>/.lock                 held (flock) while a snapshot is written or old ones pruned

A snapshot is written into its `.part` folder and renamed to its stamp once complete, so a
finished name always holds a whole snapshot. Writing and pruning hold an exclusive lock on
`.lock`, so two processes sharing the data directory never prune a snapshot another is writing.
`prune` keeps the newest `keep` finished snapshots plus any named in `protect` (the one the
served leaderboard points to), removes leftover `.part` folders (their writer died: the lock is
free), and removes every snapshot of the old layout (one holding `battles.jsonl`, a full copy
of the vote log, which must not stay public). Anything else in out_dir is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
import shutil
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

STAMP = re.compile(r"^\d{8}T\d{12}Z$")
STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
PART_SUFFIX = ".part"
LOCK_FILE = ".lock"
LEGACY_LOG_COPY = "battles.jsonl"


@dataclass
class PendingSnapshot:
    """A snapshot being written in `path`; `publish` renames it to `final`."""

    stamp: str
    path: Path
    final: Path
    published: bool = False

    def publish(self) -> Path:
        self.path.rename(self.final)
        self.published = True
        return self.final


class SnapshotStore:
    """Finished snapshots under `root`, at most `keep` of them after each prune (plus the
    protected ones)."""

    def __init__(self, root: Path, keep: int) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1: the served leaderboard needs its snapshot")
        self.root = root
        self.keep = keep

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's exclusive lock (blocking) for the duration of the block."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def new_snapshot(self) -> Iterator[PendingSnapshot]:
        """A fresh `.part` folder, under the lock; removed on exit unless `publish`ed."""
        with self.locked():
            stamp = self._fresh_stamp()
            pending = PendingSnapshot(stamp, self.root / f".{stamp}{PART_SUFFIX}",
                                      self.root / stamp)
            pending.path.mkdir()
            try:
                yield pending
            finally:
                if not pending.published:
                    shutil.rmtree(pending.path, ignore_errors=True)

    def finished(self) -> list[str]:
        """Stamps of the finished snapshots, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in self.root.iterdir()
                      if entry.is_dir() and STAMP.match(entry.name))

    def prune(self, protect: Collection[str] = ()) -> list[str]:
        """Remove what the module docstring says; returns the names removed."""
        removed: list[str] = []
        with self.locked():
            stamps = self.finished()
            legacy = [s for s in stamps if (self.root / s / LEGACY_LOG_COPY).exists()]
            current = [s for s in stamps if s not in legacy]
            kept = set(current[-self.keep:]) | (set(protect) - set(legacy))
            doomed = [s for s in current if s not in kept] + legacy
            doomed += [entry.name for entry in self.root.iterdir()
                       if entry.is_dir() and entry.name.endswith(PART_SUFFIX)]
            for name in doomed:
                shutil.rmtree(self.root / name, ignore_errors=True)
                removed.append(name)
        if legacy:
            log.warning("removed %d old leaderboard snapshot(s) holding a full copy of the vote "
                        "log (%s)", len(legacy), LEGACY_LOG_COPY)
        return removed

    def _fresh_stamp(self) -> str:
        taken = set(self.finished())
        moment = datetime.now(UTC)
        while (stamp := moment.strftime(STAMP_FORMAT)) in taken:
            moment += timedelta(microseconds=1)  # two refreshes within a microsecond
        return stamp
