"""Rater quality: flag judges whose votes disagree with everyone else's beyond chance.

Following Chiang et al. 2024 (Chatbot Arena, arXiv 2403.04132, section 5.1): each vote of
judge u on the pair {i, j} gets a conformal p-value against the history H of that pair's votes
by all *other* judges::

    p = (1 + #{h in H : freq_H(h) <= freq_H(vote)}) / (1 + |H|)

i.e. the share of the history at most as common as this vote (outcomes: first model wins,
second wins, tie, both bad; orientation-free). The paper orders outcomes one-sidedly; ranking
by frequency makes the test two-sided, so a judge who always picks the underdog and one who
always ties are both caught. Votes on pairs with no other-judge history are skipped.
A judge's p-values are combined with Fisher's method, M = -2 sum log p ~ chi^2(2m) under the
null of an ordinary rater (conservative for these discrete p-values), and the judge is flagged
when the combined p-value is below alpha / (number of judges tested) (Bonferroni). Judges with
fewer than `min_votes` scored votes are not tested.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2

from ratings.errors import BattleDataError


def rater_anomalies(
    battles: pd.DataFrame, alpha: float = 0.01, min_votes: int = 5
) -> pd.DataFrame:
    """One row per judge: votes, scored votes, Fisher statistic, combined p-value, flagged.

    `battles` needs `judge`, `model_a`, `model_b` and `winner` (raw winner strings, so "both
    bad" stays distinct from a tie).
    """
    if "judge" not in battles.columns:
        raise BattleDataError("rater analysis needs a `judge` column (rater id) in the input")
    a = battles["model_a"].astype(str).to_numpy()
    b = battles["model_b"].astype(str).to_numpy()
    winner = battles["winner"].astype(str).to_numpy()
    swap = a > b
    first = np.where(swap, b, a)
    second = np.where(swap, a, b)
    vote = winner.copy()
    vote[swap & (winner == "model_a")] = "model_b"
    vote[swap & (winner == "model_b")] = "model_a"
    frame = pd.DataFrame({"judge": battles["judge"].astype(str).to_numpy(),
                          "pair": pd.Series(first) + "\x1f" + pd.Series(second), "vote": vote})
    cell = frame.groupby(["pair", "vote"]).size().rename("pair_vote")
    judge_cell = frame.groupby(["judge", "pair", "vote"]).size().rename("judge_vote")
    # Other judges' counts of every outcome per (judge, pair): the pair's history without
    # the judge's own votes, ranked by frequency below.
    full = cell.unstack(fill_value=0)
    mine = judge_cell.unstack(fill_value=0).reindex(columns=full.columns, fill_value=0)
    others = full.reindex(mine.index.get_level_values("pair")).to_numpy() - mine.to_numpy()
    history = others.sum(axis=1)
    per_vote = []
    for (judge, _pair), row_others, size, row_mine in zip(
        mine.index, others, history, mine.to_numpy(), strict=True
    ):
        if size == 0:
            continue
        for column, n_votes in enumerate(row_mine):
            if n_votes == 0:
                continue
            freq = row_others[column]
            p = (1 + row_others[row_others <= freq].sum()) / (1 + size)
            per_vote.append((judge, int(n_votes), float(p)))
    votes = frame.groupby("judge").size()
    scored = pd.DataFrame(per_vote, columns=["judge", "n", "p"])
    scored["log_p"] = np.log(scored["p"]) * scored["n"]
    summary = scored.groupby("judge").agg(scored_votes=("n", "sum"), log_p=("log_p", "sum"))
    summary = summary.reindex(votes.index).fillna({"scored_votes": 0, "log_p": 0.0})
    summary["votes"] = votes
    summary["fisher_statistic"] = -2 * summary["log_p"]
    tested = summary["scored_votes"] >= min_votes
    summary["p_value"] = np.where(
        tested, chi2.sf(summary["fisher_statistic"], 2 * summary["scored_votes"]), np.nan)
    threshold = alpha / max(int(tested.sum()), 1)
    summary["flagged"] = tested & (summary["p_value"] < threshold)
    summary["threshold"] = threshold
    out = summary.reset_index()[["judge", "votes", "scored_votes", "fisher_statistic",
                                 "p_value", "flagged", "threshold"]]
    out["scored_votes"] = out["scored_votes"].astype(int)
    return out.sort_values(["flagged", "p_value"], ascending=[False, True]).reset_index(drop=True)
