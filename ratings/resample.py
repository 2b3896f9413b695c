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
  K sequential binomials for `Generator.multinomial`, each dearer than a Poisson variate.
- Battle indices (N at most `INDEX_FACTOR` x K, e.g. row-level style-control data where
  nearly every battle is its own cell): draw N battle indices uniformly and count them per
  cell. Cost: N cheap integers.

The Poisson variates of a whole chunk of rounds are drawn together by `PoissonTables`, which
needs far fewer random numbers than one `Generator.poisson` call per variate: the cell counts
are integers with few distinct values, and every round draws the same Poisson(c) for every
cell with count c. For the m cells of count c and R rounds, the m·R variates are i.i.d.
Poisson(c), so their histogram over the support is Multinomial(m·R, pmf_c) and, given the
histogram, their order is a uniformly random permutation. Drawing the histogram (one binomial
per support point) and shuffling the expanded values is therefore the same distribution as m·R
independent draws. The support is truncated to c ± (12 sqrt(c) + 12), outside of which
Poisson(c) has probability below 1e-25, far below the rounding of the pmf itself. The shuffle
is most of the cost.

Rounds are drawn in fixed chunks, each chunk from its own generator spawned from
`numpy.random.SeedSequence(seed)`, so the draws depend only on (seed, rounds, counts) and not
on how many threads consume them or how many rounds a refit processes at once. Chunks hold
`TABLE_CHUNK_ROUNDS` rounds when the Poisson tables are used (they gain from many rounds at
once), `CHUNK_ROUNDS` otherwise (one round at a time, so small chunks keep threads busy).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import numpy as np
from scipy.special import gammaln
from threadpoolctl import ThreadpoolController

P = ParamSpec("P")
T = TypeVar("T")

CHUNK_ROUNDS = 50
TABLE_CHUNK_ROUNDS = 250
# The Poisson tables draw a whole chunk at once: only when (chunk rounds x cells) stays below
# this many numbers (80 MB of float64, plus as much for the correction's counts), else one
# round at a time.
TABLE_MAX_ELEMENTS = 10_000_000
# Truncation of the Poisson support: c ± (SUPPORT_SIGMAS sqrt(c) + SUPPORT_SIGMAS).
SUPPORT_SIGMAS = 12
# Table chunks draw Poisson(t c) with t = 1 - THINNING_SIGMAS / sqrt(N) (see draw_chunk).
THINNING_SIGMAS = 4.0
# Up to this many battles, a battle-to-cell array (int32, 4 bytes per battle) replaces a
# binary search when the table chunks add battles.
CELL_TABLE_MAX_BATTLES = 50_000_000
# Draw battle indices instead of Poisson variates when N <= INDEX_FACTOR * K: about where N
# cheap integers stop costing less than K Poisson variates.
INDEX_FACTOR = 2
# Refits see at most this many (cell x round) numbers at once, to bound memory (~16 MB/array).
BLOCK_ELEMENTS = 2_000_000


# Small dense algebra (n ~ 100) runs with BLAS on one thread: a multi-threaded BLAS gains
# nothing on matrices this small and, on busy shared cores, its threads wait on each other;
# the bootstrap threads already use every core.
def single_threaded_blas(function: Callable[P, T]) -> Callable[P, T]:
    """Run `function` with BLAS limited to one thread (a fresh limiter per call, so nested
    and concurrent uses restore the caller's setting correctly)."""

    @functools.wraps(function)
    def limited(*args: P.args, **kwargs: P.kwargs) -> T:
        with blas_controller().limit(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return limited


@functools.cache
def blas_controller() -> ThreadpoolController:
    """One controller of the loaded thread pools for the process. Each bare
    `threadpool_limits` call scans every loaded library again (~20 ms), which a board with
    dozens of category boards paid dozens of times; the BLAS libraries are loaded with numpy
    and scipy (whose own copy is loaded here, so it is among them)."""
    import scipy.linalg  # noqa: F401

    return ThreadpoolController()


def round_chunks(rounds: int, chunk_rounds: int = CHUNK_ROUNDS) -> list[tuple[int, int]]:
    """(start, stop) of each chunk of bootstrap rounds."""
    return [(s, min(s + chunk_rounds, rounds)) for s in range(0, rounds, chunk_rounds)]


def chunk_generators(seed: int, chunks: int) -> list[np.random.Generator]:
    """One independent generator per chunk, from SeedSequence(seed).spawn."""
    children = np.random.SeedSequence(seed).spawn(chunks)
    return [np.random.Generator(np.random.PCG64(child)) for child in children]


class PoissonTables:
    """Poisson(c_k) variates for every cell k and many rounds at once (see module doc)."""

    def __init__(self, count: np.ndarray, scale: float = 1.0):
        """Variates of Poisson(scale * c_k) for the integer counts c_k."""
        count = np.asarray(count, dtype=np.int64)
        self.cells = len(count)
        values, inverse = np.unique(count, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.r_[0, np.cumsum(np.bincount(inverse, minlength=len(values)))]
        self.groups = [order[bounds[i]:bounds[i + 1]] for i in range(len(values))]
        self.supports: list[np.ndarray] = []
        self.pmfs: list[np.ndarray] = []
        for value in values * scale:
            if value == 0:
                self.supports.append(np.zeros(1))
                self.pmfs.append(np.ones(1))
                continue
            width = SUPPORT_SIGMAS * np.sqrt(value) + SUPPORT_SIGMAS
            support = np.arange(max(0, int(value - width)), int(value + width) + 1)
            log_pmf = support * np.log(value) - value - gammaln(support + 1)
            support = support.astype(np.float64)  # the refits take float counts
            pmf = np.exp(log_pmf - log_pmf.max())
            self.supports.append(support)
            self.pmfs.append(pmf / pmf.sum())

    def draw(self, generator: np.random.Generator, rounds: int) -> np.ndarray:
        """Independent Poisson variates, shape (cells, rounds), float64 (a column per round:
        the layout the refits use, so no transposition is needed)."""
        out = np.empty((self.cells, rounds))
        for cells, support, pmf in zip(self.groups, self.supports, self.pmfs, strict=True):
            histogram = generator.multinomial(len(cells) * rounds, pmf)
            values = np.repeat(support, histogram)
            generator.shuffle(values)
            out[cells] = values.reshape(len(cells), rounds)
        return out


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
        # Table chunks (see `chunk_rounds`): the Poisson tables, built once here so that the
        # threads share them, and battle number -> cell as one gather for the added battles.
        self.tables: PoissonTables | None = None
        if self.chunk_rounds == TABLE_CHUNK_ROUNDS:
            scale = max(0.0, 1.0 - THINNING_SIGMAS / np.sqrt(max(self.battles, 1)))
            self.tables = PoissonTables(self.integer_count, scale)
            if self.battles <= CELL_TABLE_MAX_BATTLES:
                self.cell_of_battle = np.repeat(
                    np.arange(self.cells, dtype=np.int32), self.integer_count)

    def _cells_of(self, battle: np.ndarray) -> np.ndarray:
        # Battle b belongs to cell k with cumulative[k-1] <= b < cumulative[k].
        return np.searchsorted(self.cumulative, battle, side="right")

    @property
    def chunk_rounds(self) -> int:
        """Rounds per chunk (and per generator) for this data (see the module doc)."""
        if not self.by_index and TABLE_CHUNK_ROUNDS * self.cells <= TABLE_MAX_ELEMENTS:
            return TABLE_CHUNK_ROUNDS
        return CHUNK_ROUNDS

    def draw_chunk(self, generator: np.random.Generator, size: int) -> np.ndarray:
        """A whole chunk of `size` rounds, shape (size, K): by the Poisson tables when this
        sampler's chunks are table chunks (then a transposed view of a (K, size) C-ordered
        array, which the refits use as it is), else one round after another.

        Table chunks draw X_k ~ Poisson(t c_k) with t = 1 - THINNING_SIGMAS / sqrt(N), not
        t = 1: Poisson splitting holds for any common factor (given S = s, X is still
        Multinomial(s, c / N)), and with S ~ Poisson(t N) below N in all but ~1e-5 of rounds
        the correction is almost always an addition of N - S uniform battles, which is done
        for all rounds of the chunk in one vectorised pass; the rare round over N takes the
        removal path of `_exact_total`.
        """
        if self.tables is None:
            return self.draw_rounds(generator, size)
        x = self.tables.draw(generator, size)
        n, k = self.battles, self.cells
        drawn = x.sum(axis=0).astype(np.int64)
        short = np.flatnonzero(drawn < n)
        if len(short):
            missing = n - drawn[short]
            battle = generator.integers(0, n, int(missing.sum()))
            cell = self._cells_of(np.sort(battle)) if self.cell_of_battle is None \
                else self.cell_of_battle[battle]
            # (cell, round) pairs counted with one bincount over the flattened matrix
            flat = cell * size + np.repeat(short, missing)
            x += np.bincount(flat, minlength=k * size).reshape(k, size)
        for column in np.flatnonzero(drawn > n):
            x[:, column] = self._exact_total(generator, x[:, column].astype(np.int64))
        return x.T

    def draw(self, generator: np.random.Generator) -> np.ndarray:
        """One bootstrap round: resampled counts per cell (float64, sums to N)."""
        n, k = self.battles, self.cells
        if self.by_index:
            battle = generator.integers(0, n, n)
            cells = battle if self.cell_of_battle is None else self.cell_of_battle[battle]
            return np.bincount(cells, minlength=k).astype(np.float64)
        return self._exact_total(generator, generator.poisson(self.count).astype(np.int64))

    def _exact_total(self, generator: np.random.Generator, x: np.ndarray) -> np.ndarray:
        """Independent Poisson(c) counts `x` (int64) turned into a Multinomial(N, c / N) draw by
        adding or removing uniformly drawn battles (see the module doc)."""
        n, k = self.battles, self.cells
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
    chunk_rounds = sampler.chunk_rounds
    chunks = round_chunks(rounds, chunk_rounds)
    generators = chunk_generators(seed, len(chunks))
    threads = threads or min(len(chunks), os.cpu_count() or 1, 8)
    block = max(1, min(chunk_rounds, BLOCK_ELEMENTS // max(sampler.cells, 1)))

    def one(index: int) -> np.ndarray:
        start, stop = chunks[index]
        generator = generators[index]
        if sampler.tables is not None:  # the whole chunk at once, refitted by blocks
            draws = sampler.draw_chunk(generator, stop - start)
            return np.concatenate([work(draws[b:b + block]) for b in range(0, len(draws), block)])
        parts = []
        for begin in range(start, stop, block):
            size = min(block, stop - begin)
            parts.append(work(sampler.draw_rounds(generator, size)))
        return np.concatenate(parts)

    with blas_controller().limit(limits=1, user_api="blas"):
        if threads <= 1:
            return np.concatenate([one(i) for i in range(len(chunks))])
        with ThreadPoolExecutor(threads) as pool:
            return np.concatenate(list(pool.map(one, range(len(chunks)))))
