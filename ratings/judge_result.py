"""What the judge report measured, as plain data (`ratings.judge_report` computes it,
`ratings.judge_render` and `ratings.judge_plots` present it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ratings.agreement import JudgeAgreement


@dataclass
class JudgeFindings:
    """One judge against the humans on the battles both voted.

    `counts`: battles, verdicts, human votes, verdicts left out by reason. `consistency`:
    `ratings.judge_bias.position_consistency`. `position`, `longer_answer`: rate dicts of
    `ratings.judge_bias.paired_rate` (judge, human, difference, each with lower/upper).
    `self_preference`: one such row per family. `style`: the style coefficients side by side
    (`ratings.judge_boards.style_side_by_side`). `agreement`: the human votes against
    the verdicts (`ratings.agreement.agreement_of_pairs`); `agreement_by_kind`,
    `agreement_by_order`: the same split. `boards`: the two leaderboards side by side
    (`ratings.judge_boards.BOARD_COLUMNS`), `rank_correlation` their Spearman and Kendall.
    `problems`: parts that could not be computed, with the reason.
    """

    judge_model: str
    families: dict[str, str]
    level: float
    rounds: int
    seed: int
    counts: dict[str, Any]
    consistency: dict[str, Any]
    position: dict[str, Any]
    self_preference: pd.DataFrame
    longer_answer: dict[str, Any]
    style: pd.DataFrame
    agreement: JudgeAgreement
    agreement_by_kind: pd.DataFrame
    agreement_by_order: pd.DataFrame
    boards: pd.DataFrame
    rank_correlation: dict[str, Any]
    problems: dict[str, str] = field(default_factory=dict)


def plain(value: Any) -> Any:
    """JSON-ready scalars: numpy to Python, NaN and infinities to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
