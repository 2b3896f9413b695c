"""Sampling-corrected ratings (`--correct-sampling`, `ratings.weights`) by simulation.

What the correction can and cannot do (docs/ratings.md#sampling-corrected-ratings):

- When preferences really are Bradley–Terry, the plain fit is consistent whatever chose the
  pairs (the likelihood of the outcomes given the pairs does not involve the sampler); the
  weighted fit is consistent too and only costs variance. `test_..._bradley_terry_...` shows
  both recovering the planted strengths, and the price.
- When they are not (an intransitive cycle; a population of prompts whose strengths differ),
  "the" Bradley–Terry rating of a model depends on which pairs were compared. The plain fit
  converges to the approximation under the sampler's pair mix; the weighted fit to the one
  under uniform pair sampling, whichever sampler ran. The simulations plant such preferences,
  compute both limits exactly, and check that the corrected board recovers the uniform-design
  target while the plain board is many standard errors away from it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import root
from scipy.special import expit
from typer.testing import CliRunner

from arena.cli import app
from ratings import RatingOptions, compute_leaderboard
from ratings.aggregate import count_battles
from ratings.bt import fit_bt
from ratings.errors import BattleDataError
from ratings.prepare import select_battles
from ratings.weights import effective_sample_size, inverse_probability_weights

POINTS = 400 / math.log(10)
MODELS = ["m0", "m1", "m2", "m3"]
THETA = np.array([1.0, 0.5, 0.0, -0.5])  # log-strengths
# Relative pair frequencies of an uneven sampler: m0-m1 and m2-m3 are shown far more often.
UNEVEN = np.array([[0, 6, 1, 1], [6, 0, 1, 1], [1, 1, 0, 4], [1, 1, 4, 0]], float)


def bradley_terry(theta: np.ndarray) -> np.ndarray:
    return expit(theta[:, None] - theta[None, :])


def intransitive() -> np.ndarray:
    """BT strengths plus a rock-paper-scissors cycle m0 > m1 > m2 > m0 of 1.2 logits."""
    cycle = np.zeros((4, 4))
    for winner, loser in [(0, 1), (1, 2), (2, 0)]:
        cycle[winner, loser], cycle[loser, winner] = 1.0, -1.0
    return expit(THETA[:, None] - THETA[None, :] + 1.2 * cycle)


def prompt_mixture() -> np.ndarray:
    """Half the prompts are code, where m3 is worst, half chat, where it is second: the win
    probability of a pair is the average of two Bradley–Terry models (not one). Mixtures of
    Bradley–Terry models are close to one, so it takes strengths this far apart per prompt
    kind for the sampler's pair mix to matter."""
    code = np.array([-2.0, 2.5, -2.5, -3.0])
    chat = np.array([-1.0, 3.0, -1.5, 2.0])
    return 0.5 * bradley_terry(code) + 0.5 * bradley_terry(chat)


def projection(p: np.ndarray, design: np.ndarray) -> np.ndarray:
    """The Bradley–Terry log-strengths (sum zero) an infinite log converges to when pair
    (i, j) is compared with relative frequency design[i, j]: the root of
    sum_j design_ij (P_ij - sigmoid(theta_i - theta_j)) = 0."""
    n = len(p)

    def score(free: np.ndarray) -> np.ndarray:
        theta = np.r_[free, -free.sum()]
        return (design * (p - bradley_terry(theta))).sum(axis=1)[:-1]

    solution = root(score, np.zeros(n - 1), method="lm", tol=1e-13)
    assert solution.success
    return np.r_[solution.x, -solution.x.sum()]


def pair_probabilities(relative: np.ndarray) -> np.ndarray:
    upper = relative[np.triu_indices(len(relative), 1)]
    return upper / upper.sum()


def simulate(p: np.ndarray, design_of_battle, count: int, seed: int) -> pd.DataFrame:
    """`count` battles: battle t's pair drawn from `design_of_battle(t)` (probabilities of the
    upper-triangle pairs), sides by a fair coin, the outcome from p. Logs the pair
    probability, as the arena's samplers do."""
    rng = np.random.default_rng(seed)
    first, second = np.triu_indices(len(p), 1)
    chosen = np.empty(count, dtype=np.int64)
    probability = np.empty(count)
    for start in range(0, count, 1000):  # the design may change over time
        probs = design_of_battle(start)
        stop = min(count, start + 1000)
        chosen[start:stop] = rng.choice(len(probs), size=stop - start, p=probs)
        probability[start:stop] = probs[chosen[start:stop]]
    i, j = first[chosen], second[chosen]
    i_wins = rng.random(count) < p[i, j]
    swap = rng.random(count) < 0.5
    names = np.array(MODELS)
    return pd.DataFrame({
        "model_a": names[np.where(swap, j, i)], "model_b": names[np.where(swap, i, j)],
        "winner": np.where(i_wins ^ swap, "model_a", "model_b"),
        "pair_probability": probability,
    })


def estimate(frame: pd.DataFrame, **options) -> tuple[np.ndarray, np.ndarray, object]:
    """(log-strengths, 95% interval widths in logits) in MODELS order, and the board."""
    board = compute_leaderboard(frame, **options)
    table = board.table.set_index("model").loc[MODELS]
    theta = (table["rating"].to_numpy() - 1000.0) / POINTS
    width = (table["upper"] - table["lower"]).to_numpy() / POINTS
    return theta, width, board


def fixed(relative: np.ndarray):
    probs = pair_probabilities(relative)
    return lambda battle: probs


@pytest.mark.parametrize("preferences", [intransitive, prompt_mixture])
def test_corrected_fit_recovers_the_uniform_design_target_and_the_plain_fit_does_not(
        preferences):
    p = preferences()
    uniform = np.ones((4, 4)) - np.eye(4)
    target = projection(p, uniform)
    plain_limit = projection(p, UNEVEN)
    # The two limits really differ: by this many logits for the most affected model.
    assert np.abs(plain_limit - target).max() > 0.15
    frame = simulate(p, fixed(UNEVEN), 20_000, seed=3)
    corrected, corrected_width, board = estimate(frame, sampling_correction=True)
    plain, plain_width, _ = estimate(frame)
    se_corrected = corrected_width / (2 * 1.96)
    se_plain = plain_width / (2 * 1.96)
    # Corrected: within 3 standard errors of the target for every model.
    assert (np.abs(corrected - target) < 3 * se_corrected).all(), (corrected, target)
    # Plain: more than 5 standard errors off for some model, and near its own limit.
    assert (np.abs(plain - target) / se_plain).max() > 5
    assert (np.abs(plain - plain_limit) < 3 * se_plain).all()
    # The price: the effective sample size, and intervals no narrower.
    assert board.sampling["effective_sample_size"] < 0.8 * len(frame)
    assert corrected_width.mean() >= plain_width.mean()


def test_a_sampler_that_changes_over_time_is_corrected_battle_by_battle():
    """An adaptive sampler: the first half of the log favours m0-m1 and m2-m3, the second
    half m0-m2 and m1-m3. Each battle carries the probability in force when it was drawn."""
    later = np.array([[0, 1, 5, 1], [1, 0, 1, 5], [5, 1, 0, 1], [1, 5, 1, 0]], float)
    p = intransitive()
    frame = simulate(p, lambda t: pair_probabilities(UNEVEN if t < 12_000 else later),
                     24_000, seed=5)
    target = projection(p, np.ones((4, 4)) - np.eye(4))
    corrected, width, _ = estimate(frame, sampling_correction=True)
    plain, plain_width, _ = estimate(frame)
    assert (np.abs(corrected - target) < 3 * width / 3.92).all()
    assert (np.abs(plain - target) / (plain_width / 3.92)).max() > 4


def test_when_preferences_are_bradley_terry_both_fits_recover_them_and_weighting_costs():
    """The honest case: a correctly specified model needs no correction. Both boards cover
    the planted strengths; the weighted one has wider intervals (fewer effective battles)."""
    p = bradley_terry(THETA)
    frame = simulate(p, fixed(UNEVEN), 20_000, seed=11)
    truth = THETA - THETA.mean()
    corrected, corrected_width, board = estimate(frame, sampling_correction=True)
    plain, plain_width, _ = estimate(frame)
    assert (np.abs(plain - truth) < 3 * plain_width / 3.92).all()
    assert (np.abs(corrected - truth) < 3 * corrected_width / 3.92).all()
    assert corrected_width.mean() > plain_width.mean()
    weights = inverse_probability_weights(select_battles(frame).battles)
    assert board.sampling["effective_sample_size"] == pytest.approx(
        effective_sample_size(weights))
    assert board.sampling["efficiency"] < 0.7


def test_corrected_intervals_cover_the_target_at_their_level():
    """40 logs of 4,000 battles: the corrected 95% sandwich interval of m1 - the mean covers
    the uniform-design target in most of them; the plain one almost never (it is centred on
    another number)."""
    p = intransitive()
    target = projection(p, np.ones((4, 4)) - np.eye(4))
    covered = {True: 0, False: 0}
    for seed in range(40):
        frame = simulate(p, fixed(UNEVEN), 4_000, seed=100 + seed)
        for corrected in (True, False):
            board = compute_leaderboard(frame, sampling_correction=corrected).table
            row = board.set_index("model").loc["m1"]
            low, high = (row["lower"] - 1000) / POINTS, (row["upper"] - 1000) / POINTS
            covered[corrected] += low <= target[1] <= high
    assert covered[True] >= 34  # 95% nominal; 34 of 40 is the binomial's lower 1% tail
    assert covered[False] <= 4


def test_weighted_bootstrap_agrees_with_the_weighted_sandwich():
    frame = simulate(intransitive(), fixed(UNEVEN), 20_000, seed=8)
    _, sandwich, _ = estimate(frame, sampling_correction=True)
    _, bootstrap, _ = estimate(frame, sampling_correction=True, ci="bootstrap", rounds=300)
    assert np.allclose(bootstrap, sandwich, rtol=0.15)


def test_equal_weights_change_nothing():
    """Every battle with the same probability: weights all 1, the same fit as unweighted."""
    frame = simulate(bradley_terry(THETA), fixed(np.ones((4, 4))), 3_000, seed=2)
    battles = select_battles(frame).battles
    weights = inverse_probability_weights(battles)
    assert np.allclose(weights, 1.0)
    weighted = fit_bt(count_battles(battles, weights=weights))
    plain = fit_bt(count_battles(battles))
    assert np.allclose(weighted.theta, plain.theta, atol=1e-10)
    assert np.allclose(weighted.sandwich_covariance(), plain.sandwich_covariance(), atol=1e-12)


def test_battles_without_a_probability_are_dropped_and_counted():
    frame = simulate(intransitive(), fixed(UNEVEN), 2_000, seed=4)
    frame.loc[:99, "pair_probability"] = np.nan
    frame.loc[100:104, "pair_probability"] = 0.0
    board = compute_leaderboard(frame, sampling_correction=True)
    assert board.dropped["no_pair_probability"] == 105
    assert board.rows_used == 1_895 and board.sampling["no_pair_probability"] == 105
    assert board.sampling["battles"] == 1_895
    with pytest.raises(BattleDataError, match="no pair_probability column"):
        compute_leaderboard(frame.drop(columns="pair_probability"), sampling_correction=True)


def test_the_correction_refuses_what_it_does_not_weight():
    for refused in ({"ties": "davidson"}, {"robustness": True}, {"method": "elo"}):
        with pytest.raises(ValueError, match="sampling correction"):
            RatingOptions(sampling_correction=True, **refused)


def with_lengths(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Token counts per side, drawn independently of the outcome (no style effect)."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    frame["tokens_a"] = rng.integers(20, 400, len(frame))
    frame["tokens_b"] = rng.integers(20, 400, len(frame))
    return frame


def test_style_control_and_position_bias_are_weighted_too():
    """On the cycle's log, with style features that carry no effect, the corrected
    style-controlled ratings recover the uniform-design target and the plain ones do not;
    with equal weights both fits are the unweighted ones exactly."""
    p = intransitive()
    target = projection(p, np.ones((4, 4)) - np.eye(4))
    frame = with_lengths(simulate(p, fixed(UNEVEN), 20_000, seed=13), seed=14)
    boards = {c: compute_leaderboard(frame, style=True, style_features=("tokens",),
                                     position_bias=True, sampling_correction=c)
              for c in (True, False)}
    for corrected, board in boards.items():
        table = board.table.set_index("model").loc[MODELS]
        theta = (table["style_rating"].to_numpy() - 1000) / POINTS
        se = (table["style_upper"] - table["style_lower"]).to_numpy() / POINTS / 3.92
        z = np.abs(theta - target) / se
        assert (z < 3).all() if corrected else z.max() > 5, (corrected, z)
        # No planted side or length effect: both estimates are near zero.
        assert abs(board.position_bias["left_advantage_logit"]) < 0.08
        assert abs(board.style_coefficients["coefficient"].iloc[0]) < 0.08
    equal = with_lengths(simulate(p, fixed(np.ones((4, 4))), 3_000, seed=15), seed=16)
    weighted = compute_leaderboard(equal, style=True, style_features=("tokens",),
                                   position_bias=True, sampling_correction=True)
    plain = compute_leaderboard(equal, style=True, style_features=("tokens",),
                                position_bias=True)
    columns = ["style_rating", "style_lower", "style_upper"]
    assert np.allclose(weighted.table[columns], plain.table[columns], atol=1e-8)
    assert weighted.position_bias["upper"] == pytest.approx(plain.position_bias["upper"])


def test_the_command_line_corrects_reports_the_cost_and_reproduces(tmp_path: Path):
    path = tmp_path / "log.csv"
    simulate(intransitive(), fixed(UNEVEN), 5_000, seed=9).to_csv(path, index=False)
    out = tmp_path / "board.json"
    result = CliRunner().invoke(app, ["ratings", str(path), "--correct-sampling",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Sampling correction: each battle weighted by 1 / pair_probability" in result.stdout
    assert "effective sample size" in result.stdout
    written = json.loads(out.read_text())
    assert written["sampling_correction"]["battles"] == 5_000
    manifest = json.loads((tmp_path / "board.json.manifest.json").read_text())
    assert manifest["options"]["sampling_correction"] is True
    again = CliRunner().invoke(app, ["ratings", "--from-manifest",
                                     str(tmp_path / "board.json.manifest.json")])
    assert again.exit_code == 0, again.output
    assert "identical to the recorded output" in again.stdout
    plain = CliRunner().invoke(app, ["ratings", str(path), "--out", str(tmp_path / "p.json")])
    assert plain.exit_code == 0
    assert json.loads((tmp_path / "p.json").read_text())["leaderboard"] != written[
        "leaderboard"]


def test_the_weighted_style_bootstrap_agrees_with_its_sandwich():
    frame = with_lengths(simulate(intransitive(), fixed(UNEVEN), 5_000, seed=17), seed=18)
    options = {"style": True, "style_features": ("tokens",), "sampling_correction": True}
    sandwich = compute_leaderboard(frame, **options).table
    bootstrap = compute_leaderboard(frame, ci="bootstrap", rounds=200, **options).table
    width = {name: (t["style_upper"] - t["style_lower"]).to_numpy()
             for name, t in (("sandwich", sandwich), ("bootstrap", bootstrap))}
    assert np.allclose(width["bootstrap"], width["sandwich"], rtol=0.2)
