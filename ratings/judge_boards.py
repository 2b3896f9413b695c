"""The judge's leaderboard beside the humans' on the same battles, and both style fits.

- Boards: `ratings.compute_leaderboard` on the human votes of the judged battles and on the
  judge's verdicts of them (both orders: every battle counts twice for the judge, which
  leaves its point estimates as they would be from one vote per battle, with position bias
  averaged out). Both are centred on the same mean over the same models, so a model's
  difference judge − human is comparable.
- Rank agreement: Spearman's ρ and Kendall's τ-b of the two boards' ratings (scipy.stats).
- Intervals: a cluster bootstrap over battles (the same draws as `ratings.judge_bias`):
  each round reweights the battles, refits both Bradley–Terry boards on the weighted counts
  and keeps both rating vectors. A battle's two verdicts travel together, so the judge
  board's interval is not narrowed by counting every battle twice (a sandwich interval on
  the verdicts would treat them as independent votes), and the difference judge − human per
  model (Elo points) gets a paired interval that knows the two boards share their battles.
  `flagged`: the two boards' intervals do not overlap.
- Style: the style-control coefficients (`ratings.controlled.style_control`: length,
  headers, lists, bold; logits per SD of the normalised difference) fitted on the human
  votes and on the verdicts, side by side.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from ratings.aggregate import BattleCounts
from ratings.bt import fit_bt
from ratings.errors import BattleDataError
from ratings.judge_bias import BattleBootstrap
from ratings.judge_pairs import JudgedBattles
from ratings.leaderboard import Leaderboard, compute_leaderboard
from ratings.options import RatingOptions
from ratings.prepare import select_battles
from ratings.scale import percentile_interval, rating_mapping, to_ratings

BOARD_COLUMNS = ["model", "human_rank", "human_rating", "human_lower", "human_upper",
                 "judge_rank", "judge_rating", "judge_lower", "judge_upper", "difference",
                 "difference_lower", "difference_upper", "flagged"]


def board_options(options: RatingOptions) -> RatingOptions:
    """The options both boards use: Bradley–Terry with ties half or dropped (the paired
    refits use `ratings.bt.fit_bt`), no per-rater screening (a judge is one rater)."""
    ties = options.ties if options.ties in ("half", "drop") else "half"
    return replace(options, method="bt", ties=ties, judge=None, raters=False,
                   exclude_flagged=False, style=False, position_bias=False, robustness=False,
                   max_votes_per_rater_per_day=None, dedupe_prompts=False, min_votes=0)


def both_boards(judged: JudgedBattles, options: RatingOptions
                ) -> tuple[Leaderboard, Leaderboard]:
    """(human board, judge board) on the judged battles."""
    options = board_options(options)
    human = compute_leaderboard(judged.humans, options)
    judge = compute_leaderboard(judged.judged, replace(options, judge=judged.judge_model))
    return human, judge


def _cells(selected: pd.DataFrame, models: list[str]) -> tuple[BattleCounts, np.ndarray]:
    """Counts with one cell per distinct (a, b, outcome) and each row's cell index."""
    index = {m: i for i, m in enumerate(models)}
    a = selected["model_a"].astype(str).map(index).to_numpy(dtype=np.int64)
    b = selected["model_b"].astype(str).map(index).to_numpy(dtype=np.int64)
    outcome = selected["outcome"].to_numpy().astype(np.int64)
    n = len(models)
    cell, keys = pd.factorize((a * n + b) * 3 + outcome)
    keys = np.asarray(keys, dtype=np.int64)
    counts = BattleCounts(models, keys // 3 // n, keys // 3 % n, (keys % 3).astype(np.int8),
                          np.ones(len(keys)))
    return counts, cell.astype(np.int64)


def _weighted_ratings(counts: BattleCounts, cell: np.ndarray, row_battle: np.ndarray,
                      weights: np.ndarray, options: RatingOptions) -> np.ndarray:
    """Ratings per bootstrap round (rounds x models) from battle multiplicities (rounds x
    battles)."""
    mapping, offset = rating_mapping(counts.models, options)
    out = np.empty((len(weights), counts.n_models))
    for r, round_weights in enumerate(weights):
        count = np.bincount(cell, weights=round_weights[row_battle], minlength=len(counts.a))
        sample = BattleCounts(counts.models, counts.a, counts.b, counts.outcome, count)
        fit = fit_bt(sample, ties=options.ties, prior=options.prior)
        out[r] = to_ratings(fit.theta, mapping, options.points_per_logit, offset)
    return out


def board_draws(judged: JudgedBattles, bootstrap: BattleBootstrap, options: RatingOptions,
                models: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap draws (rounds x models) of the human and of the judge ratings, paired by
    battle."""
    options = board_options(options)
    positions = pd.Index(judged.battles["battle_id"])
    draws = []
    for frame, judge in ((judged.humans, None), (judged.judged, judged.judge_model)):
        selected = select_battles(frame, replace(options, judge=judge)).battles
        key = selected["battle_id"] if judge is None else selected["replay_of"]
        row_battle = positions.get_indexer(key)
        counts, cell = _cells(selected, models)
        draws.append(bootstrap.apply(partial(_weighted_ratings, counts, cell, row_battle,
                                             options=options)))
    return draws[0], draws[1]


def boards_side_by_side(human: Leaderboard, judge: Leaderboard,
                        draws: tuple[np.ndarray, np.ndarray] | None, models: list[str],
                        level: float) -> pd.DataFrame:
    """One row per model (BOARD_COLUMNS), ordered by the human rating; intervals from
    `draws` (`board_draws`), else the boards' own."""
    h = human.table.set_index("model").reindex(models)
    j = judge.table.set_index("model").reindex(models)
    table = pd.DataFrame({
        "model": models, "human_rank": h["rank"].to_numpy(), "human_rating": h["rating"],
        "human_lower": h["lower"], "human_upper": h["upper"], "judge_rank": j["rank"],
        "judge_rating": j["rating"], "judge_lower": j["lower"], "judge_upper": j["upper"],
    }).reset_index(drop=True)
    table["difference"] = table["judge_rating"] - table["human_rating"]
    if draws is not None and len(draws[0]):
        for who, values in zip(("human", "judge", "difference"),
                               (*draws, draws[1] - draws[0]), strict=True):
            table[f"{who}_lower"], table[f"{who}_upper"] = percentile_interval(values, level)
    else:
        table["difference_lower"] = table["difference_upper"] = np.nan
    table["flagged"] = ((table["judge_lower"] > table["human_upper"])
                        | (table["judge_upper"] < table["human_lower"]))
    return table.sort_values("human_rating", ascending=False).reset_index(drop=True)[
        BOARD_COLUMNS]


def rank_correlation(table: pd.DataFrame) -> dict[str, Any]:
    """Spearman's ρ and Kendall's τ-b of the two boards' ratings, with their p-values."""
    constant = table["human_rating"].nunique() < 2 or table["judge_rating"].nunique() < 2
    if len(table) < 3 or constant:  # a rank correlation needs two orders to compare
        nan = float("nan")
        return {"models": len(table), "spearman": nan, "spearman_p": nan, "kendall": nan,
                "kendall_p": nan}
    rho = spearmanr(table["human_rating"], table["judge_rating"])
    tau = kendalltau(table["human_rating"], table["judge_rating"])
    return {"models": len(table), "spearman": float(rho.statistic),
            "spearman_p": float(rho.pvalue), "kendall": float(tau.statistic),
            "kendall_p": float(tau.pvalue)}


def style_side_by_side(judged: JudgedBattles, options: RatingOptions
                       ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Style coefficients of the humans and of the judge (feature, human_*, judge_*: the
    coefficient in logits per SD with its interval, and Elo points), and the reason for a
    side that could not be fitted (say, a feature constant over the battles)."""
    options = replace(board_options(options), style=True,
                      style_features=options.style_features)
    parts, problems = [], {}
    for who, frame, judge in (("human", judged.humans, None),
                              ("judge", judged.judged, judged.judge_model)):
        try:
            board = compute_leaderboard(frame, replace(options, judge=judge))
        except (BattleDataError, np.linalg.LinAlgError) as bad:
            # e.g. a feature constant over the battles, or a judge whose verdicts one
            # feature separates perfectly (no finite coefficient)
            problems[who] = str(bad)
            continue
        coefficients = board.style_coefficients.set_index("feature")
        parts.append(coefficients.add_prefix(f"{who}_"))
    if not parts:
        return pd.DataFrame({"feature": list(options.style_features)}), problems
    table = pd.concat(parts, axis=1).reindex(list(options.style_features))
    if len(parts) == 2:
        table["difference"] = table["judge_coefficient"] - table["human_coefficient"]
    return table.rename_axis("feature").reset_index(), problems
