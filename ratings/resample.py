"""Bootstrap resampling of aggregated counts.

Resampling N battles with replacement and re-aggregating gives cell counts distributed
Multinomial(N, c / N) over the aggregated cells (c_k battles in cell k); drawing that
multinomial directly is exactly the nonparametric bootstrap (Efron 1979). `CountSampler`
draws it exactly, in one of two ways, whichever touches fewer random numbers:

- Poissonisation (N much larger than the number of cells K). Draw X_k ~ Poisson(c_k)
  independently, S = sum_k X_k. Given S = s, X ~ Multinomial(s, c / N) (Poisson splitting).
  If s < N, add N - s battles drawn uniformly with replacement; if s > N, remove s - N of the
  s drawn battles uniformly without replacement. Either way the result is a multinomial
  sample of exactly N battles with the right probabilities, for every s, so the draw is exact,
  not an approximation. Cost: K Poisson variates plus |S - N| ~ sqrt(N) corrections, against
  K sequential binomials for `Generator.multinomial` (about twice as slow per variate).
- Battle indices (N at most `INDEX_FACTOR` x K, e.g. row-level style-control data where
  nearly every battle is its own cell): draw N battle indices uniformly and count them per
  cell. Cost: N cheap integers.

Rounds are drawn in fixed chunks of `CHUNK_ROUNDS`, each chunk from its own generator spawned
from `numpy.random.SeedSequence(seed)`, and within a chunk one round at a time, so the draws
depend only on (seed, rounds, counts) and not on how many threads consume them or how many
rounds a refit processes at once.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

P = ParamSpec("P")
T = TypeVar("T")

CHUNK_ROUNDS = 50
# Draw battle indices instead of Poisson variates when N <= INDEX_FACTOR * K. Measured per
# round on 200,000 cells of c battles each: c = 1: indices 2.3 ms, Poisson 10 ms; c = 2: 9.6
# vs 11 ms; c = 4: 27 vs 15 ms.
INDEX_FACTOR = 2
# Refits see at most this many (cell x round) numbers at once, to bound memory (~16 MB/array).
BLOCK_ELEMENTS = 2_000_000


# Small dense algebra (n ~ 100) runs with BLAS on one thread: on two busy shared cores a
# multi-threaded OpenBLAS made one 134 x 134 solve take 130 ms instead of 0.3 ms and 50 of them
# 6.4 s instead of 34 ms (measured), and our bootstrap threads already use both cores.
def single_threaded_blas(function: Callable[P, T]) -> Callable[P, T]:
    """Run `function` with BLAS limited to one thread (a fresh limiter per call, so nested
    and concurrent uses restore the caller's setting correctly)."""

    @functools.wraps(function)
    def limited(*args: P.args, **kwargs: P.kwargs) -> T:
        with threadpool_limits(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return limited


def round_chunks(rounds: int) -> list[tuple[int, int]]:
    """(start, stop) of each chunk of bootstrap rounds."""
    return [(s, min(s + CHUNK_ROUNDS, rounds)) for s in range(0, rounds, CHUNK_ROUNDS)]


def chunk_generators(seed: int, rounds: int) -> list[np.random.Generator]:
    """One independent generator per chunk, from SeedSequence(seed).spawn."""
    children = np.random.SeedSequence(seed).spawn(len(round_chunks(rounds)))
    return [np.random.Generator(np.random.PCG64(child)) for child in children]


class CountSampler:
    """Exact draws of Multinomial(N, count / N) for integer cell counts (see module doc)."""

    def __init__(self, count: np.ndarray):
        count = np.asarray(count, dtype=np.float64)
        if count.ndim != 1 or (count < 0).any() or (count != np.round(count)).any():
            raise ValueError("bootstrap needs non-negative integer battle counts per cell")
        self.count = count
        self.cells = len(count)
        self.integer_count = count.astype(np.int64)
        self.cumulative = np.cumsum(self.integer_count)
        self.battles = int(self.cumulative[-1]) if self.cells else 0
        self.by_index = self.battles <= INDEX_FACTOR * self.cells
        # battle number -> its cell, so that drawing battles is one gather (None: identity).
        self.cell_of_battle = None
        if self.by_index and (self.integer_count != 1).any():
            self.cell_of_battle = np.repeat(np.arange(self.cells), self.integer_count)

    def _cells_of(self, battle: np.ndarray) -> np.ndarray:
        # Battle b belongs to cell k with cumulative[k-1] <= b < cumulative[k].
        return np.searchsorted(self.cumulative, battle, side="right")

    def draw(self, generator: np.random.Generator) -> np.ndarray:
        """One bootstrap round: resampled counts per cell (float64, sums to N)."""
        n, k = self.battles, self.cells
        if self.by_index:
            battle = generator.integers(0, n, n)
            cells = battle if self.cell_of_battle is None else self.cell_of_battle[battle]
            return np.bincount(cells, minlength=k).astype(np.float64)
        x = generator.poisson(self.count)
        drawn = int(x.sum())
        if drawn < n:
            x += np.bincount(self._cells_of(generator.integers(0, n, n - drawn)), minlength=k)
        elif drawn > n:
            removed = generator.choice(drawn, drawn - n, replace=False, shuffle=False)
            x -= np.bincount(np.searchsorted(np.cumsum(x), removed, side="right"),
                             minlength=k)
        return x.astype(np.float64)

    def draw_rounds(self, generator: np.random.Generator, size: int) -> np.ndarray:
        """`size` rounds, shape (size, K), drawn one after another from `generator`."""
        out = np.empty((size, self.cells))
        for row in range(size):
            out[row] = self.draw(generator)
        return out


def multinomial_counts(
    count: np.ndarray, size: int, generator: np.random.Generator
) -> np.ndarray:
    """`size` bootstrap draws of the cell counts: Multinomial(sum(count), count / sum(count))."""
    return CountSampler(count).draw_rounds(generator, size)


def map_chunks(
    work: Callable[[np.ndarray], np.ndarray],
    count: np.ndarray,
    rounds: int,
    seed: int,
    threads: int | None = None,
) -> np.ndarray:
    """Draw every round's counts and apply `work(draws)` to blocks of rounds (draws has shape
    (block rounds, K); work returns one row per round), stacking the results in round order.

    Blocks hold at most `BLOCK_ELEMENTS` counts (at least one round), so large row-level data
    stays within memory; they never straddle chunks, so the results do not depend on
    `threads`. NumPy releases the GIL in its random and array kernels, so chunks run in
    parallel threads, with BLAS limited to one thread each (`single_threaded_blas`).
    """
    sampler = CountSampler(count)
    chunks = round_chunks(rounds)
    generators = chunk_generators(seed, rounds)
    threads = threads or min(len(chunks), os.cpu_count() or 1, 8)
    block = max(1, min(CHUNK_ROUNDS, BLOCK_ELEMENTS // max(sampler.cells, 1)))

    def one(index: int) -> np.ndarray:
        start, stop = chunks[index]
        parts = []
        for begin in range(start, stop, block):
            size = min(block, stop - begin)
            parts.append(work(sampler.draw_rounds(generators[index], size)))
        return np.concatenate(parts)

    with threadpool_limits(limits=1, user_api="blas"):
        if threads <= 1:
            return np.concatenate([one(i) for i in range(len(chunks))])
        with ThreadPoolExecutor(threads) as pool:
            return np.concatenate(list(pool.map(one, range(len(chunks)))))
