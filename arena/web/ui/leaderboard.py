"""The Leaderboard tab: the cached board, overall or of one category, as a table and plots.

The board comes from `leaderboard()` (the job's cached dict, or None before the first votes;
its shape: `arena.jobs.leaderboard` and `arena.web.board_views`). The tab shows:

- a selector: *Overall* and each category with its votes (`board["categories"]`); a category
  shows its own board with each model's rank change against the overall board, or says it has
  too few votes to be ranked;
- *Show retired models* (off by default: retired models are hidden, their count said) and,
  on the overall board, *Style-controlled ratings* once the job publishes that board;
- the table (`arena.web.ui.board_table`): rank and rank range, model, marks (provisional,
  preview, retired), rating and CI, votes, win rate, tie and both-bad shares, median time to
  first token, tokens/s, and on the overall board the votes to swap with the next model;
- plots that show their numbers on hover or tap (`arena.web.ui.board_plots`): ratings with
  CIs, speed, and the win matrix (observed fractions on the overall board when it carries them,
  else the probabilities the ratings predict).

The board is fetched when the tab is opened, when Refresh is clicked and when a control
changes, never at page load: the anonymous Arena tab then receives no model name at all.
The page fits a phone's width: the table scrolls within itself, the plots shrink.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import gradio as gr

from arena.errors import ArenaError
from arena.web.board_views import categories, category_board, rows_of, without_retired
from arena.web.ui.board_plots import ci_chart, speed_chart, win_chart
from arena.web.ui.board_table import (
    CATEGORY_COLUMNS,
    COLUMNS,
    SWAP_COLUMN,
    board_table,
    column_widths,
    datatypes,
)
from arena.web.ui.board_text import (
    NO_BOARD,
    OVERALL,
    board_summary,
    category_choices,
    category_line,
    legend,
)

log = logging.getLogger(__name__)

Board = dict[str, Any]
LeaderboardFn = Callable[[], Awaitable[Board | None]]
__all__ = ["COLUMNS", "CATEGORY_COLUMNS", "SWAP_COLUMN", "board_summary", "board_table",
           "build_leaderboard_tab", "board_update"]
UNAVAILABLE = "The leaderboard is unavailable right now; try Refresh in a minute."


class LeaderboardTab:
    """The tab's components; `show` fills them from the cached board."""

    def __init__(self) -> None:
        self.summary = gr.Markdown(NO_BOARD, elem_id="leaderboard-info")
        with gr.Row(equal_height=True):
            self.category = gr.Dropdown([("Overall", OVERALL)], value=OVERALL,
                                        label="Category", elem_id="leaderboard-category",
                                        interactive=True, filterable=False, min_width=200)
            self.retired = gr.Checkbox(label="Show retired models", value=False,
                                       elem_id="leaderboard-retired", min_width=160)
            self.style = gr.Checkbox(label="Style-controlled ratings", value=False,
                                     visible=False, elem_id="leaderboard-style", min_width=160)
            self.refresh = gr.Button("Refresh", elem_id="leaderboard-refresh", size="sm",
                                     scale=0)
        self.category_info = gr.Markdown("", elem_id="leaderboard-category-info")
        # Cells are plain text ("str") or numbers, never Markdown or HTML.
        self.table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="leaderboard",
                                  wrap=True, show_search="none", datatype=datatypes(COLUMNS),
                                  column_widths=column_widths(COLUMNS), max_height=600)
        self.legend = gr.Markdown("", elem_id="leaderboard-legend")
        # The plots are HTML built and escaped on the server (board_plots): shown without
        # Gradio's sanitiser, which would strip the tooltips' focusability, and no LaTeX.
        plot = {"sanitize_html": False, "latex_delimiters": [], "visible": False}
        self.ci_plot = gr.Markdown(elem_id="leaderboard-ci", **plot)
        self.speed_plot = gr.Markdown(elem_id="leaderboard-speed", **plot)
        self.heatmap = gr.Markdown(elem_id="leaderboard-heatmap", **plot)

    @property
    def inputs(self) -> list[gr.components.Component]:
        return [self.category, self.retired, self.style]

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.summary, self.category, self.style, self.category_info, self.table,
                self.legend, self.ci_plot, self.speed_plot, self.heatmap]

    def empty(self, summary: str) -> dict[gr.components.Component, Any]:
        hidden = gr.update(visible=False)
        return {self.summary: summary, self.category: gr.update(choices=[("Overall", OVERALL)],
                                                                value=OVERALL),
                self.style: hidden, self.category_info: "", self.legend: "",
                self.table: gr.update(value=board_table([]), datatype=datatypes(COLUMNS),
                                      column_widths=column_widths(COLUMNS)),
                self.ci_plot: hidden, self.speed_plot: hidden, self.heatmap: hidden}


def board_update(board: Board, category: str, *, show_retired: bool, use_style: bool
                 ) -> dict[str, Any]:
    """What the tab shows for `board`, by output name: the summary, the selector's choices and
    value, the style toggle, the category line, the table, the legend and the plots (HTML, ""
    for none). An unknown or vanished category falls back to the overall board."""
    if category not in categories(board):
        category = OVERALL
    in_category = category != OVERALL
    view = category_board(board, category) if in_category else board
    has_style = not in_category and bool(board.get("style_rows"))
    use_style = use_style and has_style
    if use_style:  # style rows carry the ratings; the rest (votes, marks, speed) is per model
        plain = {row.get("model"): row for row in rows_of(view)}
        view = {**view, "rows": [{**plain.get(r.get("model"), {}), **r}
                                 for r in view["style_rows"] if isinstance(r, dict)]}
    ranked = rows_of(view)  # ranks and rank ranges count every rated model
    shown_view = view if show_retired else without_retired(view)
    rows = rows_of(shown_view)
    robustness = None if use_style or in_category else board.get("robustness")
    hidden = shown_view.get("retired_hidden", 0)
    return {
        "summary": board_summary(board, style=use_style, headline=not in_category),
        "choices": category_choices(board), "category": category,
        "style": {"visible": has_style, "value": use_style},
        "category_info": category_line(view) if in_category else "",
        "table": board_table(rows, robustness, category=in_category, ranked=ranked),
        "columns": CATEGORY_COLUMNS if in_category else COLUMNS,
        "legend": legend(board, retired_hidden=hidden) if rows or hidden else "",
        "ci": ci_chart(rows, ranked), "speed": speed_chart(rows),
        "heatmap": win_chart(shown_view if not in_category else view, rows),
    }


def build_leaderboard_tab(leaderboard: LeaderboardFn) -> gr.Tab:
    """The Leaderboard tab; must be called inside a `gr.Tabs` context."""
    with gr.Tab("Leaderboard", id="leaderboard-tab") as tab:
        parts = LeaderboardTab()

        async def show(category: str, show_retired: bool, use_style: bool
                       ) -> dict[gr.components.Component, Any]:
            try:
                board = await leaderboard()
            except Exception:  # the tab says so instead of showing a trace
                log.exception("reading the leaderboard failed")
                return {parts.summary: UNAVAILABLE}
            if not board or not (board.get("rows") or categories(board)):
                return parts.empty(NO_BOARD)
            try:
                shown = board_update(board, category, show_retired=show_retired,
                                     use_style=use_style)
            except ArenaError as refused:  # a malformed board: say so, keep the page
                log.warning("leaderboard not shown: %s", refused.message)
                return parts.empty(UNAVAILABLE)
            return {
                parts.summary: shown["summary"],
                parts.category: gr.update(choices=shown["choices"], value=shown["category"]),
                parts.style: gr.update(**shown["style"]),
                parts.category_info: shown["category_info"],
                parts.table: gr.update(value=shown["table"],
                                       datatype=datatypes(shown["columns"]),
                                       column_widths=column_widths(shown["columns"])),
                parts.legend: shown["legend"],
                parts.ci_plot: gr.update(value=shown["ci"], visible=bool(shown["ci"])),
                parts.speed_plot: gr.update(value=shown["speed"], visible=bool(shown["speed"])),
                parts.heatmap: gr.update(value=shown["heatmap"],
                                         visible=bool(shown["heatmap"])),
            }

        options = {"api_visibility": "private", "concurrency_id": "leaderboard",
                   "concurrency_limit": 4, "show_progress": "minimal",
                   "inputs": parts.inputs, "outputs": parts.outputs}
        tab.select(show, **options)
        parts.refresh.click(show, **options)
        for control in parts.inputs:
            control.input(show, **options)
    return tab
