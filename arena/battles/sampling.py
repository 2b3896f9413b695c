"""Pair sampling: which two models meet in the next anonymous battle, and who sits on the left.

A `PairSampler` turns the healthy models and the vote counts per pair into a probability for
every unordered pair, then draws one. Four policies:

``uniform``
    P(i, j) = 1 / C(m, 2) over the m healthy models.
``weighted``
    P(i, j) ∝ w_i · w_j with per-model weights from the config. Models missing from the weight
    table get ``default_weight`` (1.0). When every healthy pair has weight 0 (empty table, all
    weights zero, or only zero-weight models are up) the sampler falls back to uniform and logs
    a warning; it never crashes on a weight table.
``balanced``
    P(i, j) ∝ (1 + n_ij)^(-α) with n_ij the votes the pair already has and α ≥ 0 (default 1).
    α = 0 is uniform; larger α chases the least-voted pairs harder.
``active``
    The Chatbot Arena rule (Chiang et al., 2024, "Chatbot Arena: An Open Platform for Evaluating
    LLMs by Human Preference", arXiv:2403.04132, Section 5, the active sampling rule):

        P(i, j) ∝ sqrt(Σ_ij / n_ij) − sqrt(Σ_ij / (n_ij + 1))

    i.e. proportional to how much one more vote on the pair shrinks the standard error of its
    win-rate estimate. Σ_ij is the variance of one vote's outcome on that pair. The paper takes
    it from its (inverse-propensity-weighted) win-matrix estimator; here the caller may pass
    ``variances`` (e.g. from the ratings engine), otherwise Σ_ij = 0.25, the largest variance a
    vote in [0, 1] can have (the conservative choice; it makes the rule depend on counts only).
    `outcome_variance` estimates Σ_ij from a pair's wins and ties. A pair with n_ij = 0 has an
    infinite score; the limit of the rule is then: draw uniformly among the unvoted pairs until
    every pair has at least one vote.

Models in outage are passed as ``excluded`` and retired models (`arena.battles.lifecycle`) as
``retired``; both are removed before any probability is computed, so ``PairChoice.probability``
is the probability of the chosen pair among the pairs that could actually be drawn (the weights,
counts and variances of the others are unchanged; the scores are renormalised over the pairs
left). Fewer than two models left raise `NotEnoughModels`.

`assign_sides` is the left/right coin: seeded, so the battle log's ``side_seed`` reproduces it.
Everything here is pure Python and costs O(m²) per draw (m = number of models).
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import numbers
import random
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

POLICIES = ("uniform", "weighted", "balanced", "active")

# Largest variance of an outcome in [0, 1] (a fair coin): the active rule's default Σ_ij.
MAX_OUTCOME_VARIANCE = 0.25

Pair = frozenset[str]


class UniformSource(Protocol):
    """Has ``random() -> float`` in [0, 1): `random.Random` or `numpy.random.Generator`."""

    def random(self) -> float: ...


class NotEnoughModels(RuntimeError):
    """Fewer than two healthy models: no battle can start (the service answers 503)."""


@dataclass(frozen=True)
class PairChoice:
    """The drawn pair. ``model_x < model_y`` (sorted names); sides come from `assign_sides`.

    ``probability`` is the probability of this unordered pair under ``policy`` after models in
    outage were removed; log it with the battle (``BattleRecord.pair_probability``).
    """

    model_x: str
    model_y: str
    probability: float
    policy: str

    @property
    def pair(self) -> tuple[str, str]:
        return (self.model_x, self.model_y)


def pair_key(a: str, b: str) -> Pair:
    """The unordered key of a pair of models, as used in count mappings."""
    if a == b:
        raise ValueError(f"a pair needs two different models, got {a!r} twice")
    return frozenset((a, b))


def normalise_counts(counts: Mapping[Pair | tuple[str, str], int]) -> dict[Pair, int]:
    """Fold ``(a, b)``, ``(b, a)`` and ``frozenset({a, b})`` keys into one unordered count."""
    return {frozenset(k): int(v) for k, v in _fold(counts, "vote count").items()}


def count_drift(
    truth: Mapping[Pair | tuple[str, str], int], observed: Mapping[Pair | tuple[str, str], int]
) -> dict[Pair, int]:
    """Per unordered pair, votes in `truth` minus votes in `observed`, for the pairs where the
    two differ (empty when they agree). Used to repair the live counts from the SQL log."""
    true_counts, seen = normalise_counts(truth), normalise_counts(observed)
    return {pair: true_counts.get(pair, 0) - seen.get(pair, 0)
            for pair in true_counts.keys() | seen.keys()
            if true_counts.get(pair, 0) != seen.get(pair, 0)}


def _fold(values: Mapping[Any, float], what: str) -> dict[tuple[str, str], float]:
    """Sum values over unordered pairs, keyed by the sorted name tuple; refuse bad keys/values."""
    folded: dict[tuple[str, str], float] = {}
    for key, value in values.items():
        try:
            a, b = key
        except (TypeError, ValueError):
            raise ValueError(f"pair key {key!r} must name exactly two different models") from None
        if a == b:
            raise ValueError(f"pair key {key!r} must name exactly two different models")
        if a > b:
            a, b = b, a
        if not value >= 0 or not math.isfinite(value):
            raise ValueError(f"pair ({a!r}, {b!r}) has {what} {value!r}; it must be >= 0")
        folded[a, b] = folded.get((a, b), 0) + value
    return folded


def outcome_variance(wins_x: float, wins_y: float, ties: float = 0.0) -> float:
    """Variance of one vote's outcome H on a pair (H = 1 x wins, 0 y wins, ½ tie), in [0, ¼].

    Smoothed with one pseudo-win for each side so that a pair with few votes gets a variance
    near ¼ rather than 0 (an unanimous first vote must not make the pair look settled).
    """
    a, b, t = wins_x + 1.0, wins_y + 1.0, ties
    n = a + b + t
    mean = (a + 0.5 * t) / n
    second_moment = (a + 0.25 * t) / n
    return max(second_moment - mean * mean, 0.0)


def assign_sides(pair: Iterable[str], seed: int) -> tuple[str, str]:
    """(left, right) for ``pair`` from a fair coin seeded with ``seed``.

    The result depends only on the unordered pair and the seed, so the logged seed replays it.
    """
    x, y = sorted(pair)
    heads = random.Random(seed).random() < 0.5
    return (x, y) if heads else (y, x)


def new_side_seed() -> int:
    """A fresh 63-bit seed for `assign_sides` (log it as ``BattleRecord.side_seed``)."""
    return secrets.randbits(63)


class PairSampler:
    """Draws the next pair of models under one policy (see the module docstring for the math).

    Parameters
    ----------
    policy:
        One of `POLICIES`.
    weights:
        Per-model weights for ``weighted`` (ignored otherwise). Must be finite and ≥ 0.
    default_weight:
        Weight of a model missing from ``weights``.
    alpha:
        Exponent α ≥ 0 of ``balanced``.
    """

    def __init__(
        self,
        policy: str = "uniform",
        *,
        weights: Mapping[str, float] | None = None,
        default_weight: float = 1.0,
        alpha: float = 1.0,
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(
                f"unknown sampling policy {policy!r}; use one of {', '.join(POLICIES)}"
            )
        self.policy = policy
        self.weights = dict(weights or {})
        for name, weight in [*self.weights.items(), ("default_weight", default_weight)]:
            if not isinstance(weight, numbers.Real) or not math.isfinite(weight) or weight < 0:
                raise ValueError(
                    f"sampling weight for {name!r} is {weight!r}; weights must be finite "
                    "numbers >= 0"
                )
        self.default_weight = float(default_weight)
        if not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"balanced sampling alpha is {alpha!r}; it must be a number >= 0")
        self.alpha = float(alpha)
        self._warned: set[frozenset[str]] = set()
        if policy == "weighted" and not any(w > 0 for w in self.weights.values()):
            log.warning(
                "weighted pair sampling: the weight table is %s, so it cannot favour any "
                "model; pairs are drawn uniformly. Give models a weight > 0 in the config.",
                "empty" if not self.weights else "all zeros",
            )

    def distribution(
        self,
        models: Sequence[str],
        counts: Mapping[Pair | tuple[str, str], int] | None = None,
        *,
        excluded: Iterable[str] = (),
        variances: Mapping[Pair | tuple[str, str], float] | None = None,
        retired: Iterable[str] = (),
    ) -> dict[Pair, float]:
        """P(pair) for every unordered pair of healthy, not retired models; the values sum
        to 1.

        Raises `NotEnoughModels` when fewer than two models remain after ``excluded`` and
        ``retired``.
        """
        pairs, scores = self._pairs_and_scores(models, counts, excluded, variances, retired)
        total = math.fsum(scores)
        return {frozenset(pair): score / total for pair, score in zip(pairs, scores, strict=True)}

    def sample(
        self,
        models: Sequence[str],
        counts: Mapping[Pair | tuple[str, str], int] | None,
        rng: UniformSource,
        *,
        excluded: Iterable[str] = (),
        variances: Mapping[Pair | tuple[str, str], float] | None = None,
        retired: Iterable[str] = (),
    ) -> PairChoice:
        """Draw one unordered pair with one ``rng.random()`` call (inverse CDF)."""
        pairs, scores = self._pairs_and_scores(models, counts, excluded, variances, retired)
        cumulative = list(itertools.accumulate(scores))
        total = cumulative[-1]
        index = min(bisect.bisect_right(cumulative, float(rng.random()) * total), len(pairs) - 1)
        # bisect can land on a zero-score pair when u falls exactly on a cumulative edge.
        while scores[index] == 0.0:
            index -= 1
        x, y = pairs[index]
        return PairChoice(x, y, scores[index] / total, self.policy)

    def _pairs_and_scores(
        self,
        models: Sequence[str],
        counts: Mapping[Pair | tuple[str, str], int] | None,
        excluded: Iterable[str],
        variances: Mapping[Pair | tuple[str, str], float] | None,
        retired: Iterable[str] = (),
    ) -> tuple[list[tuple[str, str]], list[float]]:
        """Sorted-name pairs of healthy, not retired models and their unnormalised scores
        (sum > 0)."""
        down, gone = set(excluded), set(retired)
        healthy = sorted({m for m in models if m not in down and m not in gone})
        if len(healthy) < 2:
            raise NotEnoughModels(
                f"need at least two healthy models that are not retired to start a battle; "
                f"healthy: {healthy or 'none'}, in outage: "
                f"{sorted(down & set(models)) or 'none'}, retired: "
                f"{sorted(gone & set(models)) or 'none'}. Start or fix a model server, wait "
                "until one comes back, or give a retired model another state and reload."
            )
        pairs = list(itertools.combinations(healthy, 2))
        scores = self._scores(pairs, counts, variances, healthy)
        if not math.fsum(scores) > 0:  # e.g. every variance 0; also catches NaN
            scores = [1.0] * len(pairs)
        return pairs, scores

    def _scores(
        self,
        pairs: list[tuple[str, str]],
        counts: Mapping[Any, int] | None,
        variances: Mapping[Any, float] | None,
        healthy: list[str],
    ) -> list[float]:
        if self.policy == "uniform":
            return [1.0] * len(pairs)
        if self.policy == "weighted":
            weight = {m: float(self.weights.get(m, self.default_weight)) for m in healthy}
            scores = [weight[a] * weight[b] for a, b in pairs]
            if not any(s > 0 for s in scores):
                self._warn_uniform_fallback(healthy)
                return [1.0] * len(pairs)
            return scores
        n = _fold(counts or {}, "vote count")
        if self.policy == "balanced":
            exponent = -self.alpha
            return [(1.0 + n.get(pair, 0)) ** exponent for pair in pairs]
        return self._active_scores(pairs, n, _fold(variances or {}, "outcome variance"))

    @staticmethod
    def _active_scores(
        pairs: list[tuple[str, str]],
        counts: dict[tuple[str, str], float],
        sigma: dict[tuple[str, str], float],
    ) -> list[float]:
        n = [counts.get(pair, 0) for pair in pairs]
        if any(k == 0 for k in n):
            # sqrt(Σ/0) is infinite: the rule's limit is uniform over the unvoted pairs.
            return [1.0 if k == 0 else 0.0 for k in n]
        return [
            math.sqrt(s / k) - math.sqrt(s / (k + 1))
            for pair, k in zip(pairs, n, strict=True)
            for s in (sigma.get(pair, MAX_OUTCOME_VARIANCE),)
        ]

    def _warn_uniform_fallback(self, healthy: list[str]) -> None:
        key = frozenset(healthy)
        if key in self._warned:  # once per set of healthy models, not once per battle
            return
        self._warned.add(key)
        log.warning(
            "weighted pair sampling: every pair of healthy models %s has weight 0; "
            "sampling uniformly instead. Give these models a weight > 0 in the config.",
            healthy,
        )
