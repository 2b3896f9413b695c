"""`arena ratings` settings that change the scale, the intervals or which rows count:
--mean, --scale/--base, --level, --prior, --initial, --allow-disconnected, --format,
--include-named, --include-flagged-battles and the rater test (--raters, --exclude-flagged,
--rater-alpha, --rater-min-votes), each on a small hand-built file with a stated result."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import norm
from typer.testing import CliRunner, Result

from arena.cli import app

# Two models, alpha winning 8 of 12: the Bradley–Terry gap is ln(8/4) logits.
EIGHT_FOUR = [("alpha", "beta", "model_a")] * 8 + [("alpha", "beta", "model_b")] * 4
MAIN = [("ace", "mid", "model_a"), ("mid", "ace", "model_b"), ("ace", "low", "model_a"),
        ("low", "ace", "model_b"), ("mid", "low", "model_a"), ("low", "mid", "tie"),
        ("mid", "low", "model_a"), ("low", "mid", "model_b"), ("ace", "mid", "tie")]


def ratings(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["ratings", *map(str, args)])


def table(path: Path, *args: str | Path) -> pd.DataFrame:
    out = path.with_name(f"{path.stem}-board.csv")
    result = ratings(path, *args, "--out", out)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return pd.read_csv(out).set_index("model")


def write_csv(path: Path, rows, columns=("model_a", "model_b", "winner")) -> Path:
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


@pytest.fixture
def eight_four(tmp_path) -> Path:
    return write_csv(tmp_path / "eight_four.csv", EIGHT_FOUR)


@pytest.fixture
def main(tmp_path) -> Path:
    return write_csv(tmp_path / "main.csv", MAIN)


def test_prior_zero_gives_the_exact_maximum_likelihood_gap(eight_four):
    board = table(eight_four, "--prior", "0")
    assert board.loc["alpha", "rating"] - board.loc["beta", "rating"] == pytest.approx(
        400 * math.log10(2), abs=1e-4)
    # A strong prior pulls the log-strengths towards each other.
    shrunk = table(eight_four, "--prior", "1")
    assert shrunk.loc["alpha", "rating"] - shrunk.loc["beta", "rating"] < 0.9 * 400 * math.log10(2)


def test_mean_scale_and_base_set_the_rating_scale(main):
    plain = table(main)
    raised = table(main, "--mean", "1500")
    assert raised["rating"].mean() == pytest.approx(1500.0)
    assert (raised["rating"] - plain["rating"]).to_numpy() == pytest.approx([500.0] * 3)
    half = table(main, "--scale", "200")
    assert (half["rating"] - 1000).to_numpy() == pytest.approx(
        ((plain["rating"] - 1000) / 2).to_numpy())
    # Scale 1 with base e: ratings in logits around the mean.
    logits = table(main, "--scale", "1", "--base", str(math.e))
    points = 400 / math.log(10)
    assert (logits["rating"] - 1000).to_numpy() == pytest.approx(
        ((plain["rating"] - 1000) / points).to_numpy(), abs=1e-6)


def test_level_sets_the_width_of_the_normal_intervals(main):
    wide, narrow = table(main), table(main, "--level", "0.5")
    ratio = (narrow["upper"] - narrow["lower"]) / (wide["upper"] - wide["lower"])
    assert ratio.to_numpy() == pytest.approx([norm.ppf(0.75) / norm.ppf(0.975)] * 3)
    result = ratings(main, "--level", "0.5")
    assert "CI sandwich (50%)." in result.stdout


def test_initial_sets_the_online_elo_starting_rating(main):
    """Every update is zero-sum, so the average rating stays the initial one."""
    board = table(main, "--method", "elo", "--initial", "1200", "--k", "16")
    assert board["rating"].mean() == pytest.approx(1200.0)
    assert list(board.index) == ["ace", "mid", "low"]


def test_a_disconnected_graph_is_refused_unless_allowed(tmp_path):
    path = write_csv(tmp_path / "split.csv", [("a", "b", "model_a"), ("b", "a", "model_a"),
                                              ("c", "d", "model_b"), ("d", "c", "tie")])
    refused = ratings(path)
    assert refused.exit_code == 2
    assert refused.stderr.startswith(
        "error: the comparison graph has 2 disconnected components: {a, b} (2 models); "
        "{c, d} (2 models).")
    board = table(path, "--allow-disconnected")
    assert board["component"].to_dict() == {"a": 1, "b": 1, "d": 2, "c": 2}
    assert board.groupby("component")["rating"].mean().to_numpy() == pytest.approx([1000.0] * 2)
    assert board.loc["d", "rating"] > board.loc["c", "rating"]  # d won 1.5 of 2
    style = ratings(path, "--allow-disconnected", "--style", "--style-features", "tokens")
    assert style.exit_code == 2
    assert style.stderr == "error: style control needs a connected comparison graph\n"


def test_format_overrides_the_file_extension(tmp_path):
    path = write_csv(tmp_path / "votes.txt", EIGHT_FOUR)
    unknown = ratings(path)
    assert unknown.exit_code == 2
    assert unknown.stderr.endswith("cannot tell the format from the file name; use one of "
                                   ".parquet, .jsonl, .json (FastChat clean_battle) or .csv, "
                                   "or pass --format (format=... in Python)\n")
    assert table(path, "--format", "csv")["battles"].to_dict() == {"alpha": 12, "beta": 12}
    wrong = ratings(path, "--format", "xml")
    assert wrong.exit_code == 2
    assert wrong.stderr == "error: format 'xml' is not one of parquet, jsonl, json, csv\n"


def test_named_and_flagged_battles_count_only_when_included(tmp_path):
    rows = [(*row, "anonymous", "") for row in EIGHT_FOUR]
    rows += [("alpha", "beta", "model_b", "named", ""),
             ("alpha", "beta", "model_b", "anonymous", "identity_leak")]
    path = write_csv(tmp_path / "modes.csv", rows,
                     ("model_a", "model_b", "winner", "mode", "flags"))
    result = ratings(path)
    assert ("Battles: 12 used of 14 rows read; dropped: mode_named 1, flagged_battle 1."
            in result.stdout)
    assert table(path)["battles"].to_dict() == {"alpha": 12, "beta": 12}
    assert table(path, "--include-named")["battles"].to_dict() == {"alpha": 13, "beta": 13}
    both = table(path, "--include-named", "--include-flagged-battles")
    assert both["battles"].to_dict() == {"alpha": 14, "beta": 14}
    assert both.loc["alpha", "win_rate"] == pytest.approx(8 / 14)


def judged(path: Path) -> Path:
    """Ten judges who always prefer ace > mid > low, and one, `bad`, who always prefers the
    weaker model; each judge votes twice on each of the three pairs (6 votes)."""
    rows = []
    pairs = [("ace", "mid"), ("mid", "low"), ("ace", "low")]
    for judge in [f"j{i}" for i in range(10)]:
        for strong, weak in pairs:
            rows += [(strong, weak, "model_a", judge), (weak, strong, "model_b", judge)]
    for strong, weak in pairs:
        rows += [(strong, weak, "model_b", "bad"), (weak, strong, "model_a", "bad")]
    return write_csv(path, rows, ("model_a", "model_b", "winner", "judge"))


def test_the_rater_test_flags_the_contrarian_judge(tmp_path):
    """11 judges tested at a family-wise 0.01: the per-judge threshold is 0.01 / 11."""
    path = judged(tmp_path / "judged.csv")
    result = ratings(path, "--raters")
    assert "Raters: 11 tested, 1 flagged (Fisher p < 0.00091): bad." in result.stdout
    assert "dropped: none" in result.stdout
    excluded = ratings(path, "--raters", "--exclude-flagged")
    assert "Battles: 60 used of 66 rows read; dropped: flagged_rater 6." in excluded.stdout
    board = table(path, "--raters", "--exclude-flagged")
    assert board["win_rate"].to_dict() == {"ace": 1.0, "mid": 0.5, "low": 0.0}


def test_rater_alpha_and_min_votes_set_who_is_tested_and_flagged(tmp_path):
    path = judged(tmp_path / "judged.csv")
    strict = ratings(path, "--raters", "--rater-alpha", "1e-9")
    assert "Raters: 11 tested, 0 flagged (Fisher p < 9.1e-11): none." in strict.stdout
    # Every judge cast 6 votes: with a minimum of 7 nobody is tested.
    few = ratings(path, "--raters", "--rater-min-votes", "7")
    assert "Raters: 0 tested, 0 flagged" in few.stdout
    kept = ratings(path, "--raters", "--rater-min-votes", "7", "--exclude-flagged")
    assert "Battles: 66 used of 66 rows read; dropped: none." in kept.stdout


def test_ci_none_leaves_the_intervals_empty_and_ranks_by_rating(main):
    board = table(main, "--ci", "none")
    assert board[["lower", "upper"]].isna().all().all()
    assert board["rank_ub"].to_dict() == {"ace": 1, "mid": 2, "low": 3}
    assert board["rating"].to_dict() == pytest.approx(table(main)["rating"].to_dict())


def test_position_bias_reports_the_raw_left_win_rates(main):
    """In MAIN the left side wins 4, the right 3, and 2 are ties: (4 + 2/2) / 9 of all
    battles and 4 / 7 of the decisive ones."""
    result = ratings(main, "--position-bias")
    assert result.exit_code == 0, result.stderr
    assert f"raw left win rate {5 / 9:.3f} (ties half), {4 / 7:.3f} of decisive battles." in (
        result.stdout)


def test_plots_with_by_are_written_per_group(tmp_path):
    path = write_csv(tmp_path / "grouped.csv",
                     [(*row, "chat" if index % 2 else "code") for index, row in
                      enumerate(MAIN + MAIN)], ("model_a", "model_b", "winner", "category"))
    result = ratings(path, "--by", "category", "--plot", tmp_path / "plots", "--ci", "none")
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == sorted(f"category={group}_{figure}.png" for group in ("chat", "code")
                           for figure in ("battle_count", "predicted_win_probability",
                                          "ratings", "win_fraction"))
    for name in names:
        assert f"wrote {tmp_path / 'plots' / name}" in result.stdout
