"""Davidson's tie model: Bradley–Terry with an explicit tie parameter.

Davidson (1970), "On extending the Bradley–Terry model to accommodate ties in paired
comparison experiments", JASA 65(329). With strengths pi_i = exp(theta_i) and nu > 0::

    P(i beats j) = pi_i / Z,   P(j beats i) = pi_j / Z,   P(tie) = nu sqrt(pi_i pi_j) / Z,
    Z = pi_i + pi_j + nu sqrt(pi_i pi_j).

Dividing by sqrt(pi_i pi_j) with d = theta_i - theta_j: P(win) = e^{d/2} / (e^{d/2} + e^{-d/2}
+ nu), so among decisive battles P(i beats j | no tie) = sigmoid(d) and theta lives on the
same Elo scale as plain BT. Two equal models tie with probability nu / (2 + nu).

Fitted by Fisher scoring on (theta, phi = log nu) with the same L2 prior on theta as
`ratings.bt` (none on phi). Expected information per battle, with D = P(win) - P(loss)::

    I_dd = (P(win) + P(loss) - D^2) / 4,   I_dphi = -D P(tie) / 2,   I_phiphi = P(tie)(1 - P(tie))
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ratings.aggregate import BattleCounts
from ratings.bt import BTFit
from ratings.pairs import PairCells, incidence_sum, laplacian, pair_cells, sandwich
from ratings.prepare import A_WINS, B_WINS, TIE
from ratings.resample import map_chunks, single_threaded_blas


def _outcome_totals(cells: PairCells, weight: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W, L, T) per pair: battles won, lost and tied by the pair's first model, with
    `weight` battles per cell."""
    return (cells.per_pair(weight * (cells.outcome == A_WINS)),
            cells.per_pair(weight * (cells.outcome == B_WINS)),
            cells.per_pair(weight * (cells.outcome == TIE)))


def _probabilities(d: np.ndarray, phi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u = d / 2
    log_z = logsumexp(np.stack([u, -u, np.full_like(u, phi)]), axis=0)
    return np.exp(u - log_z), np.exp(-u - log_z), np.exp(phi - log_z)


def _objective(params, pi, pj, W, L, T, n, prior) -> float:
    theta, phi = params[:n], params[n]
    u = (theta[pi] - theta[pj]) / 2
    log_z = logsumexp(np.stack([u, -u, np.full_like(u, phi)]), axis=0)
    ll = (W * (u - log_z) + L * (-u - log_z) + T * (phi - log_z)).sum()
    return float(ll - 0.5 * prior * theta @ theta)


def _information(params, pi, pj, N, n, prior) -> np.ndarray:
    theta, phi = params[:n], params[n]
    pw, pl, pt = _probabilities(theta[pi] - theta[pj], phi)
    diff = pw - pl
    info = np.zeros((n + 1, n + 1))
    info[:n, :n] = laplacian(pi, pj, N * (pw + pl - diff**2) / 4, n) + prior * np.eye(n)
    cross = N * (-diff * pt / 2)
    info[:n, n] = info[n, :n] = incidence_sum(pi, pj, cross, n)
    info[n, n] = float((N * pt * (1 - pt)).sum())
    return info


def _fisher_scoring(pi, pj, W, L, T, n, prior, start, tol=1e-10, max_iter=200):
    params = start.copy()
    N = W + L + T
    current = _objective(params, pi, pj, W, L, T, n, prior)
    for iteration in range(1, max_iter + 1):
        theta, phi = params[:n], params[n]
        pw, pl, pt = _probabilities(theta[pi] - theta[pj], phi)
        r = (W - L) / 2 - N * (pw - pl) / 2
        gradient = np.r_[incidence_sum(pi, pj, r, n) - prior * theta,
                         (T - N * pt).sum()]
        info = _information(params, pi, pj, N, n, prior)
        info[:n, :n] += 1.0 / n
        step = np.linalg.solve(info, gradient)
        step[:n] -= step[:n].mean()
        size = 1.0
        while True:
            candidate = params + size * step
            value = _objective(candidate, pi, pj, W, L, T, n, prior)
            if value >= current - 1e-12 * abs(current) or size < 1e-6:
                break
            size /= 2
        params, current = candidate, value
        params[:n] -= params[:n].mean()
        if np.max(np.abs(size * step)) < tol:
            return params, iteration
    return params, max_iter


@single_threaded_blas
def fit_davidson(counts: BattleCounts, prior: float, tol: float = 1e-10) -> BTFit:
    """Fit Davidson's model; returns a BTFit whose `tie_parameter` is nu and whose
    `tie_covariance` is the sandwich covariance of (theta, log nu)."""
    if counts.weight is not None:
        raise ValueError("Davidson's tie model is fitted unweighted; sampling correction "
                         "needs ties='half' or 'drop'")
    n = counts.n_models
    cells = pair_cells(counts)
    pi, pj = cells.first, cells.second
    W, L, T = _outcome_totals(cells, cells.count)
    total_ties = T.sum()
    if total_ties == 0:
        raise ValueError("ties='davidson' needs at least one tie in the data")
    start = np.r_[np.zeros(n), np.log(total_ties / max(W.sum() + L.sum(), 1.0))]
    params, iterations = _fisher_scoring(pi, pj, W, L, T, n, prior, start, tol)
    info = _information(params, pi, pj, W + L + T, n, prior)
    meat = _meat(cells, params)
    covariance = sandwich(info, meat, gauge=n)
    ll = _objective(params, pi, pj, W, L, T, n, 0.0)
    return BTFit(
        models=list(counts.models), theta=params[:n], hessian=info[:n, :n], meat=meat[:n, :n],
        iterations=iterations, log_likelihood=ll, prior=prior,
        tie_parameter=float(np.exp(params[n])), tie_covariance=covariance,
    )


def _meat(cells: PairCells, params: np.ndarray) -> np.ndarray:
    """Sum over battles of the score outer products in (theta, phi), (n + 1) x (n + 1)."""
    n, pi, pj, cell = cells.n_models, cells.first, cells.second, cells.pair_of_cell
    pw, pl, pt = _probabilities(params[:n][pi] - params[:n][pj], params[n])
    delta = np.select([cells.outcome == A_WINS, cells.outcome == B_WINS], [1.0, -1.0], 0.0)
    s_d = (delta - (pw - pl)[cell]) / 2
    s_phi = (cells.outcome == TIE) - pt[cell]
    w = cells.count
    meat = np.zeros((n + 1, n + 1))
    meat[:n, :n] = laplacian(pi, pj, cells.per_pair(w * s_d**2), n)
    cross = cells.per_pair(w * s_d * s_phi)
    meat[:n, n] = meat[n, :n] = incidence_sum(pi, pj, cross, n)
    meat[n, n] = float((w * s_phi**2).sum())
    return meat


def bootstrap_davidson(
    counts: BattleCounts, fit: BTFit, rounds: int, seed: int, threads: int | None = None
) -> np.ndarray:
    """Bootstrap log-strengths (rounds, n) under Davidson's model, refitting every round
    from the full-data solution. Column n+1 (log nu) is dropped."""
    n = counts.n_models
    cells = pair_cells(counts)
    start = np.r_[fit.theta, np.log(fit.tie_parameter)]

    def work(draws: np.ndarray) -> np.ndarray:
        out = np.empty((len(draws), n))
        for row, w in enumerate(draws):
            W, L, T = _outcome_totals(cells, w)
            params, _ = _fisher_scoring(cells.first, cells.second, W, L, T, n, fit.prior, start,
                                        tol=1e-9)
            out[row] = params[:n]
        return out

    return map_chunks(work, cells.count, rounds, seed, threads)
