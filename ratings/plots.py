"""Leaderboard figures, drawn on `matplotlib.figure.Figure` objects: no display and no pyplot
backend needed, so plotting never changes the backend of a notebook or GUI that imports us.

- ratings.png: ratings with confidence-interval whiskers, best first.
- win_fraction.png: observed share of points (ties half) of row model vs column model.
- battle_count.png: battles per pair.
- predicted_win_probability.png: BT-predicted P(row beats column).
Models are ordered by rating in every figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ratings.leaderboard import Leaderboard

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _figure(figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _heatmap(matrix: np.ndarray, labels: list[str], title: str, path: Path,
             fmt: str | None, cmap: str) -> None:
    n = len(labels)
    size = max(5.0, 0.28 * n + 2)
    fig, ax = _figure((size, size))
    image = ax.imshow(matrix, cmap=cmap)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7 if n > 20 else 9)
    ax.set_yticks(range(n), labels, fontsize=7 if n > 20 else 9)
    ax.set_xlabel("column model")
    ax.set_ylabel("row model")
    ax.set_title(title)
    if fmt and n <= 20:
        for i in range(n):
            for j in range(n):
                if np.isfinite(matrix[i, j]):
                    ax.text(j, i, format(matrix[i, j], fmt), ha="center", va="center",
                            fontsize=7)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_leaderboard(board: Leaderboard, directory: Path, prefix: str = "") -> list[Path]:
    """Write the four PNGs into `directory`; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    table = board.table
    order = list(table["model"])
    paths = []

    fig, ax = _figure((8, max(3.0, 0.25 * len(order) + 1)))
    y = np.arange(len(order))[::-1]
    rating = table["rating"].to_numpy()
    has_ci = table["lower"].notna().all()
    if has_ci:
        err = np.vstack([rating - table["lower"].to_numpy(), table["upper"].to_numpy() - rating])
        ax.errorbar(rating, y, xerr=err, fmt="o", capsize=3)
    else:
        ax.plot(rating, y, "o")
    ax.set_yticks(y, order, fontsize=7 if len(order) > 30 else 9)
    ax.set_xlabel("rating (Elo points)")
    level = f"{board.options.level:.0%} {board.options.effective_ci} interval"
    ax.set_title(f"Ratings ({level})" if has_ci else "Ratings")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    paths.append(directory / f"{prefix}ratings.png")
    fig.savefig(paths[-1], dpi=110)

    counts = board.counts
    index = [counts.models.index(m) for m in order]
    total, score = counts.pair_matrices()
    total, score = total[np.ix_(index, index)], score[np.ix_(index, index)]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(total > 0, score / total, np.nan)
    paths.append(directory / f"{prefix}win_fraction.png")
    _heatmap(fraction, order, "Observed win fraction (row vs column, ties half)",
             paths[-1], ".2f", "RdBu")
    paths.append(directory / f"{prefix}battle_count.png")
    _heatmap(np.where(total > 0, total, np.nan), order, "Battles per pair", paths[-1],
             ".0f", "viridis")
    if board.predicted is not None:
        predicted = board.predicted.loc[order, order].to_numpy().copy()
        np.fill_diagonal(predicted, np.nan)
        paths.append(directory / f"{prefix}predicted_win_probability.png")
        _heatmap(predicted, order, "Predicted P(row beats column)", paths[-1], ".2f",
                 "RdBu")
    return paths
