"""`arena ratings` option by option, in-process through the real Typer app, on small
hand-built battle files whose results can be stated in advance.

The main file, `ROWS`: `ace` wins all 8 of its decisive battles and has one `tie (bothbad)`
with `mid`; `mid` beats `low` 3 to 1 with 2 ties. By hand: ace 9 battles, win rate 8.5/9;
mid 11 battles, (3 + 2/2 + 1/2)/11; low 10 battles, (1 + 2/2)/10. The first 8 rows are
category `code` (ace's battles), the other 7 `chat`.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from arena.cli import app

ROWS = [
    ("ace", "mid", "model_a", "code"), ("mid", "ace", "model_b", "code"),
    ("ace", "mid", "model_a", "code"), ("mid", "ace", "model_b", "code"),
    ("ace", "low", "model_a", "code"), ("low", "ace", "model_b", "code"),
    ("ace", "low", "model_a", "code"), ("low", "ace", "model_b", "code"),
    ("mid", "low", "model_a", "chat"), ("low", "mid", "model_b", "chat"),
    ("mid", "low", "model_a", "chat"), ("low", "mid", "model_a", "chat"),
    ("mid", "low", "tie", "chat"), ("low", "mid", "tie", "chat"),
    ("ace", "mid", "tie (bothbad)", "chat"),
]
COLUMNS = ["model_a", "model_b", "winner", "category"]


def ratings(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["ratings", *map(str, args)])


def said(text: str) -> str:
    """Text without the frame Typer draws around usage errors, on one line."""
    return " ".join(text.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


def write_csv(path: Path, rows, columns=COLUMNS) -> Path:
    pd.DataFrame(rows, columns=columns).to_csv(path, index=False)
    return path


@pytest.fixture
def battles(tmp_path) -> Path:
    return write_csv(tmp_path / "battles.csv", ROWS)


def board(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).set_index("model")


def rate(*args: str | Path) -> Result:
    result = ratings(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


# ---------------------------------------------------------------------------- defaults
def test_a_model_that_wins_every_decisive_battle_is_ranked_first(battles, tmp_path):
    result = rate(battles, "--out", tmp_path / "b.csv")
    table = pd.read_csv(tmp_path / "b.csv")
    assert list(table["model"]) == ["ace", "mid", "low"]
    assert list(table["rank"]) == [1, 2, 3]
    assert list(table["battles"]) == [9, 11, 10]
    assert list(table["win_rate"]) == pytest.approx([8.5 / 9, 4.5 / 11, 2 / 10])
    assert table["rating"].mean() == pytest.approx(1000.0)
    assert (table["lower"] < table["rating"]).all() and (table["rating"] < table["upper"]).all()
    assert ("Battles: 15 used of 15 rows read; dropped: none. Method: bt, ties half, "
            "CI sandwich (95%).") in result.stdout


# ------------------------------------------------------------------------------ anchor
def test_anchor_sets_the_models_rating_exactly_and_only_shifts_the_others(battles, tmp_path):
    rate(battles, "--out", tmp_path / "plain.csv")
    rate(battles, "--anchor", "mid=1500", "--out", tmp_path / "anchored.csv")
    plain, anchored = board(tmp_path / "plain.csv"), board(tmp_path / "anchored.csv")
    assert anchored.loc["mid", "rating"] == 1500.0
    # The anchored model's own rating is fixed, so its interval has zero width.
    assert anchored.loc["mid", "lower"] == pytest.approx(1500.0, abs=1e-9)
    assert anchored.loc["mid", "upper"] == pytest.approx(1500.0, abs=1e-9)
    shift = 1500.0 - plain.loc["mid", "rating"]
    for model in ("ace", "low"):
        assert anchored.loc[model, "rating"] == pytest.approx(plain.loc[model, "rating"] + shift)
    assert list(anchored.index) == ["ace", "mid", "low"]


@pytest.mark.parametrize(("anchor", "message"), [
    ("nobody=1200", "Invalid value: --anchor: no model named 'nobody'"),
    ("ace=high", "Invalid value: --anchor 'ace=high': RATING must be a number"),
    ("1200", "Invalid value: --anchor '1200': expected NAME=VALUE"),
    ("=1200", "Invalid value: --anchor '=1200': expected NAME=VALUE"),
])
def test_a_bad_anchor_is_refused_as_a_usage_error(battles, anchor, message):
    result = ratings(battles, "--anchor", anchor)
    assert result.exit_code == 2
    assert message in said(result.stderr)
    assert result.stdout == ""


# ------------------------------------------------------------------------------ online Elo
def elo_by_hand(rows, k: float, initial: float = 1000.0) -> dict[str, float]:
    """Online Elo written out from its definition: file order, ties (bothbad too) half."""
    rating: dict[str, float] = defaultdict(lambda: initial)
    for left, right, winner, _ in rows:
        expected = 1 / (1 + 10 ** ((rating[right] - rating[left]) / 400))
        score = {"model_a": 1.0, "model_b": 0.0}.get(winner, 0.5)
        rating[left] += k * (score - expected)
        rating[right] -= k * (score - expected)
    return dict(rating)


def test_online_elo_follows_the_update_rule_in_file_order(battles, tmp_path):
    result = rate(battles, "--method", "elo", "--k", "32", "--out", tmp_path / "elo.csv")
    table = board(tmp_path / "elo.csv")
    expected = elo_by_hand(ROWS, k=32)
    for model, value in expected.items():
        assert table.loc[model, "rating"] == pytest.approx(value, abs=1e-9)
    assert table[["lower", "upper"]].isna().all().all()  # no intervals for online Elo
    assert "Method: elo, ties half, CI none (95%)." in result.stdout


def test_online_elo_with_an_anchor_pins_that_model_and_keeps_the_gaps(battles, tmp_path):
    rate(battles, "--method", "elo", "--k", "32", "--anchor", "low=900",
         "--out", tmp_path / "elo.csv")
    table = board(tmp_path / "elo.csv")
    expected = elo_by_hand(ROWS, k=32)
    assert table.loc["low", "rating"] == 900.0
    for model in ("ace", "mid"):
        gap = expected[model] - expected["low"]
        assert table.loc[model, "rating"] == pytest.approx(900.0 + gap, abs=1e-9)


def test_online_elo_refuses_confidence_intervals(battles):
    result = ratings(battles, "--method", "elo", "--ci", "sandwich")
    assert result.exit_code == 2
    assert result.stderr == ("error: online Elo has no confidence intervals here; use "
                             "ci='none' or method='bt'\n")


# ------------------------------------------------------------------------- ties, bothbad
def test_bothbad_drop_leaves_out_the_bothbad_vote(battles, tmp_path):
    result = rate(battles, "--bothbad", "drop", "--out", tmp_path / "b.csv")
    table = board(tmp_path / "b.csv")
    assert table.loc["ace", "battles"] == 8 and table.loc["ace", "win_rate"] == 1.0
    assert table.loc["mid", "battles"] == 10
    assert "Battles: 14 used of 15 rows read; dropped: bothbad 1." in result.stdout


def test_ties_drop_leaves_out_ties_and_bothbad_counted_as_tie(battles, tmp_path):
    result = rate(battles, "--ties", "drop", "--out", tmp_path / "b.csv")
    table = board(tmp_path / "b.csv")
    assert table.loc["mid", "battles"] == 8 and table.loc["mid", "win_rate"] == 3 / 8
    assert "Battles: 12 used of 15 rows read; dropped: tie 3." in result.stdout
    both = rate(battles, "--ties", "drop", "--bothbad", "drop")
    assert "Battles: 12 used of 15 rows read; dropped: bothbad 1, tie 2." in both.stdout


# Two equal models: 3 wins each and 4 ties. Under Davidson two equal models tie with
# probability nu / (2 + nu), whose maximum-likelihood value is the tie share 4/10, so nu = 4/3.
DAVIDSON_ROWS = ([("x", "y", "model_a", "chat")] * 3 + [("x", "y", "model_b", "chat")] * 3
                 + [("x", "y", "tie", "chat")] * 2 + [("y", "x", "tie", "chat")] * 2)


def test_davidson_estimates_the_tie_parameter_of_equal_models(tmp_path):
    path = write_csv(tmp_path / "even.csv", DAVIDSON_ROWS)
    result = rate(path, "--ties", "davidson", "--out", tmp_path / "even.json")
    tie = json.loads((tmp_path / "even.json").read_text())["tie_parameter"]
    assert tie["nu"] == pytest.approx(4 / 3, abs=1e-4)
    assert tie["tie_probability_between_equals"] == pytest.approx(0.4, abs=1e-5)
    assert tie["lower"] < 4 / 3 < tie["upper"]
    assert "Davidson tie parameter nu = 1.3333" in result.stdout
    assert "two equal models tie with probability 0.400." in result.stdout


def test_davidson_with_bootstrap_reruns_from_its_manifest_byte_identical(battles, tmp_path):
    out = tmp_path / "dav.csv"
    rate(battles, "--ties", "davidson", "--ci", "bootstrap", "--rounds", "200", "--seed", "3",
         "--out", out)
    manifest = json.loads((tmp_path / "dav.csv.manifest.json").read_text())
    assert manifest["options"]["ties"] == "davidson"
    assert manifest["options"]["ci"] == "bootstrap" and manifest["seed"] == 3
    again = rate("--from-manifest", tmp_path / "dav.csv.manifest.json")
    assert "identical to the recorded output" in again.stdout
    assert "Davidson tie parameter nu" in again.stdout
    assert (tmp_path / "dav.rerun.csv").read_bytes() == out.read_bytes()
    # The bootstrap draws depend on the seed: another seed gives other intervals.
    rate(battles, "--ties", "davidson", "--ci", "bootstrap", "--rounds", "200", "--seed", "4",
         "--out", tmp_path / "other.csv")
    assert (tmp_path / "other.csv").read_bytes() != out.read_bytes()


# ------------------------------------------------------------------------------- --by, --where
def test_by_rates_each_group_on_its_own_battles(battles, tmp_path):
    result = rate(battles, "--by", "category", "--out", tmp_path / "by.json")
    groups = json.loads((tmp_path / "by.json").read_text())["groups"]
    assert list(groups) == ["chat", "code"]
    assert groups["code"]["rows_used"] == 8 and groups["chat"]["rows_used"] == 7
    battles_of = {name: {row["model"]: row["battles"] for row in group["leaderboard"]}
                  for name, group in groups.items()}
    assert battles_of == {"code": {"ace": 8, "mid": 4, "low": 4},
                          "chat": {"mid": 7, "low": 6, "ace": 1}}
    assert groups["code"]["leaderboard"][0]["model"] == "ace"
    text = result.stdout
    assert text.index("== category = chat ==") < text.index("== category = code ==")


def test_where_keeps_only_the_matching_rows_and_counts_the_rest(battles, tmp_path):
    result = rate(battles, "--where", "category=chat", "--out", tmp_path / "b.csv")
    table = board(tmp_path / "b.csv")
    assert table["battles"].to_dict() == {"mid": 7, "low": 6, "ace": 1}
    assert "Battles: 7 used of 15 rows read; dropped: where:category=chat 8." in result.stdout


def test_by_with_where_and_unknown_columns(battles, tmp_path):
    both = rate(battles, "--by", "category", "--where", "category=code")
    assert "== category = code ==" in both.stdout and "category = chat" not in both.stdout
    # Every row read is either used or counted under a reason.
    assert "Battles: 8 used of 15 rows read; dropped: where:category=code 7." in both.stdout
    missing = ratings(battles, "--by", "language")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: --by language: no column 'language'; columns are")
    nowhere = ratings(battles, "--where", "language=en")
    assert nowhere.exit_code == 2
    assert nowhere.stderr.startswith("error: --where language=en: no column 'language'")


# ------------------------------------------------------------------------------------ style
# Two models, x always on the left. When x's answer is the long one it wins 3 of 4, when
# y's is it loses 3 of 4: the normalised length differences are +c and -c, z-scored to +1
# and -1, so the style coefficient is logit(3/4) = ln 3 and, by symmetry, x and y are equal.
STYLE_ROWS = ([("x", "y", "model_a", 300, 100)] * 3 + [("x", "y", "model_b", 300, 100)]
              + [("x", "y", "model_b", 100, 300)] * 3 + [("x", "y", "model_a", 100, 300)])
STYLE_COLUMNS = ["model_a", "model_b", "winner", "tokens_a", "tokens_b"]


def test_style_control_estimates_a_planted_length_effect(tmp_path):
    path = write_csv(tmp_path / "style.csv", STYLE_ROWS, STYLE_COLUMNS)
    result = rate(path, "--style", "--style-features", "tokens", "--out", tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text())
    (coefficient,) = data["style_coefficients"]
    assert coefficient["feature"] == "tokens"
    assert coefficient["coefficient"] == pytest.approx(math.log(3), abs=1e-4)
    assert coefficient["elo_points"] == pytest.approx(400 / math.log(10) * math.log(3),
                                                      abs=0.02)
    assert coefficient["lower"] < math.log(3) < coefficient["upper"]
    for row in data["leaderboard"]:
        assert row["style_rating"] == pytest.approx(1000.0, abs=1e-6)
        assert row["rating"] == pytest.approx(1000.0, abs=1e-6)
    assert "Style coefficients (log-odds per SD of the normalised difference):" in result.stdout


def answer(headers: int) -> list[dict[str, str]]:
    text = "\n".join(["# Part"] * headers + ["Some text.", "```", "# not a header", "```"])
    return [{"role": "user", "content": "q"}, {"role": "assistant", "content": text}]


def test_style_features_are_counted_from_the_conversations(tmp_path):
    """The same planted effect as above, carried by markdown headers counted in the answer
    text (2 against 0; the `#` inside the code block does not count): the differences are
    ±2/3, z-scored to ±1, so the coefficient is again ln 3."""
    lines = []
    for x_headers, winners in ((2, "aaab"), (0, "bbba")):
        for won in winners:
            lines.append({"model_a": "x", "model_b": "y",
                          "winner": "model_a" if won == "a" else "model_b",
                          "conversation_a": answer(x_headers),
                          "conversation_b": answer(2 - x_headers)})
    path = tmp_path / "style.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rate(path, "--style", "--style-features", "headers", "--out", tmp_path / "s.json")
    (coefficient,) = json.loads((tmp_path / "s.json").read_text())["style_coefficients"]
    assert coefficient["feature"] == "headers"
    assert coefficient["coefficient"] == pytest.approx(math.log(3), abs=1e-4)


def test_style_with_features_the_file_cannot_supply_says_what_is_missing(tmp_path):
    path = write_csv(tmp_path / "style.csv", STYLE_ROWS, STYLE_COLUMNS)
    result = ratings(path, "--style")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: style control needs headers_a/headers_b, lists_a/lists_b, bold_a/bold_b "
        "columns or conversation_a/conversation_b to count them from\n")


def test_a_style_feature_that_never_varies_is_named(tmp_path):
    rows = [(*row, 0, 0) for row in STYLE_ROWS]
    path = write_csv(tmp_path / "style.csv", rows, [*STYLE_COLUMNS, "bold_a", "bold_b"])
    result = ratings(path, "--style", "--style-features", "tokens,bold")
    assert result.exit_code == 2
    assert result.stderr == ("error: style feature 'bold' does not vary across battles; "
                             "remove it with --style-features\n")


# ------------------------------------------------------------------------- option checks
@pytest.mark.parametrize(("args", "message"), [
    (["--method", "glicko"], "method must be one of ('bt', 'elo')"),
    (["--ties", "split"], "ties must be one of ('half', 'drop', 'davidson')"),
    (["--bothbad", "loss"], "bothbad must be one of ('tie', 'drop')"),
    (["--ci", "profile"], "ci must be one of ('sandwich', 'bootstrap', 'none')"),
    (["--rounds", "1"], "rounds must be at least 2"),
    (["--level", "1"], "level must be in (0, 1)"),
    (["--scale", "0"], "scale must be > 0 and base > 1"),
    (["--base", "1"], "scale must be > 0 and base > 1"),
    (["--prior", "-1"], "prior must be >= 0"),
    (["--rater-alpha", "0"], "rater_alpha must be in (0, 1)"),
    (["--style-features", "tokens,emoji"],
     "style features must be among ('tokens', 'headers', 'lists', 'bold')"),
    (["--ties", "davidson", "--style"],
     "style control and position bias use ties='half' or 'drop', not 'davidson'"),
    (["--ties", "davidson", "--position-bias"],
     "style control and position bias use ties='half' or 'drop', not 'davidson'"),
    (["--max-votes-per-rater-per-day", "0"],
     "max_votes_per_rater_per_day must be a whole number >= 1 (or unset for no cap)"),
    (["--robustness-exact-limit", "-1"], "robustness_exact_limit must be a whole number >= 0"),
    *[(["--robustness", *args], "robustness refits the Bradley–Terry board: it needs "
       "method='bt', ties='half' or 'drop' (not 'davidson') and prior > 0")
      for args in (["--method", "elo"], ["--ties", "davidson"], ["--prior", "0"])],
])
def test_an_invalid_option_is_refused_with_exit_2_and_its_rule(battles, tmp_path, args,
                                                               message):
    result = ratings(battles, *args, "--out", tmp_path / "b.csv")
    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"
    assert result.stdout == ""
    assert not (tmp_path / "b.csv").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "board.txt"], "board.txt: use a .csv, .json or .md file name"),
    (["--where", "category"], "Invalid value: --where 'category': expected NAME=VALUE"),
    (["--compare-replay", "{input}", "--out", "cmp.csv"],
     "cmp.csv: the judge comparison is written as .json"),
])
def test_a_malformed_option_value_is_a_usage_error(battles, args, message):
    args = [a.replace("{input}", str(battles)) for a in args]
    result = ratings(battles, *args)
    assert result.exit_code == 2
    assert message in said(result.stderr)


def test_an_unknown_option_value_type_is_refused_by_the_parser(battles):
    result = ratings(battles, "--rounds", "many")
    assert result.exit_code == 2
    assert ("Invalid value for '--rounds': Input should be a valid integer, unable to parse "
            "string as an integer") in said(result.stderr)
