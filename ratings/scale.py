"""From log-strengths to Elo-scale ratings, intervals and rank bounds.

ratings = points_per_logit * L theta + offset, where points_per_logit = scale / ln(base)
(400 / ln 10 = 173.72 by default) and L either centres (L = I - 11^T/n, offset = mean: the
average rating is `mean`) or anchors (L = I - 1 e_k^T, offset = the anchor's rating: model k
sits exactly at its given rating and has a zero-width interval). Covariances and bootstrap
draws go through the same linear map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from ratings.options import RatingOptions


def rating_map(n: int, anchor_index: int | None) -> np.ndarray:
    """The n x n matrix L above."""
    if anchor_index is None:
        return np.eye(n) - 1.0 / n
    mapping = np.eye(n)
    mapping[:, anchor_index] -= 1.0
    return mapping


def to_ratings(theta: np.ndarray, mapping: np.ndarray, points: float, offset: float
               ) -> np.ndarray:
    """Ratings (Elo points) for log-strengths theta; rows of a 2-D theta are rounds."""
    return points * (theta @ mapping.T) + offset


def covariance_interval(
    ratings: np.ndarray, covariance: np.ndarray, mapping: np.ndarray, points: float,
    level: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Wald interval rating -/+ z * sd, with sd from points^2 L Cov L^T."""
    rating_cov = points**2 * mapping @ covariance @ mapping.T
    sd = np.sqrt(np.clip(np.diag(rating_cov), 0.0, None))
    z = norm.ppf(0.5 + level / 2)
    return ratings - z * sd, ratings + z * sd


def percentile_interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap percentile interval per column of `draws` (rounds x models)."""
    tail = (1 - level) / 2 * 100
    lower, upper = np.percentile(draws, [tail, 100 - tail], axis=0)
    return lower, upper


def rank_upper_bound(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """1 + number of models whose lower bound exceeds this model's upper bound: the best
    rank the model could claim given the intervals (Chatbot Arena's convention)."""
    return 1 + (lower[None, :] > upper[:, None]).sum(axis=1)


def rating_mapping(models: list[str], options: RatingOptions) -> tuple[np.ndarray, float]:
    """(the map from log-strengths to centred or anchored ones, the rating offset)."""
    anchor_index = None
    offset = options.mean
    if options.anchor is not None:
        name, rating = options.anchor
        if name in models:
            anchor_index, offset = models.index(name), float(rating)
    return rating_map(len(models), anchor_index), offset


def ranked_table(models: list[str], ratings, lower, upper) -> pd.DataFrame:
    """The rank, rank_ub, model, rating, lower, upper table sorted by rating (ties by name);
    rank bounds from the intervals (plain ranks without them)."""
    order = np.lexsort((np.array(models, dtype=object).astype(str), -ratings))
    if np.isnan(lower).all():
        bound = np.arange(1, len(models) + 1)[np.argsort(order)]
    else:
        bound = rank_upper_bound(lower, upper)
    table = pd.DataFrame({
        "rank": np.argsort(order) + 1, "rank_ub": bound, "model": models,
        "rating": ratings, "lower": lower, "upper": upper,
    })
    return table.iloc[order].reset_index(drop=True)
