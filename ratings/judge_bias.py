"""A judge's biases measured against the humans on the same battles.

Every rate here is a share of points won by a chosen side, ties and both-bad votes counting
half: r = Σ score / Σ votes over the battles where the side is defined. The judge's rate
counts both of its verdicts on a battle (one per order); the humans' rate counts the human
vote. The three sides:

- position: the side shown first. The judge's first-position win rate, against the humans'
  left-side win rate (the human saw `model_a` on the left). Judging every battle in both
  orders cancels answer quality exactly: a judge without position bias that says the same
  model in both orders scores 0.5 whatever the battles;
- family F (self-preference): the side whose model belongs to family F, on the battles with
  exactly one side of F. A judge that favours its own family wins more for it than the humans
  gave it on the same battles;
- the longer answer (more completion tokens, else words; `ratings.style.style_counts`), on
  the battles whose two sides differ in length.

Intervals: battles are resampled with replacement (a cluster bootstrap: a battle's two
verdicts and its human vote travel together, and they are not independent), `rounds` draws
from `numpy.random.default_rng(seed)`, percentile interval at `level`. The difference judge −
human comes from the same draws (paired), so it is the bias measured net of what the battles
themselves hold. Position consistency (the share of battles judged in both orders whose
verdict, read in the human's sides, is the same both times) is a share of independent
battles, with a Wilson interval (`ratings.agreement.wilson_interval`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ratings.agreement import wilson_interval
from ratings.judge_pairs import SCORE_A, JudgedBattles, battle_codes
from ratings.style import style_counts

# Bootstrap weights are drawn in blocks of at most this many numbers (rounds x battles), so
# a log of any size needs bounded memory (~40 MB of float64 per block).
BLOCK_ELEMENTS = 5_000_000


@dataclass(frozen=True)
class BattleBootstrap:
    """Bootstrap multiplicities of `battles` battles: Multinomial(B, 1/B) per round, `rounds`
    rounds from `numpy.random.default_rng(seed)`, drawn again block by block for every
    statistic, so each statistic sees the very same draws (paired) without keeping them."""

    battles: int
    rounds: int
    seed: int

    def blocks(self) -> Iterator[np.ndarray]:
        """The weights, shape (block rounds, battles), round after round: each round draws
        B battle indices uniformly with replacement and counts them (exactly Multinomial(B,
        1/B), and far cheaper than B sequential binomials)."""
        generator = np.random.default_rng(self.seed)
        n = self.battles
        size = max(1, BLOCK_ELEMENTS // max(n, 1))
        for start in range(0, self.rounds, size):
            count = min(size, self.rounds - start)
            drawn = generator.integers(0, max(n, 1), size=(count, n))
            drawn += np.arange(count)[:, None] * n  # one bincount for the whole block
            yield np.bincount(drawn.ravel(), minlength=count * n).reshape(count, n).astype(
                np.float64)

    def apply(self, statistic: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """`statistic(weights)` (one row per round) over every block, stacked."""
        return np.concatenate([statistic(block) for block in self.blocks()])


def _interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def _ratio(num: np.ndarray, den: np.ndarray) -> float:
    total = float(den.sum())
    return float(num.sum()) / total if total else float("nan")


def paired_rate(judged: JudgedBattles, human_side: np.ndarray, verdict_side: np.ndarray,
                bootstrap: BattleBootstrap, level: float) -> dict[str, Any]:
    """Judge and human win rates of a chosen side, and their difference, with intervals.

    `human_side` (one per battle) and `verdict_side` (one per verdict): +1 for the human's
    left side (`model_a`), -1 for the right, 0 where the side is undefined (not counted).
    """
    human_a = judged.battles["human"].map(SCORE_A).to_numpy(dtype=float)
    h_den = (human_side != 0).astype(float)
    h_num = np.where(human_side > 0, human_a, 1 - human_a) * h_den
    judge_a = judged.verdicts["judge"].map(SCORE_A).to_numpy(dtype=float)
    v_den = (verdict_side != 0).astype(float)
    v_num = np.where(verdict_side > 0, judge_a, 1 - judge_a) * v_den
    codes, n = battle_codes(judged), judged.n_battles
    j_num = np.bincount(codes, weights=v_num, minlength=n)
    j_den = np.bincount(codes, weights=v_den, minlength=n)

    def rates(weights: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.column_stack([(weights @ j_num) / (weights @ j_den),
                                    (weights @ h_num) / (weights @ h_den)])

    draws = bootstrap.apply(rates)
    judge_draws, human_draws = draws[:, 0], draws[:, 1]
    judge, human = _ratio(j_num, j_den), _ratio(h_num, h_den)
    out: dict[str, Any] = {"battles": int(((h_den > 0) | (j_den > 0)).sum()),
                           "verdicts": int(v_den.sum()), "judge": judge}
    out["judge_lower"], out["judge_upper"] = _interval(judge_draws, level)
    out["human"] = human
    out["human_lower"], out["human_upper"] = _interval(human_draws, level)
    out["difference"] = judge - human
    out["difference_lower"], out["difference_upper"] = _interval(judge_draws - human_draws,
                                                                 level)
    return out


def position_bias_rates(judged: JudgedBattles, bootstrap: BattleBootstrap, level: float
                        ) -> dict[str, Any]:
    """First-position win rate of the judge (the answer it saw first) against the humans'
    left-side win rate, and the difference (module docstring)."""
    human_side = np.ones(judged.n_battles)
    verdict_side = np.where(judged.verdicts["swapped"].to_numpy(dtype=bool), -1.0, 1.0)
    return paired_rate(judged, human_side, verdict_side, bootstrap, level)


def position_consistency(judged: JudgedBattles, level: float) -> dict[str, Any]:
    """The share of battles judged in both orders whose verdict survives the swap."""
    both = judged.battles.dropna(subset=["judge_original", "judge_swapped"])
    original, swapped = both["judge_original"], both["judge_swapped"]
    same = int((original == swapped).sum())
    n = len(both)
    lower, upper = wilson_interval(same, n, level)
    return {
        "battles": n, "consistent": same, "rate": same / n if n else float("nan"),
        "lower": lower, "upper": upper,
        "first_both_times": int(((original == "a") & (swapped == "b")).sum()),
        "second_both_times": int(((original == "b") & (swapped == "a")).sum()),
        "one_order_only": int(judged.n_battles - n),
    }


def family_of(model: str, families: dict[str, str] | None) -> str:
    """A model's family: `families[model]` when given and non-empty, else its own name."""
    return (families or {}).get(model) or model


def self_preference(judged: JudgedBattles, families: dict[str, str] | None,
                    bootstrap: BattleBootstrap, level: float) -> pd.DataFrame:
    """Per family: the judge's and the humans' win rates for that family on the battles
    with exactly one side of it, their difference, and whether it is the judge's family."""
    family_a = judged.battles["model_a"].map(lambda m: family_of(str(m), families))
    family_b = judged.battles["model_b"].map(lambda m: family_of(str(m), families))
    codes = battle_codes(judged)
    own = family_of(judged.judge_model, families)
    models = {str(m) for m in pd.concat([judged.battles["model_a"], judged.battles["model_b"]])}
    rows = []
    for family in sorted(set(family_a) | set(family_b)):
        in_a, in_b = (family_a == family).to_numpy(), (family_b == family).to_numpy()
        side = np.where(in_a & ~in_b, 1.0, np.where(in_b & ~in_a, -1.0, 0.0))
        if not side.any():
            continue
        members = sorted(m for m in models if family_of(m, families) == family)
        row = {"family": family, "models": ", ".join(members), "judge_family": family == own}
        row.update(paired_rate(judged, side, side[codes], bootstrap, level))
        rows.append(row)
    return pd.DataFrame(rows)


def longer_answer_rates(judged: JudgedBattles, bootstrap: BattleBootstrap, level: float
                        ) -> dict[str, Any]:
    """Win rate of the longer answer (tokens; words without token counts) for the judge and
    the humans, on the battles whose sides differ in length."""
    counts = style_counts(judged.humans, ("tokens",))
    length = pd.Series(counts["tokens_a"].to_numpy() - counts["tokens_b"].to_numpy(),
                       index=judged.humans["battle_id"].to_numpy())
    side = np.sign(length.reindex(judged.battles["battle_id"]).fillna(0).to_numpy(float))
    return paired_rate(judged, side, side[battle_codes(judged)], bootstrap, level)
