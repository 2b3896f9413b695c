"""Judge agreement: do replay votes (new raters) agree with the original votes on the same battles?

A replay arena shows a logged battle again with the sides re-randomised, so a replay vote's
`model_a` may be the original's `model_b`. Every comparison is therefore made in the original's
coordinates: a vote becomes one of

    "a"        the model the ORIGINAL showed on the left won
    "b"        the model the original showed on the right won
    "tie"      tie
    "bothbad"  tie (bothbad)

by mapping the replay winner through the models' names (the replay battle names the same two
models; which one is on which side tells whether it was swapped).

Each (original vote, replay vote) pair is one comparison; a battle re-voted by three raters
gives three. Reported:

- agreement rate p̂ = k / n (k pairs with the same outcome out of n), with a Wilson score
  interval (Wilson 1927): centre (p̂ + z²/2n) / (1 + z²/n), half-width
  z √(p̂(1−p̂)/n + z²/4n²) / (1 + z²/n), z the normal quantile of (1 + level)/2. It stays inside
  [0, 1] and behaves at p̂ = 0 or 1, unlike the Wald interval. Pairs that share an original
  battle are not independent, so with many raters per battle the interval is somewhat narrow;
- the same rate with the two kinds of tie merged ("tie" = "bothbad");
- Cohen's kappa κ = (p_o − p_e) / (1 − p_e), p_e = Σ_c row_c · col_c / n², agreement beyond
  what the two sets' outcome frequencies alone would give;
- the confusion table (rows: original vote, columns: replay vote).

Inputs are battles DataFrames as `ratings.io.read_battles` returns them; only the columns
`battle_id`, `model_a`, `model_b`, `winner`, `mode`, `status` and `replay_of` are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from ratings.errors import BattleDataError

OUTCOMES = ("a", "b", "tie", "bothbad")
OUTCOME_LABELS = {
    "a": "left model won",
    "b": "right model won",
    "tie": "tie",
    "bothbad": "both bad",
}
_FROM_WINNER = {"model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "bothbad"}


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (nan, nan) when `trials` is 0."""
    if trials == 0:
        return float("nan"), float("nan")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes {successes} must be between 0 and trials {trials}")
    z = float(norm.ppf((1 + level) / 2))
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def cohen_kappa(confusion: pd.DataFrame) -> float:
    """Cohen's kappa of a square confusion table of counts; nan when undefined (p_e = 1)."""
    counts = confusion.to_numpy(dtype=float)
    n = counts.sum()
    if n == 0:
        return float("nan")
    observed = np.trace(counts) / n
    expected = float((counts.sum(axis=1) * counts.sum(axis=0)).sum() / (n * n))
    if expected >= 1.0:
        return float("nan")
    return float((observed - expected) / (1 - expected))


def split_replay(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(original battles, replay battles) of one log: rows with mode "replay" are replays."""
    if "mode" not in frame.columns:
        return frame, frame.iloc[0:0]
    is_replay = (frame["mode"].astype(str) == "replay").to_numpy()
    return frame.loc[~is_replay], frame.loc[is_replay]


@dataclass
class JudgeAgreement:
    """The comparison of original and replay votes (see the module docstring)."""

    pairs: pd.DataFrame
    confusion: pd.DataFrame
    level: float
    agree: int
    n: int
    rate: float
    lower: float
    upper: float
    rate_ties_merged: float
    lower_ties_merged: float
    upper_ties_merged: float
    kappa: float
    unmatched: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def plain(value: float) -> float | None:
            return None if value is None or not np.isfinite(value) else float(value)

        return {
            "pairs": self.n,
            "agree": self.agree,
            "level": self.level,
            "agreement": plain(self.rate),
            "lower": plain(self.lower),
            "upper": plain(self.upper),
            "agreement_ties_merged": plain(self.rate_ties_merged),
            "lower_ties_merged": plain(self.lower_ties_merged),
            "upper_ties_merged": plain(self.upper_ties_merged),
            "kappa": plain(self.kappa),
            "confusion": {row: {col: int(v) for col, v in values.items()}
                          for row, values in self.confusion.to_dict("index").items()},
            "unmatched": dict(self.unmatched),
        }


def _need(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise BattleDataError(
            f"the {what} votes lack column(s) {', '.join(missing)}; judge comparison needs "
            "our JSONL or Parquet export (they carry battle_id, replay_of and the sides)"
        )


def _voted(frame: pd.DataFrame) -> pd.DataFrame:
    keep = frame["winner"].notna().to_numpy().copy()
    if "status" in frame.columns:
        keep &= (frame["status"].astype(str) == "voted").to_numpy()
    return frame.loc[keep]


def pair_votes(original: pd.DataFrame, replay: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """One row per (original vote, replay vote) on the same battle, both in original sides.

    Columns: battle_id, replay_battle_id, model_a, model_b (the original's sides), swapped,
    original, replay (outcomes in OUTCOMES), in the order of `replay`. Also returns counts of
    replay votes left out: `no_original` (its battle is not in `original`) and
    `original_not_voted`. Raises BattleDataError when a replay names models other than its
    original's. Vectorised (a join, not a loop): judge reports match 10^5 verdicts.
    """
    _need(original, ("battle_id", "model_a", "model_b", "winner"), "original")
    _need(replay, ("battle_id", "replay_of", "model_a", "model_b", "winner"), "replay")
    replay = _voted(replay)
    voted = _voted(original).drop_duplicates("battle_id").set_index("battle_id")
    source = replay["replay_of"]
    known = source.isin(original["battle_id"]).to_numpy()
    matched = source.isin(voted.index).to_numpy()
    unmatched = {"no_original": int((~known).sum()),
                 "original_not_voted": int((known & ~matched).sum())}
    rows = replay.loc[matched]
    first = voted.reindex(rows["replay_of"])
    ra, rb = _strings(rows["model_a"]), _strings(rows["model_b"])
    fa, fb = _strings(first["model_a"]), _strings(first["model_b"])
    swapped = (ra == fb) & (rb == fa)
    bad = ~(((ra == fa) & (rb == fb)) | swapped) | (fa == fb)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BattleDataError(
            f"replay battle {rows['battle_id'].iloc[i]} of {rows['replay_of'].iloc[i]} shows "
            f"{ra[i]} vs {rb[i]}, but the original was {fa[i]} vs {fb[i]}")
    outcome = pd.Series(_strings(rows["winner"])).map(_FROM_WINNER)
    before = pd.Series(_strings(first["winner"])).map(_FROM_WINNER)
    unknown = (outcome.isna() | before.isna()).to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise BattleDataError(f"unknown winner in battle {rows['battle_id'].iloc[i]} or "
                              f"{rows['replay_of'].iloc[i]}")
    flip = {"a": "b", "b": "a", "tie": "tie", "bothbad": "bothbad"}
    outcome = np.where(swapped, outcome.map(flip).to_numpy(), outcome.to_numpy())
    pairs = pd.DataFrame({
        "battle_id": rows["replay_of"].to_numpy(), "replay_battle_id": rows["battle_id"].to_numpy(),
        "model_a": first["model_a"].to_numpy(), "model_b": first["model_b"].to_numpy(),
        "swapped": swapped, "original": before.to_numpy(), "replay": outcome,
    })
    return pairs, unmatched


def _strings(column: pd.Series) -> np.ndarray:
    return column.astype(object).astype(str).to_numpy()


def compare_judges(original: pd.DataFrame, replay: pd.DataFrame,
                   level: float = 0.95) -> JudgeAgreement:
    """Agreement between original and replay votes on the same battles (module docstring).

    Raises BattleDataError when no replay vote matches a voted original battle.
    """
    pairs, unmatched = pair_votes(original, replay)
    if pairs.empty:
        raise BattleDataError(
            "no replay vote matches a voted original battle "
            f"(replay votes without their original: {unmatched['no_original']}, "
            f"originals without a vote: {unmatched['original_not_voted']}); pass the "
            "original export and the replay server's export"
        )
    return agreement_of_pairs(pairs, unmatched, level)


def agreement_of_pairs(pairs: pd.DataFrame, unmatched: dict[str, int] | None = None,
                       level: float = 0.95) -> JudgeAgreement:
    """The agreement of paired votes (`pair_votes`' table: columns `original` and `replay`,
    outcomes in OUTCOMES); what `compare_judges` reports once the votes are paired."""
    confusion = pd.crosstab(
        pd.Categorical(pairs["original"], OUTCOMES), pd.Categorical(pairs["replay"], OUTCOMES),
        dropna=False,
    )
    confusion.index = pd.Index(OUTCOMES, name="original")
    confusion.columns = pd.Index(OUTCOMES, name="replay")
    n = len(pairs)
    agree = int((pairs["original"] == pairs["replay"]).sum())
    merged = pairs.replace({"original": {"bothbad": "tie"}, "replay": {"bothbad": "tie"}})
    agree_merged = int((merged["original"] == merged["replay"]).sum())
    lower, upper = wilson_interval(agree, n, level)
    lower_m, upper_m = wilson_interval(agree_merged, n, level)
    return JudgeAgreement(
        pairs=pairs, confusion=confusion, level=level, agree=agree, n=n,
        rate=agree / n if n else float("nan"), lower=lower, upper=upper,
        rate_ties_merged=agree_merged / n if n else float("nan"),
        lower_ties_merged=lower_m, upper_ties_merged=upper_m,
        kappa=cohen_kappa(confusion), unmatched=dict(unmatched or {}),
    )


def agreement_text(result: JudgeAgreement) -> str:
    """A plain-text report: the rates with their intervals, kappa and the confusion table."""
    pct = f"{result.level:.0%}"
    lines = [
        f"Judge agreement: {result.n} replay vote(s) on originally voted battles",
        f"  agreement        {result.rate:6.1%}  ({result.agree}/{result.n}; {pct} Wilson CI "
        f"{result.lower:.1%} to {result.upper:.1%})",
        f"  ties merged      {result.rate_ties_merged:6.1%}  ({pct} Wilson CI "
        f"{result.lower_ties_merged:.1%} to {result.upper_ties_merged:.1%})",
        f"  Cohen's kappa    {result.kappa:6.3f}",
    ]
    left_out = {k: v for k, v in result.unmatched.items() if v}
    if left_out:
        lines.append("  left out: " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                                 for k, v in left_out.items()))
    labels = [OUTCOME_LABELS[o] for o in OUTCOMES]
    width = max(len(label) for label in labels)
    lines += ["", "Confusion (rows: original vote, columns: replay vote; sides as the original "
              "showed them)", " " * (width + 2) + "  ".join(f"{lab:>{width}}" for lab in labels)]
    for outcome, label in zip(OUTCOMES, labels, strict=True):
        counts = result.confusion.loc[outcome]
        lines.append(f"{label:<{width}}  " + "  ".join(f"{int(counts[c]):>{width}}"
                                                       for c in OUTCOMES))
    return "\n".join(lines)


def boards_by_judge(original: pd.DataFrame, replay: pd.DataFrame, result: JudgeAgreement,
                    options: Any = None) -> dict[str, Any]:
    """Leaderboards of the same battles judged twice: "original" (the original votes of the
    battles in `result.pairs`) and "replay" (the replay votes in `result.pairs`), each rated
    with `options` (a `ratings.options.RatingOptions`). A set that cannot be rated (say, too
    few battles) maps to the reason as a string instead of a Leaderboard."""
    from ratings.leaderboard import compute_leaderboard
    from ratings.options import RatingOptions

    options = options or RatingOptions()
    chosen = {
        "original": original.loc[original["battle_id"].isin(set(result.pairs["battle_id"]))]
        .drop_duplicates("battle_id"),
        "replay": replay.loc[replay["battle_id"].isin(set(result.pairs["replay_battle_id"]))],
    }
    boards: dict[str, Any] = {}
    for name, frame in chosen.items():
        try:
            boards[name] = compute_leaderboard(frame.reset_index(drop=True), options)
        except BattleDataError as bad:
            boards[name] = str(bad)
    return boards
