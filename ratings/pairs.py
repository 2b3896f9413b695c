"""Pair statistics shared by the Bradley–Terry family: BT, Davidson's ties, contextual BT.

Every model of the family scores a comparison k of models i and j through the difference
theta_i - theta_j, i.e. through the row x_k = e_i - e_j of the signed incidence matrix X of
the comparison graph (one row per comparison, one column per model). The gradients,
information matrices and sandwich meats of all three fits are therefore built from the same
two products with per-comparison weights w:

    X^T w = sum_k w_k (e_i - e_j)                                  (`incidence_sum`)
    X^T diag(w) X = sum_k w_k (e_i - e_j)(e_i - e_j)^T             (`laplacian`)

The second is the weighted Laplacian of the comparison graph. Both are computed by scattering
(`numpy.bincount`) into n models, so the cost is linear in the number of comparisons.

Fits work on canonical cells (`BattleCounts.canonical`: i < j, outcome from i's side), grouped
here by unordered pair (`pair_cells`), so per-pair sufficient statistics are one scatter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ratings.aggregate import BattleCounts
from ratings.prepare import A_WINS, B_WINS
from ratings.resample import single_threaded_blas


def incidence_sum(i: np.ndarray, j: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """X^T w = sum_k w_k (e_i - e_j), shape (n,).

    Parameters
    ----------
    i, j : ndarray of int
        First and second model index of each comparison k.
    weight : ndarray of float
        w_k per comparison (a residual, a count, an information weight...).
    n : int
        Number of models.
    """
    return np.bincount(i, weight, n) - np.bincount(j, weight, n)


def laplacian(i: np.ndarray, j: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """X^T diag(w) X = sum_k w_k (e_i - e_j)(e_i - e_j)^T as a dense n x n matrix.

    The weighted graph Laplacian: off-diagonal (i, j) holds minus the total weight between i
    and j, the diagonal each model's total weight. Its rows sum to zero, so it is singular
    along the all-ones vector (ratings are defined up to a common shift).
    """
    off = np.bincount(i * n + j, weight, n * n).reshape(n, n)
    off = off + off.T
    degree = off.sum(axis=1)
    return np.diag(degree) - off


@single_threaded_blas
def sandwich(hessian: np.ndarray, meat: np.ndarray, gauge: int | None = None) -> np.ndarray:
    """Huber–White covariance H^-1 B H^-1 on the sum-zero subspace of the first `gauge`
    coordinates (default all).

    Huber (1967); White (1980). `hessian` H is the negative Hessian (or expected information)
    of the penalised log-likelihood, `meat` B the sum of per-battle score outer products.
    Adding 11^T/n to the gauge block of the bread changes nothing on contrasts (B 1 = 0 for
    pairwise scores) but makes it invertible even without a prior.
    """
    gauge = hessian.shape[0] if gauge is None else gauge
    bread = hessian.copy()
    bread[:gauge, :gauge] += 1.0 / gauge
    inverse = np.linalg.inv(bread)
    return inverse @ meat @ inverse.T


def cell_targets(outcome: np.ndarray) -> np.ndarray:
    """y per cell from the first model's side: 1 for a win, 0 for a loss, 1/2 for a tie."""
    return np.select([outcome == A_WINS, outcome == B_WINS], [1.0, 0.0], 0.5)


def pair_index(i: np.ndarray, j: np.ndarray, n: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (i, j) pairs among the comparisons, sorted, and each comparison's pair.

    Returns
    -------
    first, second : ndarray of int
        Model indices of each distinct pair.
    pair_of : ndarray of int
        For each comparison, the index of its pair in `first` / `second`.
    """
    key = i * n + j
    pair_keys, pair_of = np.unique(key, return_inverse=True)
    return pair_keys // n, pair_keys % n, pair_of


@dataclass(frozen=True)
class PairCells:
    """Canonical cells (i < j, outcome from i's side) grouped by unordered pair.

    Attributes
    ----------
    n_models : int
    first, second : ndarray of int
        Model indices of each distinct pair (first < second).
    pair_of_cell : ndarray of int
        The pair of each cell.
    outcome : ndarray of int8
        Each cell's outcome (`ratings.prepare` codes) from `first`'s side.
    count : ndarray of float64
        Battles per cell.
    weight : ndarray of float64 or None
        Weight of each battle of the cell (`BattleCounts.weight`); None: 1.
    """

    n_models: int
    first: np.ndarray
    second: np.ndarray
    pair_of_cell: np.ndarray
    outcome: np.ndarray
    count: np.ndarray
    weight: np.ndarray | None = None

    @property
    def mass(self) -> np.ndarray:
        """Total weight per cell (the count when unweighted)."""
        return self.count if self.weight is None else self.count * self.weight

    @property
    def mass_squared(self) -> np.ndarray:
        """Sum of squared weights per cell (the count when unweighted)."""
        return self.count if self.weight is None else self.count * self.weight ** 2

    @property
    def n_pairs(self) -> int:
        return len(self.first)

    def per_pair(self, values: np.ndarray) -> np.ndarray:
        """Sum of a per-cell quantity over the cells of each pair, shape (n_pairs,)."""
        return np.bincount(self.pair_of_cell, values, self.n_pairs)


def pair_cells(counts: BattleCounts) -> PairCells:
    """Canonicalise `counts` and group its cells by unordered pair."""
    canon = counts.canonical()
    first, second, pair_of_cell = pair_index(canon.a, canon.b, canon.n_models)
    return PairCells(canon.n_models, first, second, pair_of_cell, canon.outcome, canon.count,
                     canon.weight)
