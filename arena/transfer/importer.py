"""Reading battle files into the vote log: our JSONL, FastChat's clean_battle JSON, and Parquet
(ours or FastChat-style); arena.transfer.readers reads them record by record.

FastChat records are labelled as they are read (arena.labels.label_record: labels with the
`lang:<ISO 639-1>` label, labeller_version); `language` keeps FastChat's own value ("English")
when the record has one, so that a clean_battle file survives an import and export unchanged,
and is the detected ISO code otherwise. Our own records are stored exactly as exported (the
JSONL round trip is lossless); those from before labels, or from an older labeller, are
(re)labelled by `arena label`. Parquet rows keep what the table holds
(arena.transfer.parquet_read).

One pass over the file, then one over what it gave:
1. read and validate every record; the first bad one stops the import with "FILE:line N:
   reason" (JSONL, lines count from 1), "FILE:index N: reason" (JSON list, from 0) or
   "FILE:row N: reason" (Parquet, from 0), before anything is written. With skip_invalid, bad
   records are reported and left out instead. Each valid record is turned into its table rows
   right away (arena.store.bulk.prepare) and parked in a temporary file, so the file is
   parsed and checked once and memory stays flat.
2. insert the parked rows in batches of `batch_size`, one transaction each, skipping battle
   ids already stored: importing a file twice adds nothing. Batches keep each write short, so
   a running arena keeps recording votes during a large import; if the import is interrupted,
   running it again finishes it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from arena.store import BattleLog
from arena.store.bulk import RowSpool, insert_new, is_sqlite
from arena.transfer.prepare import prepared_chunks, worker_count
from arena.transfer.readers import (
    BUFFER_BYTES,
    Entry,
    ImportFailed,
    parse_record,
    read_entries,
)

__all__ = ["Entry", "ImportFailed", "ImportReport", "import_file", "parse_record",
           "read_entries"]

_CHUNK = BUFFER_BYTES  # bytes read at a time from a JSON list (tests make it tiny)


@dataclass
class ImportReport:
    """Counts of one import: every record read ends up in exactly one of the other three."""

    read: int = 0
    inserted: int = 0
    already_present: int = 0
    skipped: int = 0

    def summary(self) -> str:
        return (
            f"read {self.read}, inserted {self.inserted}, "
            f"already present {self.already_present}, skipped {self.skipped}"
        )


def import_file(
    path: Path,
    log: BattleLog,
    *,
    skip_invalid: bool = False,
    batch_size: int = 500,
    on_skip: Callable[[str], None] | None = None,
    progress: bool | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import `path` into `log` as described in the module docstring.

    Raises ImportFailed (nothing written) on a missing or unreadable file, or on the first
    invalid record unless `skip_invalid`; then each skipped record's "FILE:line N: reason" is
    passed to `on_skip`. `progress=None` shows progress bars only when stderr is a terminal.
    `workers` processes decode and check the records (arena.transfer.prepare; None: one for
    a small file, the CPUs for a large one); the result does not depend on it.
    """
    if not path.exists():
        raise ImportFailed(f"{path}: no such file")
    if not path.is_file():
        raise ImportFailed(f"{path}: not a file")
    report = ImportReport()
    sqlite = is_sqlite(log)
    with RowSpool() as spool:
        with _progress_bar(None, progress, "reading") as bar:
            # pass 1: validate everything before writing
            for chunk in prepared_chunks(path, sqlite=sqlite, buffer_bytes=_CHUNK,
                                         workers=worker_count(path, workers)):
                report.read += chunk.read
                bar.update(chunk.read)
                spool.add_pickled(chunk.rows, chunk.prepared)
                for where, problem in chunk.problems:
                    if not skip_invalid:
                        raise ImportFailed(f"{where}: {problem}")
                    report.skipped += 1
                    if on_skip is not None:
                        on_skip(f"{where}: {problem}")
        with _progress_bar(spool.count, progress, "writing") as bar:
            for batch in spool.batches(batch_size):  # pass 2: write
                inserted, present = insert_new(log, batch)
                report.inserted += inserted
                report.already_present += present
                bar.update(len(batch))
    return report


def _progress_bar(total: int | None, show: bool | None, what: str):
    from tqdm import tqdm

    visible = sys.stderr.isatty() if show is None else show
    return tqdm(total=total, unit="battle", desc=what, disable=not visible, file=sys.stderr,
                leave=False)
