"""Pair sampling: each policy's empirical pair frequencies against its intended distribution.

The intended distributions are written out again here from the formulas in the docstring of
`arena.battles.sampling`, not read from the sampler, so a wrong formula in the sampler fails
the test.
Every statistical test uses a fixed seed and asserts p > 0.001.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from arena.battles.sampling import (
    NotEnoughModels,
    PairSampler,
    assign_sides,
    new_side_seed,
    normalise_counts,
    outcome_variance,
)

MODELS = ["alpha", "bravo", "charlie", "delta", "echo"]
DRAWS = 10_000


def all_pairs(models: list[str]) -> list[frozenset[str]]:
    return [frozenset(p) for p in itertools.combinations(sorted(models), 2)]


def draw_frequencies(sampler: PairSampler, models, counts, seed: int, **kwargs) -> Counter:
    rng = random.Random(seed)
    return Counter(
        frozenset(sampler.sample(models, counts, rng, **kwargs).pair) for _ in range(DRAWS)
    )


def assert_matches(observed: Counter, intended: dict[frozenset[str], float]) -> None:
    """Chi-square goodness of fit of observed pair counts to the intended probabilities."""
    assert set(observed) <= set(intended), f"drew pairs outside the support: {set(observed)}"
    pairs = [p for p in intended if intended[p] > 0]
    assert math.isclose(sum(intended.values()), 1.0)
    f_obs = np.array([observed.get(p, 0) for p in pairs], dtype=float)
    f_exp = np.array([intended[p] for p in pairs]) * f_obs.sum()
    p_value = stats.chisquare(f_obs, f_exp).pvalue
    assert p_value > 0.001, f"chi-square p = {p_value:.2g}; observed {f_obs}, expected {f_exp}"


def normalised(scores: dict[frozenset[str], float]) -> dict[frozenset[str], float]:
    total = sum(scores.values())
    return {p: s / total for p, s in scores.items()}


SOME_COUNTS = {
    ("alpha", "bravo"): 40,
    ("bravo", "alpha"): 10,  # the reversed tuple adds to the same unordered pair: 50 in all
    frozenset({"alpha", "charlie"}): 3,
    ("bravo", "charlie"): 12,
    ("charlie", "delta"): 1,
    ("delta", "echo"): 7,
    ("alpha", "delta"): 25,
    ("bravo", "delta"): 2,
    ("alpha", "echo"): 9,
    ("bravo", "echo"): 30,
    ("charlie", "echo"): 5,
}


def test_uniform_policy_draws_every_pair_equally_often():
    observed = draw_frequencies(PairSampler("uniform"), MODELS, SOME_COUNTS, seed=1)
    assert_matches(observed, {p: 1 / 10 for p in all_pairs(MODELS)})


def test_weighted_policy_draws_pairs_in_proportion_to_product_of_weights():
    weights = {"alpha": 1.0, "bravo": 2.0, "charlie": 3.0, "delta": 0.5, "echo": 4.0}
    sampler = PairSampler("weighted", weights=weights)
    observed = draw_frequencies(sampler, MODELS, {}, seed=2)
    x, y = "alpha", "echo"
    intended = normalised({p: math.prod(weights[m] for m in p) for p in all_pairs(MODELS)})
    assert math.isclose(
        intended[frozenset({x, y})],
        4.0 / sum(weights[a] * weights[b] for a, b in itertools.combinations(MODELS, 2)),
    )
    assert_matches(observed, intended)


def test_weighted_policy_gives_unlisted_models_the_default_weight():
    sampler = PairSampler("weighted", weights={"alpha": 3.0}, default_weight=1.0)
    dist = sampler.distribution(["alpha", "bravo", "charlie"])
    assert dist[frozenset({"alpha", "bravo"})] == pytest.approx(3 / 7)
    assert dist[frozenset({"bravo", "charlie"})] == pytest.approx(1 / 7)


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_balanced_policy_favours_pairs_with_fewer_votes(alpha):
    sampler = PairSampler("balanced", alpha=alpha)
    observed = draw_frequencies(sampler, MODELS, SOME_COUNTS, seed=3)
    n = normalise_counts(SOME_COUNTS)
    assert n[frozenset({"alpha", "bravo"})] == 50
    intended = normalised({p: (1 + n.get(p, 0)) ** -alpha for p in all_pairs(MODELS)})
    assert_matches(observed, intended)
    # The least-voted pair is drawn most often, the most-voted least often.
    assert observed.most_common()[0][0] == frozenset({"charlie", "delta"})
    assert observed.most_common()[-1][0] == frozenset({"alpha", "bravo"})


def test_active_policy_follows_the_chatbot_arena_rule():
    variances = {("alpha", "bravo"): 0.25, ("charlie", "echo"): 0.05, ("bravo", "delta"): 0.2}
    sampler = PairSampler("active")
    observed = draw_frequencies(sampler, MODELS, SOME_COUNTS, seed=4, variances=variances)
    n = normalise_counts(SOME_COUNTS)
    sigma = {frozenset(k): v for k, v in variances.items()}
    intended = normalised(
        {
            p: math.sqrt(sigma.get(p, 0.25) / n[p]) - math.sqrt(sigma.get(p, 0.25) / (n[p] + 1))
            for p in all_pairs(MODELS)
        }
    )
    assert_matches(observed, intended)


def test_active_policy_draws_only_unvoted_pairs_while_some_remain():
    counts = {("alpha", "bravo"): 5, ("alpha", "charlie"): 1}
    sampler = PairSampler("active")
    observed = draw_frequencies(sampler, ["alpha", "bravo", "charlie", "delta"], counts, seed=5)
    unvoted = [
        p
        for p in all_pairs(["alpha", "bravo", "charlie", "delta"])
        if p not in {frozenset({"alpha", "bravo"}), frozenset({"alpha", "charlie"})}
    ]
    assert_matches(observed, {p: 1 / len(unvoted) for p in unvoted})


def test_sampler_accepts_a_numpy_generator_and_is_reproducible_from_its_seed():
    sampler = PairSampler("balanced")
    first = [sampler.sample(MODELS, SOME_COUNTS, np.random.default_rng(7)) for _ in range(3)]
    again = [sampler.sample(MODELS, SOME_COUNTS, np.random.default_rng(7)) for _ in range(3)]
    assert first == again
    rng = np.random.default_rng(8)
    observed = Counter(
        frozenset(sampler.sample(MODELS, SOME_COUNTS, rng).pair) for _ in range(DRAWS)
    )
    assert_matches(observed, sampler.distribution(MODELS, SOME_COUNTS))


def test_reported_probability_is_that_of_the_chosen_unordered_pair():
    weights = {"alpha": 1.0, "bravo": 2.0, "charlie": 3.0}
    sampler = PairSampler("weighted", weights=weights)
    rng = random.Random(9)
    for _ in range(50):
        choice = sampler.sample(list(weights), {}, rng)
        assert choice.policy == "weighted"
        assert choice.model_x < choice.model_y
        expected = weights[choice.model_x] * weights[choice.model_y] / (2 + 3 + 6)
        assert choice.probability == pytest.approx(expected)


def test_models_in_outage_are_never_drawn_and_probabilities_are_renormalised():
    sampler = PairSampler("uniform")
    rng = random.Random(10)
    choices = [sampler.sample(MODELS, {}, rng, excluded={"bravo", "delta"}) for _ in range(2000)]
    drawn = {m for c in choices for m in c.pair}
    assert drawn == {"alpha", "charlie", "echo"}
    assert all(c.probability == pytest.approx(1 / 3) for c in choices)


def test_weighted_policy_with_empty_weights_warns_and_samples_uniformly(caplog):
    with caplog.at_level(logging.WARNING, logger="arena.battles.sampling"):
        sampler = PairSampler("weighted", weights={})
    assert "weight table is empty" in caplog.text
    observed = draw_frequencies(sampler, MODELS, {}, seed=11)
    assert_matches(observed, {p: 1 / 10 for p in all_pairs(MODELS)})


def test_weighted_policy_with_all_zero_weights_warns_and_samples_uniformly(caplog):
    zero = {m: 0.0 for m in MODELS}
    with caplog.at_level(logging.WARNING, logger="arena.battles.sampling"):
        sampler = PairSampler("weighted", weights=zero)
        observed = draw_frequencies(sampler, MODELS, {}, seed=12)
    assert "all zeros" in caplog.text
    assert "sampling uniformly instead" in caplog.text
    # Warned once per set of healthy models, not once per battle.
    assert caplog.text.count("sampling uniformly instead") == 1
    assert_matches(observed, {p: 1 / 10 for p in all_pairs(MODELS)})


def test_weighted_policy_falls_back_to_uniform_when_only_zero_weight_models_are_up(caplog):
    weights = {"alpha": 5.0, "bravo": 0.0, "charlie": 0.0, "delta": 0.0}
    sampler = PairSampler("weighted", weights=weights)
    with caplog.at_level(logging.WARNING, logger="arena.battles.sampling"):
        choice = sampler.sample(list(weights), {}, random.Random(13), excluded={"alpha"})
    assert "alpha" not in choice.pair
    assert choice.probability == pytest.approx(1 / 3)
    assert "has weight 0" in caplog.text


@pytest.mark.parametrize(
    ("models", "excluded"),
    [([], set()), (["alpha"], set()), (["alpha", "bravo", "charlie"], {"alpha", "bravo"})],
)
def test_fewer_than_two_healthy_models_raise_not_enough_models(models, excluded):
    with pytest.raises(NotEnoughModels, match="need at least two healthy models"):
        PairSampler("uniform").sample(models, {}, random.Random(0), excluded=excluded)


def test_not_enough_models_message_names_models_up_and_down():
    with pytest.raises(NotEnoughModels) as error:
        PairSampler("active").sample(
            ["alpha", "bravo", "charlie"], {}, random.Random(0), excluded={"bravo", "charlie"}
        )
    assert "['alpha']" in str(error.value)
    assert "['bravo', 'charlie']" in str(error.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policy": "elo"}, "unknown sampling policy"),
        ({"policy": "weighted", "weights": {"alpha": -1.0}}, "finite numbers >= 0"),
        ({"policy": "weighted", "weights": {"alpha": float("nan")}}, "finite numbers >= 0"),
        ({"policy": "balanced", "alpha": -0.5}, "alpha"),
    ],
)
def test_bad_sampler_settings_are_refused_with_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PairSampler(**kwargs)


def test_bad_pair_counts_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="vote count -1; it must be >= 0"):
        normalise_counts({("alpha", "bravo"): -1})
    with pytest.raises(ValueError, match="two different models"):
        normalise_counts({("alpha", "alpha"): 1})
    with pytest.raises(ValueError, match="two different models"):
        normalise_counts({frozenset({"alpha"}): 1})
    with pytest.raises(ValueError, match="outcome variance nan"):
        PairSampler("active").sample(
            MODELS, SOME_COUNTS, random.Random(0), variances={("alpha", "bravo"): float("nan")}
        )


def test_outcome_variance_is_a_quarter_without_votes_and_shrinks_when_one_side_dominates():
    assert outcome_variance(0, 0) == pytest.approx(0.25)
    assert outcome_variance(50, 50) == pytest.approx(0.25)
    assert outcome_variance(99, 1) < 0.05
    assert outcome_variance(0, 0, ties=100) < 0.01


def test_side_coin_is_fair_over_many_seeds():
    left_is_first = sum(
        assign_sides(("alpha", "bravo"), seed)[0] == "alpha" for seed in range(10_000)
    )
    assert stats.binomtest(left_is_first, 10_000, 0.5).pvalue > 0.001


def test_side_coin_is_fair_over_seeds_spread_over_all_63_bits():
    """Logged seeds are 63-bit (`new_side_seed`), not small integers: the coin must be fair
    over those too. Drawn from a seeded generator so the test gives the same verdict on
    every run."""
    rng = random.Random(14)
    left_is_first = sum(
        assign_sides(("alpha", "bravo"), rng.getrandbits(63))[0] == "alpha"
        for _ in range(10_000)
    )
    assert stats.binomtest(left_is_first, 10_000, 0.5).pvalue > 0.001


def test_new_side_seeds_are_distinct_63_bit_integers():
    """Fresh seeds fill the 63-bit range `assign_sides` is tested over above. The chance that
    this fails for a correct generator (a repeat, or no seed at or above 2**62 in 1,000
    draws) is below 2**-900."""
    seeds = [new_side_seed() for _ in range(1000)]
    assert all(isinstance(s, int) and 0 <= s < 2**63 for s in seeds)
    assert len(set(seeds)) == len(seeds)
    assert max(seeds) >= 2**62


def test_side_coin_is_reproducible_from_its_seed_whatever_the_pair_order():
    for seed in (0, 1, 2**40 + 3, 2**63 - 1):
        left, right = assign_sides(("alpha", "bravo"), seed)
        assert {left, right} == {"alpha", "bravo"}
        assert assign_sides(("bravo", "alpha"), seed) == (left, right)
        assert assign_sides(frozenset({"alpha", "bravo"}), seed) == (left, right)
    assert {assign_sides(("alpha", "bravo"), s) for s in range(20)} == {
        ("alpha", "bravo"),
        ("bravo", "alpha"),
    }
