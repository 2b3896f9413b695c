"""The judge report: how far an LLM judge can be trusted, measured against the humans.

On the battles that both the humans and the judge voted (`ratings.judge_pairs`: every
verdict mapped into the human battle's sides), `judge_report` computes

- position consistency and position bias, self-preference per model family and the
  longer answer's win rate (`ratings.judge_bias`);
- style bias: the style-control coefficients of the judge and of the humans
  (`ratings.judge_boards.style_side_by_side`);
- agreement with the humans (`ratings.agreement.agreement_of_pairs`, as `arena ratings
  --compare-replay` computes it: raw agreement with a Wilson interval, Cohen's κ, the
  confusion table) overall, per human vote kind (of the human votes of each kind, the share
  the judge matched, Wilson; and κ of the one-kind-against-the-rest table) and per order;
- the two leaderboards side by side (`ratings.judge_boards`).

Pure pandas/numpy/scipy: the input is a battles frame (`ratings.io.read_battles` of an
export that holds the human votes and the verdicts). Deterministic for a given seed.

    report = judge_report(read_battles("battles.jsonl"), families={"m1": "llama"})
    print(report.markdown())
    report.write("out/judge")  # CSV + JSON + Markdown + PNG
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ratings.agreement import OUTCOMES, agreement_of_pairs, cohen_kappa, wilson_interval
from ratings.io import normalise_frame
from ratings.judge_bias import (
    BattleBootstrap,
    longer_answer_rates,
    position_bias_rates,
    position_consistency,
    self_preference,
)
from ratings.judge_boards import (
    board_draws,
    boards_side_by_side,
    both_boards,
    rank_correlation,
    style_side_by_side,
)
from ratings.judge_pairs import JudgedBattles, match_verdicts
from ratings.judge_render import report_dict, report_markdown, report_tables, write_report
from ratings.judge_result import JudgeFindings
from ratings.options import RatingOptions

DEFAULT_ROUNDS = 1000


class JudgeReport(JudgeFindings):
    """Everything `judge_report` measured (`ratings.judge_result.JudgeFindings`), with
    `tables()` for CSV, `to_dict()` for JSON, `markdown()` for reading and
    `write(directory)` for all of them and the figures."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the report by file stem (what `write` saves as CSV)."""
        return report_tables(self)

    def to_dict(self) -> dict[str, Any]:
        return report_dict(self)

    def markdown(self) -> str:
        return report_markdown(self)

    def write(self, directory: str | Path, plots: bool = True) -> list[Path]:
        """Write judge_report.md, judge_report.json, one CSV per table and (with `plots`)
        the PNG figures into `directory`; returns the paths written."""
        return write_report(self, Path(directory), plots)


def _as_pairs(judged: JudgedBattles) -> pd.DataFrame:
    """The verdicts as `ratings.agreement.pair_votes` names its columns (human votes the
    originals, verdicts the re-votes), so `agreement_of_pairs` summarises them exactly as
    `arena ratings --compare-replay` does, without pairing them a second time."""
    return judged.verdicts.rename(columns={"verdict_id": "replay_battle_id",
                                           "human": "original", "judge": "replay"})


def agreement_by_kind(judged: JudgedBattles, level: float) -> pd.DataFrame:
    """Per human vote kind: votes, how many the judge matched (each verdict counts), the
    share with a Wilson interval, and Cohen's κ of that kind against the rest."""
    human, judge = judged.verdicts["human"], judged.verdicts["judge"]
    rows = []
    for kind in OUTCOMES:
        mine = (human == kind).to_numpy()
        matched = int((mine & (judge == kind).to_numpy()).sum())
        lower, upper = wilson_interval(matched, int(mine.sum()), level)
        table = pd.crosstab(pd.Categorical(mine, [True, False]),
                            pd.Categorical((judge == kind).to_numpy(), [True, False]),
                            dropna=False)
        rows.append({"human_vote": kind, "pairs": int(mine.sum()), "judge_matched": matched,
                     "agreement": matched / mine.sum() if mine.any() else float("nan"),
                     "lower": lower, "upper": upper, "kappa": cohen_kappa(table)})
    return pd.DataFrame(rows)


def agreement_by_order(judged: JudgedBattles, level: float) -> pd.DataFrame:
    """Raw agreement (Wilson) and κ of the verdicts given in each order."""
    rows = []
    for swapped, order in ((False, "original"), (True, "swapped")):
        part = judged.verdicts.loc[judged.verdicts["swapped"] == swapped]
        agree = int((part["human"] == part["judge"]).sum())
        lower, upper = wilson_interval(agree, len(part), level)
        confusion = pd.crosstab(pd.Categorical(part["human"], OUTCOMES),
                                pd.Categorical(part["judge"], OUTCOMES), dropna=False)
        rows.append({"order": order, "pairs": len(part), "agree": agree,
                     "agreement": agree / len(part) if len(part) else float("nan"),
                     "lower": lower, "upper": upper, "kappa": cohen_kappa(confusion)})
    return pd.DataFrame(rows)


def judge_report(battles: pd.DataFrame, judge_model: str | None = None,
                 families: dict[str, str] | None = None, options: RatingOptions | None = None,
                 seed: int = 0, rounds: int = DEFAULT_ROUNDS) -> JudgeReport:
    """The judge report of one judge on a battles frame holding human votes and verdicts.

    `judge_model`: whose verdicts (default: the log's only judge). `families`: model name ->
    family (a model not in it is its own family). `options`: the boards' rating options
    (their `level` is every interval's level). `seed`, `rounds`: the battle bootstrap.
    Raises BattleDataError when no verdict matches a human vote.
    """
    options = options or RatingOptions()
    families = {str(k): str(v) for k, v in (families or {}).items() if v}
    judged = match_verdicts(normalise_frame(battles), judge_model)
    level = options.level
    bootstrap = BattleBootstrap(judged.n_battles, rounds, seed)
    human_board, judge_board = both_boards(judged, options)
    models = sorted(set(human_board.table["model"]) | set(judge_board.table["model"]))
    boards = boards_side_by_side(human_board, judge_board,
                                 board_draws(judged, bootstrap, options, models), models,
                                 level)
    style, problems = style_side_by_side(judged, options)
    counts = {"battles": judged.n_battles, "verdicts": len(judged.verdicts),
              "human_votes": len(judged.humans),
              "verdicts_left_out": {k: v for k, v in judged.left_out.items() if v}}
    return JudgeReport(
        judge_model=judged.judge_model, families=families, level=level, rounds=rounds,
        seed=seed, counts=counts, consistency=position_consistency(judged, level),
        position=position_bias_rates(judged, bootstrap, level),
        self_preference=self_preference(judged, families, bootstrap, level),
        longer_answer=longer_answer_rates(judged, bootstrap, level), style=style,
        agreement=agreement_of_pairs(_as_pairs(judged), judged.left_out, level),
        agreement_by_kind=agreement_by_kind(judged, level),
        agreement_by_order=agreement_by_order(judged, level), boards=boards,
        rank_correlation=rank_correlation(boards),
        problems={f"style ({who})": text for who, text in problems.items()},
    )
