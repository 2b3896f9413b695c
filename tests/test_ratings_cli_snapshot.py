"""The live leaderboard's snapshot (`arena.jobs.leaderboard.rate_snapshot`) is the table
`arena ratings EXPORT --style` prints: its `style_rows` carry the style-controlled columns,
with the features no answer varies in left out, on hand-made battles with a stated result."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.jobs.leaderboard import rate_snapshot

# Both answers have six words, no list items and no bold, so only the header count varies:
# 2 headers against 0 is a normalised difference of ±2/3, z-scored to ±1.
WITH_HEADERS = "# Part\n# Part\nSome text."
WITHOUT = "Part Part Some text. More words"


def battle(left: str, right: str, left_has_headers: bool, left_won: bool) -> dict:
    def conversation(text: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": "q"}, {"role": "assistant", "content": text}]

    return {"model_a": left, "model_b": right, "winner": "model_a" if left_won else "model_b",
            "conversation_a": conversation(WITH_HEADERS if left_has_headers else WITHOUT),
            "conversation_b": conversation(WITHOUT if left_has_headers else WITH_HEADERS)}


def write_jsonl(path: Path, battles: list[dict]) -> Path:
    path.write_text("".join(json.dumps(b) + "\n" for b in battles))
    return path


def test_style_rows_hold_the_planted_header_effect(tmp_path):
    """x is always on the left; the side with headers wins 3 of 4. By symmetry x and y are
    equal with or without style control, and the header coefficient is logit(3/4) = ln 3."""
    battles = [battle("x", "y", has, won)
               for has, outcomes in ((True, "wwwl"), (False, "lllw"))
               for won in (o == "w" for o in outcomes)]
    board = rate_snapshot(write_jsonl(tmp_path / "export.jsonl", battles),
                          tmp_path / "board.json")
    (coefficient,) = board["style_coefficients"]
    assert coefficient["feature"] == "headers"  # tokens, lists and bold never vary
    assert coefficient["coefficient"] == pytest.approx(math.log(3), abs=1e-4)
    assert board["votes"] == 8
    assert {row["model"]: row["battles"] for row in board["style_rows"]} == {"x": 8, "y": 8}
    for row in board["style_rows"] + board["rows"]:
        assert row["rating"] == pytest.approx(1000.0, abs=1e-6)
        assert row["win_rate"] == 0.5


def test_style_rows_are_the_style_columns_of_arena_ratings_style(tmp_path):
    """With a third model and uneven results the two tables differ; each must be the
    matching columns of the command line's table for the same export."""
    battles = ([battle("x", "y", has, won) for has in (True, False)
                for won in (True, True, False)]
               + [battle("x", "z", True, True)] * 3 + [battle("z", "x", False, True)]
               + [battle("y", "z", True, won) for won in (True, False, False)]
               + [battle("y", "z", False, won) for won in (True, True, False)])
    export = write_jsonl(tmp_path / "export.jsonl", battles)
    board = rate_snapshot(export, tmp_path / "board.json")
    result = CliRunner().invoke(app, ["ratings", str(export), "--style", "--style-features",
                                      "headers", "--out", str(tmp_path / "cli.csv")])
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(tmp_path / "cli.csv").set_index("model")
    assert board["votes"] == len(battles) == 16
    for row in board["style_rows"]:
        expected = table.loc[row["model"]]
        assert row["rank"] == expected["style_rank"]
        assert row["rating"] == pytest.approx(expected["style_rating"], abs=1e-9)
        assert row["lower"] == pytest.approx(expected["style_lower"], abs=1e-9)
        assert row["upper"] == pytest.approx(expected["style_upper"], abs=1e-9)
        assert row["battles"] == expected["battles"]
    for row in board["rows"]:
        assert row["rating"] == pytest.approx(table.loc[row["model"], "rating"], abs=1e-9)
    style = {row["model"]: row["rating"] for row in board["style_rows"]}
    plain = {row["model"]: row["rating"] for row in board["rows"]}
    assert max(abs(style[m] - plain[m]) for m in plain) > 1.0
