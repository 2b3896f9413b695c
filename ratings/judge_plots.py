"""Figures of the judge report, drawn on `matplotlib.figure.Figure` objects (no pyplot, as in
`ratings.plots`):

- judge_rates.png: judge and humans side by side, with intervals: first-position win rate,
  the longer answer's win rate and every family's win rate (0.5 marked);
- judge_style.png: the style-control coefficients of the judge and of the humans;
- judge_boards.png: each model's rating on the human board and on the judge board;
- judge_confusion.png: human vote (rows) against verdict (columns), counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ratings.agreement import OUTCOME_LABELS, OUTCOMES
from ratings.judge_result import JudgeFindings

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLOURS = {"judge": "C3", "human": "C0"}
LABELS = {"judge": "judge", "human": "humans"}


def _figure(figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _pairs(ax: Axes, table: pd.DataFrame, names: list[str], prefix: str = "") -> None:
    """Judge and human estimates with their intervals, one row per name (horizontal)."""
    y = np.arange(len(names))[::-1].astype(float)
    for shift, who in ((0.15, "judge"), (-0.15, "human")):
        value = table[f"{who}{prefix}"].to_numpy(dtype=float)
        low = table[f"{who}_lower"].to_numpy(dtype=float)
        high = table[f"{who}_upper"].to_numpy(dtype=float)
        err = np.vstack([np.nan_to_num(value - low), np.nan_to_num(high - value)])
        ax.errorbar(value, y + shift, xerr=err, fmt="o", capsize=3, color=COLOURS[who],
                    label=LABELS[who])
    ax.set_yticks(y, names, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8)


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_rates(report: JudgeFindings, path: Path) -> Path:
    rows = [{"name": "first position", **report.position},
            {"name": "longer answer", **report.longer_answer}]
    rows += [{**r, "name": f"family {r['family']}" + (" (judge's)" if r["judge_family"] else "")}
             for r in report.self_preference.to_dict("records")]
    table = pd.DataFrame(rows)
    fig, ax = _figure((7, max(3.0, 0.4 * len(table) + 1.2)))
    _pairs(ax, table, list(table["name"]))
    ax.axvline(0.5, color="grey", ls="--", lw=1)
    ax.set_xlabel(f"win rate, ties half ({report.level:.0%} bootstrap interval)")
    ax.set_title(f"{report.judge_model}: what wins, judge against humans")
    return _save(fig, path)


def plot_style(report: JudgeFindings, path: Path) -> Path:
    table = report.style
    fig, ax = _figure((6.5, 3.5))
    if {"judge_coefficient", "human_coefficient"} <= set(table.columns):
        _pairs(ax, table, list(table["feature"]), "_coefficient")
    ax.axvline(0, color="grey", lw=1)
    ax.set_xlabel("style coefficient (logits per SD of the normalised difference)")
    ax.set_title("Style bias: judge against humans")
    return _save(fig, path)


def plot_boards(report: JudgeFindings, path: Path) -> Path:
    table = report.boards
    fig, ax = _figure((7, max(3.0, 0.35 * len(table) + 1.2)))
    _pairs(ax, table, list(table["model"]), "_rating")
    for y, flagged in zip(np.arange(len(table))[::-1], table["flagged"], strict=True):
        if flagged:
            ax.annotate("intervals apart", (1.0, y), xycoords=("axes fraction", "data"),
                        xytext=(-4, -3), textcoords="offset points", ha="right", fontsize=7)
    ax.set_xlabel(f"rating (Elo points, {report.level:.0%} interval)")
    ax.set_title("Leaderboards on the same battles")
    return _save(fig, path)


def plot_confusion(report: JudgeFindings, path: Path) -> Path:
    matrix = report.agreement.confusion.to_numpy(dtype=float)
    labels = [OUTCOME_LABELS[o] for o in OUTCOMES]
    fig, ax = _figure((5.5, 4.5))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("judge's verdict (human's sides)")
    ax.set_ylabel("human vote")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title("Human votes against verdicts")
    return _save(fig, path)


def plot_judge_report(report: JudgeFindings, directory: Path) -> list[Path]:
    """Write the four PNGs into `directory`; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    return [plot_rates(report, directory / "judge_rates.png"),
            plot_style(report, directory / "judge_style.png"),
            plot_boards(report, directory / "judge_boards.png"),
            plot_confusion(report, directory / "judge_confusion.png")]
