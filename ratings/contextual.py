"""Contextual Bradley–Terry: BT plus per-battle covariates (style control, position bias).

The log-odds that the left model a beats the right model b in battle k are::

    logit P(a wins) = theta_a - theta_b + f_k^T gamma

with battle features f_k (e.g. normalised style differences, or a constant 1 for the left
side's advantage). This is the contextual BT model that LMArena uses for style control
(Li et al. 2024, "Does style matter? Disentangling style and substance in Chatbot Arena";
Chiang et al. 2024, arXiv 2403.04132). Ties count half or are dropped beforehand.

Fitted on aggregated rows (identical (a, b, outcome, features) collapse into one row with a
weight) by penalised Newton: the L2 prior of `ratings.bt` applies to theta only; gamma is
unpenalised. Gradient and information, with r_k = w_k (y_k - p_k), v_k = w_k p_k (1 - p_k),
x_k = e_a - e_b::

    g = [sum_k r_k x_k - prior theta ;  F^T r]
    I = [Laplacian(v) + prior I , sum_k v_k x_k f_k^T ; (.)^T , F^T diag(v) F]

The sandwich meat has the same form with v replaced by w_k (y_k - p_k)^2.

With sampling correction (`ratings.weights`) each battle carries a weight u: rows are then
distinct (a, b, outcome, features, u), w_k above becomes count_k u_k and the meat's
count_k u_k^2; the bootstrap resamples battles, each with its weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ratings.pairs import incidence_sum, laplacian, sandwich
from ratings.resample import map_chunks, single_threaded_blas


@dataclass
class ContextualRows:
    """Aggregated rows for a contextual fit: a, b (model indices), y in {0, 1/2, 1}, weight
    (battles per row), features (rows x k), and battle_weight (each battle's sampling weight;
    None: 1)."""

    n_models: int
    a: np.ndarray
    b: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    features: np.ndarray
    battle_weight: np.ndarray | None = None

    @property
    def mass(self) -> np.ndarray:
        """Total weight per row (the battle count when unweighted)."""
        return self.weight if self.battle_weight is None else self.weight * self.battle_weight

    @property
    def mass_squared(self) -> np.ndarray:
        """Sum of squared battle weights per row (the count when unweighted)."""
        return (self.weight if self.battle_weight is None
                else self.weight * self.battle_weight ** 2)


@dataclass
class ContextualFit:
    theta: np.ndarray
    gamma: np.ndarray
    information: np.ndarray
    meat: np.ndarray
    iterations: int
    prior: float

    def covariance(self) -> np.ndarray:
        """Sandwich covariance of (theta, gamma)."""
        return sandwich(self.information, self.meat, gauge=len(self.theta))


def _block(rows: ContextualRows, v: np.ndarray, prior: float) -> np.ndarray:
    n, k = rows.n_models, rows.features.shape[1]
    out = np.zeros((n + k, n + k))
    out[:n, :n] = laplacian(rows.a, rows.b, v, n) + prior * np.eye(n)
    for c in range(k):
        vf = v * rows.features[:, c]
        out[:n, n + c] = incidence_sum(rows.a, rows.b, vf, n)
    out[n:, :n] = out[:n, n:].T
    out[n:, n:] = rows.features.T @ (rows.features * v[:, None])
    return out


def _gradient(rows: ContextualRows, params: np.ndarray, prior: float, weight: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    n = rows.n_models
    theta, gamma = params[:n], params[n:]
    p = expit(theta[rows.a] - theta[rows.b] + rows.features @ gamma)
    r = weight * (rows.y - p)
    g = np.r_[incidence_sum(rows.a, rows.b, r, n) - prior * theta,
              rows.features.T @ r]
    return g, p


def _objective(rows: ContextualRows, params: np.ndarray, prior: float, weight: np.ndarray
               ) -> float:
    n = rows.n_models
    d = params[:n][rows.a] - params[:n][rows.b] + rows.features @ params[n:]
    ll = -(weight * (rows.y * np.logaddexp(0, -d) + (1 - rows.y) * np.logaddexp(0, d))).sum()
    return float(ll - 0.5 * prior * params[:n] @ params[:n])


def _newton(rows: ContextualRows, prior: float, weight: np.ndarray, start: np.ndarray,
            tol: float = 1e-10, max_iter: int = 100) -> tuple[np.ndarray, int]:
    n = rows.n_models
    params = start.copy()
    current = _objective(rows, params, prior, weight)
    for iteration in range(1, max_iter + 1):
        g, p = _gradient(rows, params, prior, weight)
        info = _block(rows, weight * p * (1 - p), prior)
        info[:n, :n] += 1.0 / n
        step = np.linalg.solve(info, g)
        step[:n] -= step[:n].mean()
        size = 1.0
        while True:
            candidate = params + size * step
            value = _objective(rows, candidate, prior, weight)
            if value >= current - 1e-12 * abs(current) or size < 1e-6:
                break
            size /= 2
        params, current = candidate, value
        params[:n] -= params[:n].mean()
        if np.max(np.abs(size * step)) < tol:
            return params, iteration
    return params, max_iter


@single_threaded_blas
def fit_contextual_bt(rows: ContextualRows, prior: float, tol: float = 1e-10) -> ContextualFit:
    """Penalised MLE of the contextual BT model with its sandwich ingredients."""
    n, k = rows.n_models, rows.features.shape[1]
    mass = rows.mass
    params, iterations = _newton(rows, prior, mass, np.zeros(n + k), tol)
    _, p = _gradient(rows, params, prior, mass)
    information = _block(rows, mass * p * (1 - p), prior)
    meat = _block(rows, rows.mass_squared * (rows.y - p) ** 2, 0.0)
    return ContextualFit(params[:n], params[n:], information, meat, iterations, prior)


def bootstrap_contextual(
    rows: ContextualRows, fit: ContextualFit, rounds: int, seed: int,
    tol: float = 1e-7, threads: int | None = None,
) -> np.ndarray:
    """Bootstrap (theta, gamma), shape (rounds, n + k): multinomial resampling of the
    aggregated rows (`ratings.resample`), each round refitted to the penalised MLE.

    As in `ratings.bt.bootstrap_bt`, all rounds of a block are refitted together by
    chord-Newton from the full-data fit, parameters as an (R x (n + k)) matrix::

        p = sigmoid(theta[a] - theta[b] + F gamma)           (rounds x rows)
        g = [X^T w (y - p) - prior theta ; F^T w (y - p)]
        params += C g,   C = (I + 11^T/n on the theta block)^-1 of the full-data fit.

    Iterations stop when every round's last step is below `tol` logits; rounds that do not
    settle within 100 iterations (or overflow) are refitted by damped full Newton.
    """
    n = rows.n_models
    start = np.r_[fit.theta, fit.gamma]
    bread = fit.information.copy()
    bread[:n, :n] += 1.0 / n
    chord = np.linalg.inv(bread)
    a, b, y, features = rows.a, rows.b, rows.y, rows.features

    def scores(values: np.ndarray) -> np.ndarray:
        """Per round (row of `values`, rounds x rows): [X^T v ; F^T v], shape (rounds, n + k).
        A scatter per round (`incidence_sum`) is as fast as a CSC sparse product without
        building one, and a CSR product would gather in random order."""
        out = np.empty((len(values), len(start)))
        for r, v in enumerate(values):
            out[r, :n] = incidence_sum(a, b, v, n)
        out[:, n:] = values @ features
        return out

    def work(draws: np.ndarray) -> np.ndarray:
        draws = draws if rows.battle_weight is None else draws * rows.battle_weight
        # Rounds x rows layout: each round's logits are gathered from its own short theta.
        observed = scores(draws * y)
        params = np.repeat(start[None, :], len(draws), axis=0)
        features_t = features.T
        for _ in range(100):
            theta = params[:, :n]
            logit = np.take(theta, a, axis=1)
            logit -= np.take(theta, b, axis=1)
            logit += params[:, n:] @ features_t
            expected = expit(logit, out=logit)
            expected *= draws
            gradient = observed - scores(expected)
            gradient[:, :n] -= fit.prior * theta
            step = gradient @ chord.T
            step[:, :n] -= step[:, :n].mean(axis=1, keepdims=True)
            params += step
            size = np.abs(step).max(axis=1)
            if not (size >= tol).any():  # NaN compares False: a blown-up round stops too
                break
        for row in np.flatnonzero(~(size < tol)):  # unsettled or non-finite rounds
            params[row], _ = _newton(rows, fit.prior, draws[row], start, tol)
        return params

    return map_chunks(work, rows.weight, rounds, seed, threads)
