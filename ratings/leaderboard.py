"""`compute_leaderboard`: battles in, a leaderboard with intervals and diagnostics out.

This is the one call the CLI, notebooks and the battle service share::

    board = compute_leaderboard(df)                      # BT, ties half, sandwich CI
    board = compute_leaderboard(df, ci="bootstrap", rounds=1000, seed=1)
    board.table                                          # rank, rank_ub, model, rating, ...
    board.to_dict()                                      # JSON-ready
    board = compute_leaderboard(df, max_votes_per_rater_per_day=50, dedupe_prompts=True,
                                robustness=True)         # vote filters; board.robustness

Disconnected comparison graphs raise `DisconnectedGraphError` unless `allow_disconnected`,
in which case every component is fitted on its own and centred on `mean` (or anchored, for the
anchor's component); the table gains a `component` column (1 = largest) and ranks and rank
bounds count only within a component, because ratings of different components are not
comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ratings.aggregate import BattleCounts, count_battles
from ratings.bt import BTFit, bootstrap_bt, fit_bt
from ratings.columns import READER_COLUMNS, add_reader_columns
from ratings.controlled import position_bias, style_control
from ratings.davidson import bootstrap_davidson, fit_davidson
from ratings.elo import online_elo
from ratings.errors import DisconnectedGraphError, NoBattlesLeft
from ratings.io import normalise_frame
from ratings.options import RatingOptions
from ratings.prepare import Selection, select_battles
from ratings.resample import single_threaded_blas
from ratings.robustness import BoardRobustness, board_robustness
from ratings.scale import (
    covariance_interval,
    percentile_interval,
    ranked_table,
    rating_mapping,
    to_ratings,
)
from ratings.screening import screen_raters, screen_votes
from ratings.weights import NO_PROBABILITY, inverse_probability_weights, weight_summary

TABLE_COLUMNS = ["rank", "rank_ub", "model", "rating", "lower", "upper", "battles", "win_rate",
                 *READER_COLUMNS]


@dataclass
class Leaderboard:
    """A computed leaderboard.

    `table` columns: rank (by rating, 1 = best), rank_ub (1 + number of models whose lower
    bound exceeds this model's upper bound), model, rating, lower, upper (Elo points; NaN with
    ci="none"), battles, win_rate ((wins + ties / 2) / battles); with style control also
    style_rating, style_lower, style_upper, style_rank; with allow_disconnected, component;
    the reader's columns of `ratings.columns` (votes, tie and both-bad shares, speed,
    provisional, state). `robustness` (with `options.robustness`): the fewest votes whose
    removal would change #1 and each adjacent pair of the largest component
    (`ratings.robustness`). `too_few`: fewer than `options.min_votes` votes were left, so
    nothing was fitted and the table is empty. `sampling` (with `sampling_correction`): the
    weights' effective sample size and range (`ratings.weights.weight_summary`).
    """

    table: pd.DataFrame
    options: RatingOptions
    rows_read: int
    rows_used: int
    dropped: dict[str, int]
    tie_parameter: dict[str, float] | None = None
    style_coefficients: pd.DataFrame | None = None
    position_bias: dict[str, float] | None = None
    raters: pd.DataFrame | None = None
    components: list[list[str]] = field(default_factory=list)
    counts: BattleCounts | None = None
    predicted: pd.DataFrame | None = None
    robustness: BoardRobustness | None = None
    too_few: bool = False
    sampling: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the table as records plus every diagnostic computed."""
        def records(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
            if frame is None:
                return None
            return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]

        return {
            "leaderboard": records(self.table),
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "dropped": self.dropped,
            "method": self.options.method,
            "ci": self.options.effective_ci,
            "level": self.options.level,
            "tie_parameter": self.tie_parameter,
            "style_coefficients": records(self.style_coefficients),
            "position_bias": self.position_bias,
            "raters": records(self.raters),
            "components": self.components if len(self.components) > 1 else None,
            # Only when asked for: a board recorded before robustness existed re-runs to the
            # same bytes.
            **({"robustness": self.robustness.to_dict()} if self.robustness else {}),
            **({"too_few": self.too_few, "min_votes": self.options.min_votes}
               if self.options.min_votes else {}),
            **({"sampling_correction": self.sampling} if self.sampling else {}),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@single_threaded_blas
def compute_leaderboard(
    battles: pd.DataFrame, options: RatingOptions | None = None, **overrides: Any
) -> Leaderboard:
    """Compute a leaderboard from a battles DataFrame.

    Parameters
    ----------
    battles : DataFrame
        Columns `model_a`, `model_b`, `winner` (FastChat words) and optionally `status`,
        `mode`, `flags`, `judge`, `tstamp`, conversations or style-feature columns.
    options : RatingOptions, optional
        All settings; keyword `overrides` replace single fields (e.g. `ci="bootstrap"`).
    """
    options = replace(options or RatingOptions(), **overrides)
    try:
        selection = screen_votes(select_battles(normalise_frame(battles), options), options)
    except NoBattlesLeft as nothing:
        if not options.min_votes:
            raise
        return Leaderboard(table=pd.DataFrame(columns=TABLE_COLUMNS), options=options,
                           rows_read=nothing.rows_read, rows_used=0,
                           dropped=dict(nothing.dropped), too_few=True)
    selection, raters = screen_raters(selection, options)
    used = selection.battles
    if selection.rows_used < options.min_votes:
        return _too_few(selection, options, raters)
    weights = inverse_probability_weights(used) if options.sampling_correction else None
    counts = count_battles(used, weights=weights)
    groups = counts.components()
    components = [[counts.models[i] for i in c] for c in groups]
    if len(components) > 1 and not options.allow_disconnected:
        raise DisconnectedGraphError(components)
    table, tie_parameter, theta = _rate_components(counts, groups, used, options)
    board = Leaderboard(
        table=add_reader_columns(table, selection, options), options=options,
        rows_read=selection.rows_read, rows_used=selection.rows_used,
        dropped=dict(selection.dropped), tie_parameter=tie_parameter, raters=raters,
        components=components, counts=counts,
    )
    if weights is not None:
        board.sampling = weight_summary(weights, selection.dropped.get(NO_PROBABILITY, 0))
    if options.method == "bt":
        p = 1 / (1 + np.exp(-(theta[:, None] - theta[None, :])))
        board.predicted = pd.DataFrame(p, index=counts.models, columns=counts.models)
    if options.style:
        controlled, board.style_coefficients = style_control(used, counts, options, weights)
        for column in ("rating", "lower", "upper", "rank"):
            board.table[f"style_{column}"] = controlled.loc[board.table["model"],
                                                            column].to_numpy()
    if options.position_bias:
        board.position_bias = position_bias(used, counts, options)
    if options.robustness:
        # Ratings of different components are not comparable: only the largest has an order
        # worth defending (the table's component 1).
        board.robustness = board_robustness(counts.subset(groups[0]), options.ties,
                                            options.prior, options.robustness_exact_limit)
    return board


def _too_few(selection: Selection, options: RatingOptions, raters: pd.DataFrame | None
             ) -> Leaderboard:
    """The board of a selection with fewer than `min_votes` votes: counted, not ranked."""
    return Leaderboard(table=pd.DataFrame(columns=TABLE_COLUMNS), options=options,
                       rows_read=selection.rows_read, rows_used=selection.rows_used,
                       dropped=dict(selection.dropped), raters=raters, too_few=True)


def _rate_components(counts: BattleCounts, groups: list[np.ndarray], used: pd.DataFrame,
                     options: RatingOptions
                     ) -> tuple[pd.DataFrame, dict[str, float] | None, np.ndarray]:
    """Rate each connected component (`groups`, model indices) on its own scale.

    Returns the table with battles and win rates, the tie summary of the first Davidson fit,
    and log-strengths per model in logits (0 where no BT-family model was fitted).
    """
    parts = []
    tie_parameter = None
    theta = np.zeros(counts.n_models)
    for number, members in enumerate(groups, start=1):
        part, fit = _rate_component(counts.subset(members), used, options)
        if fit is not None:
            theta[members] = fit.theta
            if fit.tie_parameter is not None and tie_parameter is None:
                tie_parameter = _tie_summary(fit, options)
        if len(groups) > 1:
            part.insert(0, "component", number)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    stats = counts.per_model().set_index("model")
    table["battles"] = stats.loc[table["model"], "battles"].to_numpy()
    table["win_rate"] = stats.loc[table["model"], "win_rate"].to_numpy()
    return table, tie_parameter, theta


def _fit_strengths(counts: BattleCounts, options: RatingOptions) -> BTFit:
    """Bradley–Terry under the tie rule of `options`; Davidson's model for "davidson"."""
    if options.ties == "davidson":
        return fit_davidson(counts, prior=options.prior)
    return fit_bt(counts, ties=options.ties, prior=options.prior)


def _bootstrap_strengths(counts: BattleCounts, fit: BTFit, options: RatingOptions
                         ) -> np.ndarray:
    """Bootstrap log-strengths (rounds x models) of the model `_fit_strengths` fitted."""
    if options.ties == "davidson":
        return bootstrap_davidson(counts, fit, rounds=options.rounds, seed=options.seed)
    return bootstrap_bt(counts, fit, rounds=options.rounds, seed=options.seed,
                        ties=options.ties)


def _tie_summary(fit: BTFit, options: RatingOptions) -> dict[str, float]:
    n = len(fit.theta)
    sd = float(np.sqrt(fit.tie_covariance[n, n]))
    nu = fit.tie_parameter
    from scipy.stats import norm

    z = norm.ppf(0.5 + options.level / 2)
    return {"nu": nu, "lower": nu * float(np.exp(-z * sd)), "upper": nu * float(np.exp(z * sd)),
            "tie_probability_between_equals": nu / (2 + nu)}


def _rate_component(sub: BattleCounts, used: pd.DataFrame, options: RatingOptions
                    ) -> tuple[pd.DataFrame, BTFit | None]:
    points = options.points_per_logit
    mapping, offset = rating_mapping(sub.models, options)
    n = sub.n_models
    lower = upper = np.full(n, np.nan)
    fit = None
    if n == 1:
        ratings = np.array([offset])
    elif options.method == "elo":
        members = set(sub.models)
        rows = used["model_a"].astype(str).isin(members).to_numpy()
        elo = online_elo(used.loc[rows], k=options.k, base=options.base, scale=options.scale,
                         initial=options.initial, models=sub.models)
        ratings = elo.to_numpy()
        if options.anchor is not None and options.anchor[0] in members:
            ratings = ratings - ratings[sub.models.index(options.anchor[0])] + options.anchor[1]
    else:
        fit = _fit_strengths(sub, options)
        ratings = to_ratings(fit.theta, mapping, points, offset)
        if options.effective_ci == "sandwich":
            lower, upper = covariance_interval(
                ratings, fit.sandwich_covariance(), mapping, points, options.level)
        elif options.effective_ci == "bootstrap":
            draws = _bootstrap_strengths(sub, fit, options)
            lower, upper = percentile_interval(to_ratings(draws, mapping, points, offset),
                                               options.level)
    return ranked_table(sub.models, ratings, lower, upper), fit
