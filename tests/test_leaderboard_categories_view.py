"""What the Leaderboard tab shows for a board with categories, checked without a browser: the
category view, rank changes, rank ranges, marks, and plots that escape every text of the board
(the real-browser checks are in test_leaderboard_categories_browser.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from category_boards import category_board
from factories import make_battle

from arena.jobs.leaderboard import rate_snapshot
from arena.web.board_views import board_view
from arena.web.board_views import category_board as category_view
from arena.web.ui.board_plots import ci_chart, speed_chart, win_chart, win_matrix
from arena.web.ui.board_table import rank_change_text, rank_ranges
from arena.web.ui.board_text import OVERALL, category_choices, category_line
from arena.web.ui.leaderboard import board_update

HOSTILE = '<img src=x onerror="alert(1)">&amp;'


def test_the_selector_lists_categories_by_votes_and_says_which_are_too_thin() -> None:
    assert category_choices(category_board()) == [
        ("Overall", OVERALL), ("code (26 votes)", "code"),
        ("math (7 votes, too few to rank)", "math")]
    assert category_choices({"categories": "not a dict"}) == [("Overall", OVERALL)]


@pytest.mark.parametrize(("change", "shown"), [(2, "▲ 2"), (-1, "▼ 1"), (0, "="),
                                               (None, ""), ("new", "new"), ("2", "")])
def test_rank_change_is_signed_with_an_arrow(change: object, shown: str) -> None:
    assert rank_change_text(change) == shown


def test_rank_range_counts_the_models_clearly_above_and_below() -> None:
    rows = [{"model": "a", "lower": 10, "upper": 20}, {"model": "b", "lower": 15, "upper": 25},
            {"model": "c", "lower": 0, "upper": 5}]
    assert rank_ranges(rows) == {"a": "1–2", "b": "1–2", "c": "3"}


def test_a_too_few_category_shows_no_rows_even_if_the_entry_carries_some() -> None:
    board = category_board()
    board["categories"]["math"]["rows"] = board["rows"]
    view = category_view(board, "math")
    assert view["rows"] == [] and view["too_few"] is True
    assert "Too few votes to rank math" in category_line(view)
    shown = board_update(board, "math", show_retired=False, use_style=False)
    assert shown["table"].empty and shown["ci"] == "" and shown["heatmap"] == ""


def test_an_unknown_category_falls_back_to_the_overall_board() -> None:
    shown = board_update(category_board(), "lang:xx", show_retired=True, use_style=False)
    assert shown["category"] == OVERALL
    assert list(shown["table"]["Model"]) == ["alpha", "beta", "gamma", "delta"]


def test_hidden_retired_models_still_count_in_the_rank_ranges() -> None:
    shown = board_update(category_board(), OVERALL, show_retired=False, use_style=False)
    assert list(shown["table"]["Rank range"]) == ["1–3", "1–4", "1–4"]
    assert "1 retired model is hidden" in shown["legend"]


def test_every_text_of_the_board_is_escaped_in_the_plots() -> None:
    board = category_board()
    for row in board["rows"]:
        row["model"] = HOSTILE + row["model"]
    html = "".join([ci_chart(board["rows"]), speed_chart(board["rows"]),
                    win_chart(board, board["rows"])])
    assert "<img" not in html and 'onerror="' not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;amp;alpha" in html
    # One line without blank lines: the Markdown component passes it as one HTML block.
    assert "\n" not in html


def test_observed_win_fractions_are_used_when_they_cover_the_models() -> None:
    board = category_board()
    board["win_fraction"] = {"models": ["beta", "alpha"], "matrix": [[None, 0.3], [0.7, None]]}
    rows = board["rows"][:2]
    names, matrix, observed = win_matrix(board, rows)
    assert observed and names == ["alpha", "beta"] and matrix[0][1] == 0.7
    # Not covering every shown model: predicted from the ratings instead.
    assert win_matrix(board, board["rows"])[2] is False


def test_the_jobs_own_board_with_categories_is_shown_and_served(tmp_path: Path) -> None:
    """The board `rate_snapshot` (the job's rating step) makes from a labelled export goes
    through the tab's view and the API's view: shapes agreed, not just assumed."""
    results = [("alpha", "beta", 12, []), ("beta", "alpha", 4, []),
               ("beta", "alpha", 9, ["code"]), ("alpha", "beta", 2, ["code"]),
               ("alpha", "beta", 3, ["math"])]
    battles = [make_battle(model_a=won, model_b=lost, winner="model_a", turn_count=1,
                           labels=labels)
               for won, lost, times, labels in results for _ in range(times)]
    export = tmp_path / "export.jsonl"
    export.write_text("".join(json.dumps(b.to_dict(), default=str) + "\n" for b in battles),
                      encoding="utf-8")
    board = rate_snapshot(export, tmp_path / "leaderboard.json", category_min_votes=10,
                          model_states={"alpha": "active", "beta": "preview"})
    code = board_view(board, "code", show_retired=False)
    assert [(r["model"], r["rank_change"]) for r in code["rows"]] == [("beta", 1),
                                                                      ("alpha", -1)]
    assert board_view(board, "math", show_retired=True)["too_few"] is True
    shown = board_update(board, "code", show_retired=False, use_style=False)
    assert list(shown["table"]["vs overall"]) == ["▲ 1", "▼ 1"]
    assert "preview" in shown["table"]["Status"].iloc[0]
    assert 'data-model="beta"' in shown["ci"]


def test_style_controlled_rows_keep_each_models_votes_marks_and_speed() -> None:
    board = category_board()
    board["style_rows"] = [{"rank": 1, "model": "beta", "rating": 1100.0, "lower": 1000.0,
                            "upper": 1200.0, "battles": 31, "win_rate": 0.5161},
                           {"rank": 2, "model": "delta", "rating": 900.0, "lower": 800.0,
                            "upper": 1000.0, "battles": 20, "win_rate": 0.25}]
    shown = board_update(board, OVERALL, show_retired=False, use_style=True)
    table = shown["table"]
    assert list(table["Model"]) == ["beta"]  # delta is retired, hidden
    assert table["Rating"].iloc[0] == 1100.0 and table["Median TTFT"].iloc[0] == "0.61 s"
    assert shown["style"] == {"visible": True, "value": True}
