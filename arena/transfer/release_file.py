"""Writing a file of lines in sorted order without holding it in memory, and replacing a file
only once its new content is complete.

`SortedLines` spills (sort key, line) pairs into a private temporary SQLite database (Python's
standard library; SQLite sorts on disk when the rows outgrow its cache), so sorting the public
release of a long log costs disk, not memory.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType


class SortedLines:
    """Collect lines under a sort key (a tuple of strings); read them back in key order.

    Use as a context manager: the temporary database lives in `folder` and is removed on exit.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._path: Path | None = None
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> SortedLines:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".sort.", suffix=".db", dir=self.folder)
        os.close(handle)
        self._path = Path(name)
        self._db = sqlite3.connect(name)
        # A scratch file: nothing to recover after a crash, so no journal and no fsync.
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE line (k1 TEXT, k2 TEXT, body TEXT)")
        return self

    def add(self, key: tuple[str, str], line: str) -> None:
        assert self._db is not None, "use SortedLines as a context manager"
        self._db.execute("INSERT INTO line VALUES (?, ?, ?)", (*key, line))

    def sorted(self) -> Iterator[str]:
        """Every line added, in (key, then insertion) order."""
        assert self._db is not None, "use SortedLines as a context manager"
        cursor = self._db.execute("SELECT body FROM line ORDER BY k1, k2, rowid")
        for (body,) in cursor:
            yield body

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._db is not None:
            self._db.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


def replace_atomically(path: Path, lines: Iterable[str]) -> None:
    """Write `lines` (each followed by a newline) to a temporary file beside `path`, then
    rename it over `path`: a reader sees the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            for line in lines:
                stream.write(line)
                stream.write("\n")
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a release is for everyone
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def sha256_of(path: Path) -> str:
    """The file's SHA-256, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
