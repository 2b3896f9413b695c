"""Boards with covariates: style control and the left side's advantage (contextual BT).

`style_control` fits the contextual Bradley–Terry model of `ratings.contextual` on the
battles' normalised style differences and returns the style-controlled board;
`position_bias` fits a constant left-side term. Both take the battle weights of sampling
correction (`ratings.weights`): rows are then aggregated by (features, pair, outcome, weight)
and the fit, sandwich and bootstrap weight each battle as the plain Bradley–Terry fit does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ratings.aggregate import BattleCounts, factorize_names
from ratings.contextual import ContextualRows, bootstrap_contextual, fit_contextual_bt
from ratings.errors import BattleDataError
from ratings.options import RatingOptions
from ratings.pairs import cell_targets
from ratings.prepare import A_WINS, TIE
from ratings.scale import (
    covariance_interval,
    percentile_interval,
    ranked_table,
    rating_mapping,
    to_ratings,
)
from ratings.style import style_counts, style_design


def contextual_rows(used: pd.DataFrame, counts: BattleCounts, design: np.ndarray,
                    weights: np.ndarray | None = None) -> ContextualRows:
    """Aggregate identical (a, b, outcome, features) battles into rows with a count (and,
    with per-battle `weights`, identical (a, b, outcome, features, weight) battles)."""
    index = {m: i for i, m in enumerate(counts.models)}
    # Map the few distinct names, then index by code: never a dictionary lookup per battle.
    codes_a, names_a = factorize_names(used["model_a"])
    codes_b, names_b = factorize_names(used["model_b"])
    a = np.array([index.get(x, -1) for x in names_a], dtype=np.int64)[codes_a]
    b = np.array([index.get(x, -1) for x in names_b], dtype=np.int64)[codes_b]
    outcome = used["outcome"].to_numpy().astype(np.int64)
    key = pd.DataFrame(design, columns=[f"f{c}" for c in range(design.shape[1])])
    key["a"], key["b"], key["o"] = a, b, outcome
    if weights is not None:
        key["bw"] = weights
    grouped = key.groupby(list(key.columns), sort=True).size().reset_index(name="w")
    y = cell_targets(grouped["o"].to_numpy())
    feats = grouped[[f"f{c}" for c in range(design.shape[1])]].to_numpy(dtype=float)
    return ContextualRows(counts.n_models, grouped["a"].to_numpy(), grouped["b"].to_numpy(),
                          y, grouped["w"].to_numpy(dtype=float), feats,
                          None if weights is None else grouped["bw"].to_numpy(dtype=float))


def contextual_intervals(rows: ContextualRows, options: RatingOptions):
    """Fit, then (estimates, lower, upper) of the full parameter vector in logits."""
    fit = fit_contextual_bt(rows, prior=options.prior)
    estimate = np.r_[fit.theta, fit.gamma]
    ci = options.effective_ci
    if ci == "bootstrap":
        draws = bootstrap_contextual(rows, fit, rounds=options.rounds, seed=options.seed)
        return fit, estimate, draws, None
    if ci == "sandwich":
        return fit, estimate, None, fit.covariance()
    return fit, estimate, None, None


def style_control(used: pd.DataFrame, counts: BattleCounts, options: RatingOptions,
                  weights: np.ndarray | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The style-controlled board (rank, rank_ub, rating, lower, upper indexed by model) and
    the style coefficients (feature, coefficient, lower, upper, elo_points)."""
    if len(counts.components()) > 1:
        raise BattleDataError("style control needs a connected comparison graph")
    features = options.style_features
    design, _ = style_design(style_counts(used, features), features)
    rows = contextual_rows(used, counts, design, weights)
    fit, estimate, draws, covariance = contextual_intervals(rows, options)
    n, points = counts.n_models, options.points_per_logit
    mapping, offset = rating_mapping(counts.models, options)
    ratings = to_ratings(fit.theta, mapping, points, offset)
    lower = upper = np.full(n, np.nan)
    g_lower = g_upper = np.full(len(features), np.nan)
    if draws is not None:
        lower, upper = percentile_interval(to_ratings(draws[:, :n], mapping, points, offset),
                                           options.level)
        g_lower, g_upper = percentile_interval(draws[:, n:], options.level)
    elif covariance is not None:
        lower, upper = covariance_interval(ratings, covariance[:n, :n], mapping, points,
                                           options.level)
        g_lower, g_upper = covariance_interval(
            fit.gamma, covariance[n:, n:], np.eye(len(features)), 1.0, options.level)
    controlled = ranked_table(counts.models, ratings, lower, upper).set_index("model")
    return controlled, pd.DataFrame({
        "feature": list(features), "coefficient": fit.gamma, "lower": g_lower,
        "upper": g_upper, "elo_points": fit.gamma * points,
    })


def position_bias(used: pd.DataFrame, counts: BattleCounts, options: RatingOptions
                  ) -> dict[str, float]:
    """Left-side advantage: BT with a side term, logit P(left wins) = theta_a - theta_b + beta.

    Returns beta in Elo points with its interval, plus the raw left-win rates: `left_win_rate`
    = (left wins + ties / 2) / battles and `left_decisive_win_rate` = left wins / decisive
    battles. Uses the counts as recorded (model_a = left), never canonicalised.
    """
    rows = ContextualRows(
        counts.n_models, counts.a, counts.b,
        cell_targets(counts.outcome),
        counts.count, np.ones((len(counts.a), 1)), counts.weight,
    )
    fit, estimate, draws, covariance = contextual_intervals(rows, options)
    n, points = counts.n_models, options.points_per_logit
    beta = float(fit.gamma[0])
    lower = upper = float("nan")
    if draws is not None:
        low, high = percentile_interval(draws[:, n:], options.level)
        lower, upper = float(low[0]), float(high[0])
    elif covariance is not None:
        low, high = covariance_interval(fit.gamma, covariance[n:, n:], np.eye(1), 1.0,
                                        options.level)
        lower, upper = float(low[0]), float(high[0])
    wins = float(counts.count[counts.outcome == A_WINS].sum())
    ties = float(counts.count[counts.outcome == TIE].sum())
    total = counts.n_battles
    decisive = total - ties
    return {
        "left_advantage_elo": beta * points, "lower": lower * points, "upper": upper * points,
        "left_advantage_logit": beta,
        "left_win_rate": (wins + ties / 2) / total,
        "left_decisive_win_rate": wins / decisive if decisive else float("nan"),
        "battles": total,
    }
