"""Judges with planted biases, for testing and demonstrating the judge report.

`planted_verdicts` judges every voted human battle of a battles frame twice (the order the
human saw, then swapped) the way `arena judge` records verdicts, and returns them as rows of
the same frame shape: mode "judge", `replay_of` the judged battle, `model_a` the model shown
first, `winner` relative to the shown order, `judge_model`, `judge_order`, the
conversations and token counts in the shown order.

The honest part of every planted judge repeats the human's vote (a both-bad vote becomes a
tie: a judge only says A, B or tie), so the judge and the humans differ only by the plant,
whose size the report must recover. With probability `strength` per verdict, the plant
decides instead:

- "first": the answer shown first wins. First-position win rate r_J = s + (1 − s)/2
  (the honest verdicts pick the same model in both orders, so they win first half the time);
- "family": a model of `family` wins when exactly one side is of it. Family win rate
  r_J = s + (1 − s) r_H, r_H the humans' rate on the same battles;
- "longer": the answer with more completion tokens wins (equal lengths: honest).
  Longer-answer win rate r_J = s + (1 − s) r_H.
- "none": no plant.

Deterministic for a given `seed` (numpy's default_rng).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ratings.judge_pairs import SCORE_A
from ratings.style import style_counts

BIASES = ("none", "first", "family", "longer")
_SWAP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
_SIDES = ("model_a", "model_b", "conversation_a", "conversation_b", "tokens_a", "tokens_b")


def expected_rate(bias: str, strength: float, human_rate: float) -> float:
    """The planted judge's rate for its favoured side (module docstring); for "first",
    `human_rate` is ignored."""
    if bias == "first":
        return strength + (1 - strength) / 2
    return strength + (1 - strength) * human_rate


def _honest(winner: str) -> str:
    return "tie" if winner == "tie (bothbad)" else winner


def _favoured(bias: str, row: Any, order: str, families: dict[str, str], family: str | None
              ) -> str | None:
    """The winner (in the human's sides) the plant picks, or None where it has no opinion."""
    if bias == "first":
        return "model_a" if order == "original" else "model_b"
    if bias == "family":
        in_a = families.get(row.model_a, row.model_a) == family
        in_b = families.get(row.model_b, row.model_b) == family
        return "model_a" if in_a and not in_b else "model_b" if in_b and not in_a else None
    if bias == "longer" and row.tokens_a != row.tokens_b:
        return "model_a" if row.tokens_a > row.tokens_b else "model_b"
    return None


def planted_verdicts(battles: pd.DataFrame, judge_model: str, bias: str = "none",
                     strength: float = 1.0, *, family: str | None = None,
                     families: dict[str, str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Two verdict rows per voted, blind human battle of `battles` (module docstring)."""
    if bias not in BIASES:
        raise ValueError(f"bias must be one of {BIASES}")
    if bias == "family" and not family:
        raise ValueError("a family bias needs the favoured family")
    families = families or {}
    humans = battles
    if "mode" in humans.columns:
        humans = humans.loc[humans["mode"].astype(str).isin(["anonymous", "replay"])]
    if "status" in humans.columns:
        humans = humans.loc[humans["status"].astype(str) == "voted"]
    humans = humans.loc[humans["winner"].notna()].reset_index(drop=True)
    counts = style_counts(humans.assign(source_row=np.arange(len(humans))), ("tokens",))
    humans = humans.assign(tokens_a=counts["tokens_a"].to_numpy(),
                           tokens_b=counts["tokens_b"].to_numpy())
    generator = np.random.default_rng(seed)
    rows = []
    for row in humans.itertuples(index=False):
        for order in ("original", "swapped"):
            winner = _honest(str(row.winner))
            planted = _favoured(bias, row, order, families, family)
            if planted is not None and generator.random() < strength:
                winner = planted
            rows.append(_verdict_row(row, order, winner, judge_model))
    return pd.DataFrame(rows)


def _verdict_row(row: Any, order: str, winner: str, judge_model: str) -> dict[str, Any]:
    """A verdict as `ratings.io` reads one; `winner` is in the human's sides."""
    record = {name: getattr(row, name, None) for name in _SIDES}
    if order == "swapped":
        record = {name: getattr(row, name.replace("_a", "_x").replace("_b", "_a")
                                .replace("_x", "_b"), None) for name in _SIDES}
        winner = _SWAP[winner]
    return {
        "battle_id": f"judge-{judge_model}-{order}-{row.battle_id}", "mode": "judge",
        "status": "voted", "replay_of": row.battle_id, "winner": winner,
        "judge": f"judge:{judge_model}", "judge_model": judge_model, "judge_order": order,
        "judge_template": "planted", "judge_template_hash": "sha256:planted",
        "category": getattr(row, "rater_category", getattr(row, "category", None)),
        "flags": "", **record,
    }


def score_of_first(verdicts: pd.DataFrame) -> float:
    """The share of points the shown-first answer won over these verdict rows."""
    scores = verdicts["winner"].map({"model_a": "a", "model_b": "b", "tie": "tie"}).map(SCORE_A)
    return float(scores.mean())
