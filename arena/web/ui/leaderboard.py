"""The Leaderboard tab: the cached board as a table, its CI plot and a win-fraction heatmap.

The board comes from `leaderboard()` (the job's cached dict, or None before the first votes):
`{"computed_at", "votes", "rows": [{"rank", "rank_ub", "model", "rating", "lower", "upper",
"battles", "win_rate"}, ...], "style_rows"?: [...], "robustness"?: {"leader": {"votes",
"exact", ...}, "adjacent": [{"upper", "lower", "votes", "exact", ...}, ...]},
"plots"?: {"ci": path, "heatmap": path},
"win_fraction"?: {"models": [...], "matrix": [[...]]}, "scale"?, "base"?, "manifest_url"?,
"export_url"?}`.

Plot files named in `plots` are shown when they exist on this machine; otherwise both plots
are drawn here with matplotlib from the rows. The heatmap shows the observed win fractions when
the board carries them, else the win probabilities the ratings predict:
P(i beats j) = 1 / (1 + base^((R_j - R_i) / scale)) (base 10, scale 400 by default).

The board is fetched when the tab is opened, when Refresh is clicked and when the style toggle
changes, never at page load: the anonymous Arena tab then receives no model name at all.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

log = logging.getLogger(__name__)

Board = dict[str, Any]
LeaderboardFn = Callable[[], Awaitable[Board | None]]

# Characters a snapshot path may keep in a Markdown link destination (no brackets, spaces,
# angle brackets or backslashes).
_URL_SAFE = "/.-_~:=?&%#+,;@!$*"
SWAP_COLUMN = "Votes to swap with next"
COLUMNS = ["Rank", "Rank (UB)", "Model", "Rating", "95% CI", "Battles", "Win rate",
           SWAP_COLUMN]
DATATYPES = ["number", "number", "str", "number", "str", "number", "str", "str"]
NO_BOARD = (
    "No leaderboard yet: it is computed from the anonymous votes a few minutes after the "
    "first ones are cast."
)


def board_table(rows: list[dict[str, Any]], robustness: Any = None) -> pd.DataFrame:
    """The rows as the displayed table: rating with its 95% CI as +upper/-lower offsets, and
    the votes whose removal would swap each model with the one ranked next (`robustness`, the
    board's; "≤ n" when found by search, so fewer might do; blank for the last model and when
    the rows are not the ones robustness was computed for)."""
    swaps = swap_costs(robustness)
    table = [
        [
            row.get("rank"),
            row.get("rank_ub"),
            str(row.get("model", "")),
            _number(row.get("rating"), 1),
            _interval(row),
            row.get("battles"),
            _percent(row.get("win_rate")),
            swaps.get(str(row.get("model", "")), ""),
        ]
        for row in rows
    ]
    return pd.DataFrame(table, columns=COLUMNS)


def swap_costs(robustness: Any) -> dict[str, str]:
    """Per upper model of each adjacent pair, its swap cost as shown: "12", or "≤ 12" when
    not proven minimal. Entries that are not well formed are skipped."""
    pairs = robustness.get("adjacent") if isinstance(robustness, dict) else None
    shown = {}
    for pair in pairs if isinstance(pairs, list) else []:
        if isinstance(pair, dict) and (votes := _count(pair.get("votes"), None)) is not None:
            bound = "" if pair.get("exact") is True else "≤ "
            shown[str(pair.get("upper", ""))] = f"{bound}{votes}"
    return shown


def robustness_line(board: Board, *, style: bool) -> str | None:
    """The robustness headline, e.g. "#1 would change if 37 votes were removed", rebuilt from
    the board's numbers (never its text); None when the board has none."""
    robustness = board.get("robustness")
    leader = robustness.get("leader") if isinstance(robustness, dict) else None
    votes = _count(leader.get("votes"), None) if isinstance(leader, dict) else None
    if votes is None:
        return None
    plural = "" if votes == 1 else "s"
    bound = "" if leader.get("exact") is True else " (found by search; fewer might do)"
    scope = " of the ratings without style control" if style else ""
    column = "" if style else (f"; “{SWAP_COLUMN}” counts the same for each model and the "
                               "one ranked below it")
    return (f"**#1{scope} would change if {votes} vote{plural} were removed**{bound}: the "
            "fewest votes whose removal (Bradley–Terry refitted) puts another model level with "
            f"or above #1{column}.")


def board_summary(board: Board, *, style: bool) -> str:
    """The line above the table: snapshot time, votes behind it, links to re-derive it.

    The board is the job's output, but nothing in it is pasted as is: the time and count are
    re-formatted, links go through `snapshot_link`; no Markdown or HTML can reach the page."""
    computed = _timestamp(board.get("computed_at"))
    votes = _count(board.get("votes"))
    parts = [f"Snapshot computed at **{computed} UTC**", f"from **{votes}** votes"]
    if style:
        parts.append("style-controlled ratings (length and Markdown use held equal)")
    links = [
        link
        for key, label in (("manifest_url", "manifest"), ("export_url", "public release"))
        if (link := snapshot_link(label, board.get(key)))
    ]
    if links:
        parts.append("re-derive it from the " + " and the ".join(links))
    headline = robustness_line(board, style=style)
    return " · ".join(parts) + "." + (f"\n\n{headline}" if headline else "")


def snapshot_link(label: str, url: Any) -> str | None:
    """A Markdown link to a path on this host (`/...`, not `//host`), or None: a board must
    not send the rater to another host. Characters that could end the link are %-encoded."""
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//"):
        return None
    return f"[{label}]({quote(url, safe=_URL_SAFE)})"


def ci_figure(rows: list[dict[str, Any]]) -> Figure:
    """Ratings with their 95% confidence intervals, best model on top."""
    ordered = sorted(rows, key=lambda r: _float(r.get("rating")))
    names = [str(r.get("model", "")) for r in ordered]
    rating = np.array([_float(r.get("rating")) for r in ordered])
    pairs = list(zip(ordered, rating, strict=True))
    lower = np.array([_float(r.get("lower"), default=v) for r, v in pairs])
    upper = np.array([_float(r.get("upper"), default=v) for r, v in pairs])
    figure = Figure(figsize=(6.0, 0.45 * len(names) + 1.4), layout="constrained")
    axes = figure.add_subplot()
    axes.errorbar(rating, range(len(names)), xerr=[rating - lower, upper - rating], fmt="o",
                  capsize=4, color="#2563eb")
    axes.set_yticks(range(len(names)), labels=names)
    axes.set_xlabel("rating (95% CI)")
    axes.grid(axis="x", alpha=0.3)
    axes.set_title("Ratings with 95% confidence intervals")
    return figure


def win_fraction_figure(board: Board, rows: list[dict[str, Any]]) -> Figure:
    """Heatmap of P(row model beats column model): observed if given, else predicted."""
    observed = board.get("win_fraction")
    if isinstance(observed, dict) and observed.get("models") and observed.get("matrix"):
        names = [str(n) for n in observed["models"]]
        matrix = np.array(observed["matrix"], dtype=float)
        title = "Observed win fraction\n(row beats column)"
    else:
        names = [str(r.get("model", "")) for r in rows]
        rating = np.array([_float(r.get("rating")) for r in rows])
        scale = _float(board.get("scale"), default=400.0)
        base = _float(board.get("base"), default=10.0)
        matrix = 1.0 / (1.0 + base ** ((rating[None, :] - rating[:, None]) / scale))
        np.fill_diagonal(matrix, np.nan)
        title = "Predicted win probability\n(row beats column, from ratings)"
    size = 0.6 * len(names) + 2.5
    figure = Figure(figsize=(size + 1.0, size), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(matrix, vmin=0.0, vmax=1.0, cmap="RdBu")
    axes.set_xticks(range(len(names)), labels=names, rotation=45, ha="right")
    axes.set_yticks(range(len(names)), labels=names)
    for i in range(len(names)):
        for j in range(len(names)):
            if np.isfinite(matrix[i, j]):
                axes.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8)
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.set_title(title, fontsize=10)
    return figure


def figure_image(figure: Figure) -> Image.Image:
    with io.BytesIO() as buffer:
        figure.savefig(buffer, format="png", dpi=110)
        buffer.seek(0)
        return Image.open(buffer).convert("RGB")


def plot_image(board: Board, key: str, draw: Callable[[], Figure]) -> Image.Image:
    """The board's plot file for `key` when it exists here, else a freshly drawn figure."""
    path = (board.get("plots") or {}).get(key)
    if isinstance(path, str) and not path.startswith(("http://", "https://")):
        try:
            if Path(path).is_file():
                with Image.open(path) as image:
                    return image.convert("RGB")
        except OSError as unreadable:
            log.warning("leaderboard plot %s unreadable (%s); drawing it instead", path,
                        unreadable)
    return figure_image(draw())


def build_leaderboard_tab(leaderboard: LeaderboardFn) -> gr.Tab:
    """The Leaderboard tab; must be called inside a `gr.Tabs` context."""
    with gr.Tab("Leaderboard", id="leaderboard-tab") as tab:
        summary = gr.Markdown(NO_BOARD, elem_id="leaderboard-info")
        with gr.Row():
            style = gr.Checkbox(label="Style-controlled ratings", value=False, visible=False,
                                elem_id="leaderboard-style")
            refresh = gr.Button("Refresh", elem_id="leaderboard-refresh", size="sm",
                                scale=0)
        # Cells are plain text ("str"), never Markdown or HTML: a model name is shown as is.
        table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="leaderboard",
                             wrap=True, show_search="none", datatype=DATATYPES)
        with gr.Row():
            ci_plot = gr.Image(label="Ratings with 95% CI", interactive=False,
                               buttons=["download", "fullscreen"],
                               elem_id="leaderboard-ci", visible=False)
            heatmap = gr.Image(label="Win fraction", interactive=False,
                               buttons=["download", "fullscreen"],
                               elem_id="leaderboard-heatmap", visible=False)

        async def show(use_style: bool) -> dict[gr.components.Component, Any]:
            try:
                board = await leaderboard()
            except Exception:  # the tab says so instead of showing a trace
                log.exception("reading the leaderboard failed")
                return {summary: "The leaderboard is unavailable right now; try Refresh "
                                 "in a minute."}
            if not board or not board.get("rows"):
                return {summary: NO_BOARD, table: board_table([]), style: gr.update(visible=False),
                        ci_plot: gr.update(visible=False), heatmap: gr.update(visible=False)}
            has_style = bool(board.get("style_rows"))
            use_style = use_style and has_style
            rows = board["style_rows"] if use_style else board["rows"]
            return {
                summary: board_summary(board, style=use_style),
                style: gr.update(visible=has_style, value=use_style),
                # Robustness is of the plain board's order: not shown beside style ranks.
                table: board_table(rows, None if use_style else board.get("robustness")),
                ci_plot: gr.update(value=plot_image(board, "ci", lambda: ci_figure(rows)),
                                   visible=True),
                heatmap: gr.update(
                    value=plot_image(board, "heatmap", lambda: win_fraction_figure(board, rows)),
                    visible=True,
                ),
            }

        outputs = [summary, style, table, ci_plot, heatmap]
        options = {"api_visibility": "private", "concurrency_id": "leaderboard",
                   "concurrency_limit": 4, "show_progress": "minimal"}
        tab.select(show, inputs=[style], outputs=outputs, **options)
        refresh.click(show, inputs=[style], outputs=outputs, **options)
        style.input(show, inputs=[style], outputs=outputs, **options)
    return tab


def _float(value: Any, default: float = float("nan")) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _number(value: Any, digits: int) -> float | None:
    number = _float(value)
    return round(number, digits) if np.isfinite(number) else None


def _interval(row: dict[str, Any]) -> str:
    rating, lower, upper = (_float(row.get(k)) for k in ("rating", "lower", "upper"))
    if not all(np.isfinite(v) for v in (rating, lower, upper)):
        return ""
    return f"+{upper - rating:.1f} / -{rating - lower:.1f}"


def _timestamp(value: Any) -> str:
    """An ISO time as `YYYY-MM-DD HH:MM:SS` (the board's clock is UTC), or "unknown time"."""
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return "unknown time"


def _count(value: Any, default: int | None = 0) -> int | None:
    """A whole count (an int, not a bool or text), else `default`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


def _percent(value: Any) -> str:
    number = _float(value)
    return f"{100 * number:.1f}%" if np.isfinite(number) else ""
