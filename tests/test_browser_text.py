"""What the Leaderboard tab renders, checked without a browser: the table and plots are built
from a board dict, and the board's text cannot inject Markdown. (Prompts and answers: see
test_rendering.py; the real-browser checks are in test_browser.py.)"""

from __future__ import annotations

import pytest

from arena.web.ui.board_plots import ci_chart, win_matrix
from arena.web.ui.leaderboard import SWAP_COLUMN, board_summary, board_table

BOARD = {
    "computed_at": "2026-11-28T10:00:00+00:00",
    "votes": 12,
    "rows": [
        {"rank": 1, "rank_ub": 1, "model": "big", "rating": 1050.0, "lower": 1010.0,
         "upper": 1090.5, "battles": 12, "win_rate": 0.75},
        {"rank": 2, "rank_ub": 1, "model": "small", "rating": 950.0, "lower": 909.5,
         "upper": 990.0, "battles": 12, "win_rate": 0.25},
    ],
    "manifest_url": "/snapshots/x/leaderboard.json.manifest.json",
}


def test_board_table_shows_rating_with_its_interval_as_offsets() -> None:
    table = board_table(BOARD["rows"])
    assert list(table["Model"]) == ["big", "small"]
    assert list(table["95% CI"]) == ["+40.5 / -40.0", "+40.0 / -40.5"]
    assert list(table["Win rate"]) == ["75.0%", "25.0%"]


def test_summary_names_the_snapshot_time_votes_and_manifest() -> None:
    summary = board_summary(BOARD, style=False)
    assert "2026-11-28 10:00:00 UTC" in summary and "**12** votes" in summary
    assert "(/snapshots/x/leaderboard.json.manifest.json)" in summary


def test_predicted_win_probability_follows_the_rating_gap() -> None:
    names, matrix, observed = win_matrix(BOARD, BOARD["rows"])
    assert names == ["big", "small"] and not observed
    # 100 points apart on the 400/log10 scale: 1 / (1 + 10^(-100/400)) = 0.640
    assert matrix[0][1] == pytest.approx(0.6401, abs=1e-4)
    assert matrix[1][0] == pytest.approx(1 - 0.6401, abs=1e-4)
    chart = ci_chart(BOARD["rows"])
    assert chart.index('data-model="big"') < chart.index('data-model="small"')


@pytest.mark.parametrize("url", ["https://elsewhere.example/x.json", "//elsewhere.example/x",
                                 "javascript:alert(1)", 42])
def test_summary_links_only_to_paths_on_this_host(url: object) -> None:
    summary = board_summary({**BOARD, "manifest_url": url}, style=False)
    assert "manifest" not in summary and "elsewhere" not in summary


def test_summary_link_cannot_close_its_markdown_early() -> None:
    board = {**BOARD, "manifest_url": "/snapshots/x) [evil](https://evil.example/"}
    summary = board_summary(board, style=False)
    assert "[manifest](/snapshots/x%29%20%5Bevil%5D%28https:/" in summary
    assert summary.count("](") == 1


def test_summary_text_from_the_board_is_escaped() -> None:
    summary = board_summary({**BOARD, "computed_at": "<img src=x>", "votes": "*9*"},
                            style=False)
    assert "**unknown time UTC**" in summary and "**0** votes" in summary


ROBUST = {**BOARD, "rows": [*BOARD["rows"], {**BOARD["rows"][1], "rank": 3, "model": "tiny"}],
          "robustness": {
              "headline": "#1 would change if 37 votes were removed",
              "leader": {"upper": "big", "lower": "small", "votes": 37, "exact": True},
              "adjacent": [{"upper": "big", "lower": "small", "votes": 37, "exact": True},
                           {"upper": "small", "lower": "tiny", "votes": 4, "exact": False}]}}


def test_summary_leads_with_how_many_removed_votes_would_change_first_place() -> None:
    summary = board_summary(ROBUST, style=False)
    assert "**#1 would change if 37 votes were removed**: the fewest votes" in summary
    assert f"“{SWAP_COLUMN}”" in summary
    one = {**ROBUST, "robustness": {"leader": {"votes": 1, "exact": False}}}
    assert ("**#1 would change if 1 vote were removed** (found by search; fewer might do)"
            in board_summary(one, style=False))
    styled = board_summary(ROBUST, style=True)
    assert "#1 of the ratings without style control would change if 37 votes" in styled
    assert "would change" not in board_summary(BOARD, style=False)


def test_each_row_shows_the_votes_to_swap_with_the_next_and_bounds_are_marked() -> None:
    table = board_table(ROBUST["rows"], ROBUST["robustness"])
    assert list(table[SWAP_COLUMN]) == ["37", "≤ 4", ""]
    assert list(board_table(ROBUST["rows"])[SWAP_COLUMN]) == ["", "", ""]


@pytest.mark.parametrize("leader", [{"votes": "**37**", "exact": True}, {"votes": True},
                                    {"votes": -3}, "37", None])
def test_the_robustness_line_is_built_from_numbers_only(leader: object) -> None:
    board = {**ROBUST, "robustness": {"headline": "[evil](https://evil.example)",
                                      "leader": leader, "adjacent": [{"votes": "<b>"}]}}
    summary = board_summary(board, style=False)
    assert "would change" not in summary and "evil" not in summary
    assert list(board_table(board["rows"], board["robustness"])[SWAP_COLUMN]) == ["", "", ""]
