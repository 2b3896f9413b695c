"""Judge verdicts matched to the human votes of the same battles.

A judge verdict (mode "judge", written by `arena judge`) is a battle record of its own:
`replay_of` names the judged battle, `model_a` is the model whose answer the judge saw
first, `winner` is relative to that shown order, and `judge_model` names the judge. Every
judged battle is judged twice, once in the order the human saw ("original") and once swapped.

Here each verdict is mapped into the human battle's coordinates with
`ratings.agreement.pair_votes` (the code that matches replay votes to their originals), so
an outcome reads the same for the human and for the judge:

    "a"        the model the human saw on the left won
    "b"        the model the human saw on the right won
    "tie"      tie
    "bothbad"  tie (bothbad)

`JudgedBattles` keeps one row per verdict (`verdicts`) and one per battle (`battles`); every
statistic of the judge report (`ratings.judge_report`) reads these two tables, and the
bootstrap resamples battles, so the two verdicts of a battle always travel together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ratings.agreement import pair_votes
from ratings.errors import BattleDataError
from ratings.options import RatingOptions
from ratings.prepare import JUDGE_MODE, JUDGE_MODEL_COLUMN, select_battles

# The score of side "a" (the human's left) for each outcome: ties and both-bad half.
SCORE_A = {"a": 1.0, "b": 0.0, "tie": 0.5, "bothbad": 0.5}


@dataclass
class JudgedBattles:
    """The battles both the humans and one judge voted.

    `humans`: the selected human votes on these battles (`ratings.prepare.select_battles`
    rows: status voted, blind, unflagged), one per battle. `judged`: the selected verdicts
    on them, rows as the judge saw them (for its own board and style fit). `verdicts`: one
    row per verdict with `battle_id` (the human battle), `verdict_id`, `model_a`, `model_b`
    (the human's sides), `swapped` (the judge saw the human's right answer first), `human`
    and `judge` (outcomes, human coordinates). `battles`: one row per battle with
    `battle_id`, `model_a`, `model_b`, `human`, `judge_original` and `judge_swapped` (the
    first verdict of each order; None when that order is missing). `left_out`: counts of
    verdicts that could not be matched, by reason.
    """

    judge_model: str
    humans: pd.DataFrame
    judged: pd.DataFrame
    verdicts: pd.DataFrame
    battles: pd.DataFrame
    left_out: dict[str, int] = field(default_factory=dict)

    @property
    def n_battles(self) -> int:
        return len(self.battles)


def judge_names(frame: pd.DataFrame) -> list[str]:
    """The judges whose verdicts the frame holds (sorted), from `judge_model`."""
    if "mode" not in frame.columns:
        return []
    is_judge = frame["mode"].astype(str) == JUDGE_MODE
    if JUDGE_MODEL_COLUMN not in frame.columns:
        return ["*"] if is_judge.any() else []
    return sorted({str(v) for v in frame.loc[is_judge, JUDGE_MODEL_COLUMN].dropna()})


def choose_judge(frame: pd.DataFrame, judge_model: str | None) -> str:
    """`judge_model`, or the log's only judge; BattleDataError when there is none or the
    choice is ambiguous."""
    names = judge_names(frame)
    if not names:
        raise BattleDataError(
            "the log holds no judge verdicts (rows with mode 'judge'); run `arena judge` "
            "on it first, or pass the log that holds its verdicts")
    if judge_model is None:
        if len(names) > 1:
            raise BattleDataError(
                f"the log holds verdicts of {len(names)} judges ({', '.join(names)}); "
                "choose one (judge_model=..., --judge-model)")
        return names[0]
    if judge_model not in names:
        raise BattleDataError(f"no verdicts of judge {judge_model!r} in the log; its "
                              f"judges are {', '.join(names)}")
    return judge_model


def match_verdicts(frame: pd.DataFrame, judge_model: str | None = None) -> JudgedBattles:
    """Select the human votes and one judge's verdicts of a normalised battles frame
    (`ratings.io.read_battles`) and match them by battle (module docstring).

    Raises BattleDataError when there are no verdicts, several judges and no choice, or no
    verdict on a battle a human voted.
    """
    judge = choose_judge(frame, judge_model)
    humans = select_battles(frame, RatingOptions()).battles
    judged = select_battles(frame, RatingOptions(judge=judge)).battles
    pairs, unmatched = pair_votes(humans, judged)
    if pairs.empty:
        raise BattleDataError(
            f"no verdict of {judge} is on a battle with a human vote (verdicts whose battle "
            f"is missing: {unmatched['no_original']}); give the log that holds both the "
            "human votes and the verdicts")
    verdicts = pairs.rename(columns={"replay_battle_id": "verdict_id", "original": "human",
                                     "replay": "judge"})
    battles = _per_battle(verdicts)
    common = set(battles["battle_id"])
    humans = humans.loc[humans["battle_id"].isin(common)].drop_duplicates("battle_id")
    judged = judged.loc[judged["battle_id"].isin(set(verdicts["verdict_id"]))]
    return JudgedBattles(judge, humans.reset_index(drop=True), judged.reset_index(drop=True),
                         verdicts.reset_index(drop=True), battles, dict(unmatched))


def _per_battle(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per battle: the human vote and the first verdict of each order."""
    first = verdicts.drop_duplicates(["battle_id", "swapped"])
    base = first.drop_duplicates("battle_id")[["battle_id", "model_a", "model_b", "human"]]
    for swapped, column in ((False, "judge_original"), (True, "judge_swapped")):
        part = first.loc[first["swapped"] == swapped, ["battle_id", "judge"]]
        base = base.merge(part.rename(columns={"judge": column}), on="battle_id", how="left")
    base = base.astype({"judge_original": object, "judge_swapped": object})
    return base.where(base.notna(), None).reset_index(drop=True)


def battle_codes(judged: JudgedBattles) -> np.ndarray:
    """Each verdict's battle as an index into `judged.battles` (for the bootstrap)."""
    index = pd.Index(judged.battles["battle_id"])
    return index.get_indexer(judged.verdicts["battle_id"]).astype(np.int64)
