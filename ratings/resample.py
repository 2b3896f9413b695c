"""Bootstrap resampling of aggregated counts.

Resampling N battles with replacement and re-aggregating gives cell counts distributed
Multinomial(N, count / N) over the aggregated cells; drawing that multinomial directly is
exactly the nonparametric bootstrap (Efron 1979), at a cost proportional to the number of
cells instead of the number of battles.

Rounds are drawn in fixed chunks, each from its own generator spawned from
`numpy.random.SeedSequence(seed)`, so the draws depend only on (seed, rounds) and not on how
many threads consume them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CHUNK_ROUNDS = 50


def round_chunks(rounds: int) -> list[tuple[int, int]]:
    """(start, stop) of each chunk of bootstrap rounds."""
    return [(s, min(s + CHUNK_ROUNDS, rounds)) for s in range(0, rounds, CHUNK_ROUNDS)]


def chunk_generators(seed: int, rounds: int) -> list[np.random.Generator]:
    """One independent generator per chunk, from SeedSequence(seed).spawn."""
    children = np.random.SeedSequence(seed).spawn(len(round_chunks(rounds)))
    return [np.random.Generator(np.random.PCG64(child)) for child in children]


def multinomial_counts(
    count: np.ndarray, size: int, generator: np.random.Generator
) -> np.ndarray:
    """`size` bootstrap draws of the cell counts: Multinomial(sum(count), count / sum(count))."""
    total = int(round(float(count.sum())))
    return generator.multinomial(total, count / count.sum(), size=size).astype(np.float64)


def map_chunks(
    work: Callable[[np.ndarray, int, int], np.ndarray],
    count: np.ndarray,
    rounds: int,
    seed: int,
    threads: int | None = None,
) -> np.ndarray:
    """Draw every chunk's counts and apply `work(draws, start, stop)`, stacking the results in
    round order. NumPy releases the GIL in its random and array kernels, so chunks run in
    parallel threads."""
    chunks = round_chunks(rounds)
    generators = chunk_generators(seed, rounds)
    threads = threads or min(len(chunks), os.cpu_count() or 1, 8)

    def one(index: int) -> np.ndarray:
        start, stop = chunks[index]
        draws = multinomial_counts(count, stop - start, generators[index])
        return work(draws, start, stop)

    if threads <= 1:
        parts: Iterator[np.ndarray] = map(one, range(len(chunks)))
        return np.concatenate(list(parts))
    with ThreadPoolExecutor(threads) as pool:
        return np.concatenate(list(pool.map(one, range(len(chunks)))))
