"""Sampling correction: inverse-pair-probability weights for the Bradley–Terry fit.

The arena's samplers choose pairs unevenly on purpose (weighted, balanced, active) and log the
probability pi_b with which battle b's unordered pair was chosen (`pair_probability`). Each
battle gets the Horvitz–Thompson weight

    w_b = (1 / pi_b) / mean_b'(1 / pi_b')           (normalised to mean 1 over the battles used)

and the fit solves the weighted estimating equation sum_b w_b x_b (y_b - p_b(theta)) =
prior * theta (`ratings.bt.fit_bt` on `BattleCounts` with weights). The sandwich meat becomes
sum_b w_b^2 (y_b - p_b)^2 x_b x_b^T; the bootstrap resamples battles, each with its weight.

What it corrects. A correctly specified Bradley–Terry model is estimated consistently by the
plain fit under any pair sampling that does not look at the battle's own outcome: the
likelihood of the outcomes given the pairs is the same whatever chose the pairs. Weighting
then only costs variance. Real preferences are not exactly Bradley–Terry (intransitive
cycles, prompt- or rater-dependent strengths, ties counted as half a win): the plain fit then
converges to the Bradley–Terry approximation *of the pairs the sampler happened to favour*,
and two samplers give two different boards from the same preferences. The weighted fit
converges to the approximation under uniform pair sampling whatever the sampler was, so boards
of differently sampled logs estimate the same thing. The price is the effective sample size
(Kish): n_eff = (sum w)^2 / sum w^2 <= n.

Battles without a usable probability (missing, NaN, not in (0, 1]) cannot be weighted: they
are dropped, counted as `no_pair_probability` (`ratings.prepare`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

PROBABILITY_COLUMN = "pair_probability"
NO_PROBABILITY = "no_pair_probability"


def usable_probability(frame: pd.DataFrame) -> np.ndarray:
    """True for rows whose `pair_probability` is a number in (0, 1]."""
    if PROBABILITY_COLUMN not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    p = pd.to_numeric(frame[PROBABILITY_COLUMN], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return (p > 0) & (p <= 1)


def inverse_probability_weights(battles: pd.DataFrame) -> np.ndarray:
    """w_b = (1 / pi_b) / mean(1 / pi), one per battle (mean 1).

    Raises ValueError when a battle lacks a usable probability (`ratings.prepare` drops those
    first when sampling correction is on).
    """
    if not usable_probability(battles).all():
        raise ValueError("every battle needs a pair_probability in (0, 1] to be weighted")
    inverse = 1.0 / pd.to_numeric(battles[PROBABILITY_COLUMN]).to_numpy(dtype=float)
    return inverse / inverse.mean()


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2: the number of unweighted battles
    that would give a mean of the same variance."""
    weights = np.asarray(weights, dtype=float)
    return float(weights.sum() ** 2 / (weights ** 2).sum())


def weight_summary(weights: np.ndarray, dropped: int) -> dict[str, Any]:
    """What the board reports about its weights: battles weighted, n_eff, its share of the
    battles, the weights' range, and the battles dropped for lack of a probability."""
    weights = np.asarray(weights, dtype=float)
    n_eff = effective_sample_size(weights)
    return {
        "battles": int(len(weights)),
        "effective_sample_size": n_eff,
        "efficiency": n_eff / len(weights),
        "weight_min": float(weights.min()),
        "weight_max": float(weights.max()),
        NO_PROBABILITY: int(dropped),
    }
