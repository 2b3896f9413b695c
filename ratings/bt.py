"""Bradley–Terry maximum likelihood on aggregated counts, with sandwich and bootstrap CIs.

Model (Bradley & Terry 1952; Zermelo 1929)::

    P(i beats j) = 1 / (1 + exp(-(theta_i - theta_j)))

with log-strengths `theta` (natural-log units; Elo points = theta * scale / ln(base)). A tie
counts as half a win for each side (`ties="half"`, the Chatbot Arena convention) or is removed
(`ties="drop"`); `ratings.davidson` fits an explicit tie model instead.

The fit maximises the penalised log-likelihood over aggregated cells k = (i, j, outcome)::

    l(theta) = sum_k w_k [ y_k log p_k + (1 - y_k) log(1 - p_k) ] - (prior / 2) ||theta||^2

where w_k is the cell count, y_k in {1, 0, 1/2} and p_k = sigmoid(theta_i - theta_j). The
penalty is a Gaussian N(0, 1/prior) prior on each log-strength: it gives a finite rating to a
model that never lost or never won (whose likelihood alone has no maximum) and fixes the
location, because at the optimum sum(theta) = 0. Newton's method with step halving converges
in a handful of iterations; the n x n Hessian is the weighted graph Laplacian
H = sum_k w_k p_k (1 - p_k) x_k x_k^T + prior I, with x_k = e_i - e_j (`ratings.pairs`).

Confidence intervals:

- Sandwich (Huber 1967; White 1980): Cov = H^-1 B H^-1 with the meat
  B = sum_k w_k (y_k - p_k)^2 x_k x_k^T. Identical battles are exchangeable, so the sum over
  battles of score outer products equals this sum over cells exactly.
- Bootstrap: cell counts resampled Multinomial(N, w / N) (exactly resampling battles with
  replacement; drawn by Poissonisation, see `ratings.resample`), all rounds refitted together
  from the full-data solution by chord-Newton iterations that reuse the full-data Hessian
  (they converge to the same penalised MLE; rounds that do not settle within 100 iterations
  are refitted by full Newton).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.sparse import csc_matrix, csr_matrix
from scipy.special import expit

from ratings.aggregate import BattleCounts
from ratings.options import DEFAULT_PRIOR
from ratings.pairs import PairCells, cell_targets, incidence_sum, laplacian, pair_cells, sandwich
from ratings.prepare import TIE
from ratings.resample import map_chunks, single_threaded_blas

# Chord iterations per bootstrap block before unsettled rounds fall back to full Newton.
MAX_CHORD_ITERATIONS = 100


@dataclass
class BTFit:
    """A fitted Bradley–Terry model.

    Attributes
    ----------
    models : list of str
    theta : ndarray, shape (n,)
        Log-strengths, centred (sum zero).
    hessian : ndarray, shape (n, n)
        Negative Hessian of the penalised log-likelihood at `theta` (the "bread").
    meat : ndarray, shape (n, n)
        Sum of per-battle score outer products at `theta`.
    iterations : int
    log_likelihood : float
        Unpenalised log-likelihood at `theta`.
    prior : float
    tie_parameter : float or None
        Davidson's nu for a `ratings.davidson` fit, else None.
    tie_covariance : ndarray or None
        Sandwich covariance of (theta, log nu) for the Davidson model.
    """

    models: list[str]
    theta: np.ndarray
    hessian: np.ndarray
    meat: np.ndarray
    iterations: int
    log_likelihood: float
    prior: float
    tie_parameter: float | None = None
    tie_covariance: np.ndarray | None = None

    def strengths(self) -> np.ndarray:
        """exp(theta) scaled to geometric mean 1."""
        return np.exp(self.theta - self.theta.mean())

    def sandwich_covariance(self) -> np.ndarray:
        """Huber–White covariance of theta (n x n), restricted to sum-zero contrasts."""
        if self.tie_covariance is not None:
            n = len(self.models)
            return self.tie_covariance[:n, :n]
        return sandwich(self.hessian, self.meat)


def _log_likelihood(d: np.ndarray, total: np.ndarray, score: np.ndarray) -> float:
    # score log sigmoid(d) + (total - score) log sigmoid(-d), computed stably.
    return float(-(score * np.logaddexp(0.0, -d) + (total - score) * np.logaddexp(0.0, d)).sum())


def newton_pairs(
    pi: np.ndarray,
    pj: np.ndarray,
    total: np.ndarray,
    score: np.ndarray,
    n: int,
    prior: float,
    theta0: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> tuple[np.ndarray, int]:
    """Penalised BT MLE from pair sufficient statistics (battles, score) by damped Newton.

    Returns (theta, iterations); theta is centred. `tol` bounds the last step in logits.
    """
    theta = np.zeros(n) if theta0 is None else theta0.astype(float).copy()

    def objective(t: np.ndarray) -> float:
        return _log_likelihood(t[pi] - t[pj], total, score) - 0.5 * prior * float(t @ t)

    current = objective(theta)
    for iteration in range(1, max_iter + 1):
        p = expit(theta[pi] - theta[pj])
        residual = score - total * p
        gradient = incidence_sum(pi, pj, residual, n) - prior * theta
        # + 11^T/n fixes the gauge (the likelihood is flat along 1) even when prior == 0.
        hessian = laplacian(pi, pj, total * p * (1 - p), n) + prior * np.eye(n) + 1.0 / n
        step = np.linalg.solve(hessian, gradient)
        step -= step.mean()
        size = 1.0
        while True:
            candidate = theta + size * step
            value = objective(candidate)
            if value >= current - 1e-12 * abs(current) or size < 1e-6:
                break
            size /= 2
        theta, current = candidate - candidate.mean(), value
        if np.max(np.abs(size * step)) < tol:
            return theta, iteration
    return theta, max_iter



def apply_tie_rule(counts: BattleCounts, ties: str) -> BattleCounts:
    """The counts a BT fit sees: ties kept (`"half"`, each half a win) or removed (`"drop"`).

    Davidson's explicit tie model is `ratings.davidson`; "davidson" is refused here.
    """
    if ties == "drop":
        return counts.keep_rows(counts.outcome != TIE)
    if ties != "half":
        raise ValueError(f"ties must be 'half' or 'drop' for Bradley–Terry, not {ties!r}; "
                         "ratings.davidson fits Davidson's tie model")
    return counts


@single_threaded_blas
def fit_bt(
    counts: BattleCounts,
    ties: str = "half",
    prior: float = DEFAULT_PRIOR,
    tol: float = 1e-10,
) -> BTFit:
    """Fit Bradley–Terry by penalised maximum likelihood (see the module docstring).

    Parameters
    ----------
    counts : BattleCounts
        Aggregated battles (`ratings.count_battles`).
    ties : {"half", "drop"}
        How ties enter the likelihood (`apply_tie_rule`); for an explicit tie model use
        `ratings.davidson.fit_davidson`.
    prior : float
        L2 penalty on log-strengths (a N(0, 1/prior) prior); 0 gives the plain MLE, which
        exists only when every model has both a win and a loss in a connected graph.
    tol : float
        Convergence threshold on the last Newton step, in logits.

    Returns
    -------
    BTFit
    """
    counts = apply_tie_rule(counts, ties)
    n = counts.n_models
    cells = pair_cells(counts)
    y = cell_targets(cells.outcome)
    # Weighted counts (`ratings.weights`): the estimating equation sum_b w_b x_b (y_b - p_b)
    # = prior theta; the bread uses sum w, the meat sum w^2 (each battle's score is w_b times
    # the unweighted one).
    mass = cells.mass
    total, score = cells.per_pair(mass), cells.per_pair(mass * y)
    pi, pj = cells.first, cells.second
    theta, iterations = newton_pairs(pi, pj, total, score, n, prior, tol=tol)
    p = expit(theta[pi] - theta[pj])
    hessian = laplacian(pi, pj, total * p * (1 - p), n) + prior * np.eye(n)
    cell_p = p[cells.pair_of_cell]
    meat = laplacian(pi, pj, cells.per_pair(cells.mass_squared * (y - cell_p) ** 2), n)
    return BTFit(
        models=list(counts.models), theta=theta, hessian=hessian, meat=meat,
        iterations=iterations,
        log_likelihood=_log_likelihood(theta[pi] - theta[pj], total, score),
        prior=prior,
    )


def bootstrap_bt(
    counts: BattleCounts,
    fit: BTFit,
    rounds: int = 1000,
    seed: int = 0,
    ties: str = "half",
    tol: float = 1e-6,
    threads: int | None = None,
) -> np.ndarray:
    """Bootstrap log-strengths, shape (rounds, n): multinomial resampling of the aggregated
    cells (`ratings.resample`), each round refitted to the penalised MLE.

    All rounds of a block are refitted together by chord-Newton from the full-data solution:
    with theta as an (n x R) matrix, one iteration is

        d = X theta                             (pairs x rounds: theta[i] - theta[j])
        g = X^T (score - total * sigmoid(d)) - prior * theta
        theta += C g,   C = (H + 11^T/n)^-1 of the full-data fit, fixed,

    so the per-round work is elementwise over pairs plus sparse products with the design X;
    a fresh Hessian per round would cost an n x n solve per round and iteration, more than
    the few extra chord iterations it saves. The first iteration starts at the full-data fit,
    whose sigmoids are the same for every round, so they are computed once. Iterations stop
    when every round's last step is below `tol` logits; rounds that fail to settle within
    `MAX_CHORD_ITERATIONS` (or overflow) are refitted by full Newton (`newton_pairs`). The
    chord iteration contracts the error linearly, so after a last step below `tol` the
    remaining error is a small fraction of `tol`, far below the width of any interval.
    `ties` is the rule the fit used (`apply_tie_rule`).
    """
    cells = pair_cells(apply_tie_rule(counts, ties))
    operators = _chord_operators(cells, fit)
    refit = partial(_refit_block, operators, fit.theta, fit.prior, tol)
    return map_chunks(refit, cells.count, rounds, seed, threads)


@dataclass(frozen=True)
class _ChordOperators:
    """The fixed linear maps of the bootstrap refit, built once per bootstrap."""

    cells: PairCells
    to_total: csr_matrix  # cells -> battles per pair
    to_score: csr_matrix  # cells -> score per pair
    design_t: csc_matrix  # X^T: pairs -> models
    design: csr_matrix  # X: models -> pairs, theta[i] - theta[j] for every pair
    chord: np.ndarray  # C = (H + 11^T/n)^-1 of the full-data fit
    fitted: np.ndarray  # sigmoid(X theta) of the full-data fit, (pairs, 1)


def _chord_operators(cells: PairCells, fit: BTFit) -> _ChordOperators:
    n, n_pairs, n_cells = cells.n_models, cells.n_pairs, len(cells.pair_of_cell)
    pi, pj, rows = cells.first, cells.second, np.arange(n_cells)
    y = cell_targets(cells.outcome)
    # A resampled battle carries its weight (1 unless weighted), so a round's pair totals are
    # the drawn counts times the weights.
    weight = np.ones(n_cells) if cells.weight is None else cells.weight
    to_total = csr_matrix((weight, (cells.pair_of_cell, rows)), shape=(n_pairs, n_cells))
    to_score = csr_matrix((y * weight, (cells.pair_of_cell, rows)), shape=(n_pairs, n_cells))
    design_t = csr_matrix(
        (np.r_[np.ones(n_pairs), -np.ones(n_pairs)],
         (np.r_[pi, pj], np.r_[np.arange(n_pairs), np.arange(n_pairs)])), shape=(n, n_pairs)
    ).tocsc()  # CSC scatters pair rows in order; CSR would gather them in random order
    # X theta as one sparse product instead of two row gathers and a subtraction of
    # (pairs x rounds) arrays.
    design = design_t.T.tocsr()
    chord = np.linalg.inv(fit.hessian + 1.0 / n)
    fitted = expit(design @ fit.theta)[:, None]
    return _ChordOperators(cells, to_total, to_score, design_t, design, chord, fitted)


def _refit_block(operators: _ChordOperators, start: np.ndarray, prior: float, tol: float,
                 draws: np.ndarray) -> np.ndarray:
    """Penalised MLE of every round of `draws` (rounds x cells), shape (rounds, n)."""
    ops = operators
    # Cells x rounds layout: a column per round, as the table chunks come already.
    cell_counts = np.ascontiguousarray(draws.T)
    total = ops.to_total @ cell_counts
    observed = ops.design_t @ (ops.to_score @ cell_counts)  # X^T score: fixed within a round
    theta = np.repeat(start[:, None], len(draws), axis=1)
    for iteration in range(MAX_CHORD_ITERATIONS):
        if iteration == 0:
            expected = total * ops.fitted
        else:
            expected = expit(ops.design @ theta)
            expected *= total
        gradient = observed - ops.design_t @ expected - prior * theta
        step = ops.chord @ gradient
        step -= step.mean(axis=0)
        theta += step
        size = np.abs(step).max(axis=0)
        if not (size >= tol).any():  # NaN compares False: a blown-up round stops too
            break
    theta = theta.T.copy()
    cells, n = ops.cells, ops.cells.n_models
    for row in np.flatnonzero(~(size < tol)):  # unsettled or non-finite rounds
        score = ops.to_score @ cell_counts[:, row]
        theta[row], _ = newton_pairs(cells.first, cells.second, total[:, row], score, n, prior,
                                     theta0=start, tol=tol)
    return theta
