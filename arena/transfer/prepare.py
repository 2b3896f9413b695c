"""Pass 1 of an import: records decoded, checked and turned into table rows, in chunks, in this
process or in a pool of worker processes.

Reading a file's records (arena.transfer.readers.read_units) is cheap; decoding, checking and
preparing each one's rows costs a few hundred microseconds of CPU, so a large import does that
in `workers` processes while this one reads, and gets the chunks back in file order. A chunk
comes back as the pickled list of its prepared battles (arena.store.bulk.PreparedBattle),
which goes into the spool as it is, and the problems of its invalid records in order, so what
an import reports, and which invalid record it stops at, does not depend on the number of
workers. At most 2 x `workers` chunks are in flight, so memory stays bounded.

Workers start with "forkserver" (not "fork": the parent holds database connections and a
checkpoint thread). Below AUTO_MIN_BYTES the pool's start-up costs more than it saves, so
`workers=None` means one process for small files and up to AUTO_MAX_WORKERS otherwise.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from arena.store.bulk import prepare
from arena.transfer.readers import BUFFER_BYTES, Unit, decode_unit, read_units

CHUNK = 256  # records per chunk sent to a worker
AUTO_MIN_BYTES = 32 << 20
AUTO_MAX_WORKERS = 8


@dataclass(frozen=True)
class Chunk:
    """What pass 1 made of consecutive records: how many, their prepared rows (a pickled list,
    `prepared` of them) and the (where, problem) of the invalid ones, in file order."""

    read: int
    prepared: int
    rows: bytes
    problems: list[tuple[str, str]]


def worker_count(path: Path, workers: int | None) -> int:
    """`workers`, or for None: 1 below AUTO_MIN_BYTES, else the CPUs up to AUTO_MAX_WORKERS."""
    if workers is not None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        return workers
    if path.stat().st_size < AUTO_MIN_BYTES:
        return 1
    return max(1, min(AUTO_MAX_WORKERS, len(os.sched_getaffinity(0))))


def prepare_chunk(path: str, units: list[Unit], sqlite: bool) -> Chunk:
    """Decode, check and prepare `units` of the file at `path` (runs in a worker)."""
    prepared, problems = [], []
    for unit in units:
        entry = decode_unit(unit, Path(path))
        if entry.record is None:
            problems.append((entry.where, entry.problem or "invalid"))
        else:
            prepared.append(prepare(entry.record, sqlite=sqlite))
    rows = pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL)
    return Chunk(len(units), len(prepared), rows, problems)


def prepared_chunks(path: Path, *, sqlite: bool, workers: int = 1,
                    buffer_bytes: int = BUFFER_BYTES) -> Iterator[Chunk]:
    """Every record of `path` prepared, chunk by chunk in file order."""
    units = read_units(path, buffer_bytes=buffer_bytes)
    batches = iter(lambda: list(islice(units, CHUNK)), [])
    if workers == 1:
        for batch in batches:
            yield prepare_chunk(str(path), batch, sqlite)
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))
    pending: deque[Future[Chunk]] = deque()
    try:
        for batch in batches:
            pending.append(pool.submit(prepare_chunk, str(path), batch, sqlite))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
