"""What the browser UI renders, checked without a browser: HTML in prompts and answers becomes
literal text, Markdown and code survive, and the leaderboard table and plots are built from a
board dict. (The real-browser checks of the same are in test_browser.py.)"""

from __future__ import annotations

import pytest

from arena.web.ui.leaderboard import board_summary, board_table, ci_figure, win_fraction_figure
from arena.web.ui.text import markdown_literal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<script>alert(1)</script>", "&lt;script>alert(1)&lt;/script>"),
        ("a & b <b>x</b>", "a &amp; b &lt;b>x&lt;/b>"),
        ("keep `<i>code</i>` as is", "keep `<i>code</i>` as is"),
        ("> a quote stays a quote", "> a quote stays a quote"),
        ("**bold** and _it_", "**bold** and _it_"),
    ],
)
def test_html_outside_code_is_escaped_and_markdown_kept(text: str, expected: str) -> None:
    assert markdown_literal(text) == expected


def test_fenced_code_is_left_alone_and_prose_after_it_is_escaped() -> None:
    text = "before <b>\n```html\n<b>x</b>\n```\nafter <i>"
    assert markdown_literal(text) == "before &lt;b>\n```html\n<b>x</b>\n```\nafter &lt;i>"


def test_an_unclosed_fence_while_streaming_counts_as_code() -> None:
    assert markdown_literal("~~~\n<tag> so far") == "~~~\n<tag> so far"


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
    figure = win_fraction_figure(BOARD, BOARD["rows"])
    matrix = figure.axes[0].images[0].get_array()
    # 100 points apart on the 400/log10 scale: 1 / (1 + 10^(-100/400)) = 0.640
    assert matrix[0, 1] == pytest.approx(0.6401, abs=1e-4)
    assert matrix[1, 0] == pytest.approx(1 - 0.6401, abs=1e-4)
    assert ci_figure(BOARD["rows"]).axes[0].get_yticklabels()[-1].get_text() == "big"
