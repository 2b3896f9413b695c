"""Per-category boards and the reader's columns of `arena ratings`, on a hand-built JSONL log.

The log (`LOG`): three models. In battles labelled `code`, beta beats alpha 8 of 10; in the
rest (rater category `chat`) alpha beats beta 18 of 20; alpha and beta beat gamma in both. So
alpha leads overall and beta leads in code: beta's rank change in `code` is +1, alpha's -1.
Every battle is also labelled `lang:en`; three carry `math` (too few for `--min-votes 5`).
The first battles of the log come from before labels existed (no `labels` key): they belong
to their rater category only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from arena.cli import app
from ratings import compute_leaderboard, read_battles
from ratings.categories import label_set, rank_change
from ratings.manifest import rate_file

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Per model: seconds to the first token and decode speed (tokens/s); gamma's generations
# were logged without timings.
SPEED = {"alpha": (0.2, 50.0), "beta": (0.5, 20.0), "gamma": None}


def generation(model: str, moment: datetime, tokens: int = 100) -> dict:
    if SPEED[model] is None:
        return {"completion_tokens": tokens}
    ttft, rate = SPEED[model]
    first = moment + timedelta(seconds=ttft)
    return {"started_at": moment.isoformat(), "first_token_at": first.isoformat(),
            "finished_at": (first + timedelta(seconds=tokens / rate)).isoformat(),
            "completion_tokens": tokens}


def line(number: int, a: str, b: str, winner: str, labels: list[str] | None,
         category: str | None) -> dict:
    moment = START + timedelta(minutes=number)
    record = {"battle_id": f"b{number}", "mode": "anonymous", "status": "voted",
              "model_a": a, "model_b": b, "winner": winner, "category": category,
              "voted_at": moment.isoformat(), "rater_hash": f"r{number % 7}",
              "turns": [{"index": 0, "generation_a": generation(a, moment),
                         "generation_b": generation(b, moment)}]}
    if labels is not None:
        record["labels"] = labels
    return record


def planted() -> list[dict]:
    rows: list[tuple[str, str, str, list[str] | None, str | None]] = []
    code, chat = ["code", "lang:en"], ["lang:en"]
    rows += [("beta", "alpha", "model_a", code, None)] * 8
    rows += [("alpha", "beta", "model_a", code, None)] * 2
    rows += [("alpha", "gamma", "model_a", code, None)] * 7
    rows += [("gamma", "alpha", "model_a", code, None)] * 3
    rows += [("beta", "gamma", "model_a", code, None)] * 7
    rows += [("beta", "gamma", "model_b", code, None)] * 3
    rows += [("alpha", "beta", "model_a", chat, "chat")] * 18
    rows += [("beta", "alpha", "model_a", chat, "chat")] * 2
    rows += [("alpha", "gamma", "model_a", chat, "chat")] * 12
    rows += [("alpha", "gamma", "tie", chat, "chat")] * 2
    rows += [("gamma", "alpha", "tie (bothbad)", chat, "chat")] * 1
    rows += [("beta", "gamma", "model_a", chat, "chat")] * 12
    rows += [("gamma", "beta", "model_a", chat, "chat")] * 8
    rows += [("alpha", "beta", "model_a", ["lang:en", "math"], "chat")] * 3
    # Old lines: no labels key at all; the rater's category is all they have.
    rows = [(a, b, w, None, "chat") for a, b, w, _, _ in rows[-6:-3]] + rows
    return [line(number, *row) for number, row in enumerate(rows)]


LOG = planted()


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def log(tmp_path) -> Path:
    return write_jsonl(tmp_path / "log.jsonl", LOG)


def ratings(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["ratings", *map(str, args)])


def test_category_is_the_labels_and_the_raters_category(log):
    frame = read_battles(log)
    assert frame["category"].iloc[0] == ("chat",)  # an old line: no labels
    assert frame["category"].iloc[3] == ("code", "lang:en")
    assert frame["category"].iloc[-1] == ("chat", "lang:en", "math")
    assert frame["rater_category"].iloc[-1] == "chat"
    assert label_set('["b", "a", "a"]') == ("a", "b") and label_set("code,math") == (
        "code", "math")
    assert label_set(None) == () and label_set(np.array(["x"])) == ("x",)


def test_where_keeps_the_battles_whose_set_holds_the_label(log):
    code = compute_leaderboard(read_battles(log), where=(("category", "code"),))
    assert code.rows_used == 30
    assert code.dropped["where:category=code"] == len(LOG) - 30
    # A battle labelled both math and lang:en is in both boards.
    math = compute_leaderboard(read_battles(log), where=(("category", "math"),))
    english = compute_leaderboard(read_battles(log), where=(("category", "lang:en"),))
    assert math.rows_used == 3 and english.rows_used == len(LOG) - 3


def test_by_category_rates_each_label_against_the_overall_board(log, tmp_path):
    out = tmp_path / "by.json"
    result = ratings(log, "--by", "category", "--out", out)
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert list(written["groups"]) == ["chat", "code", "lang:en", "math"]
    overall = [row["model"] for row in written["overall"]["leaderboard"]]
    assert overall == ["alpha", "beta", "gamma"]
    code = {row["model"]: row for row in written["groups"]["code"]["leaderboard"]}
    assert [code[m]["rank"] for m in ("beta", "alpha", "gamma")] == [1, 2, 3]
    assert {m: code[m]["rank_change"] for m in code} == {"beta": 1, "alpha": -1, "gamma": 0}
    english = written["groups"]["lang:en"]["leaderboard"]
    assert all(row["rank_change"] == 0 for row in english)
    text = result.stdout
    assert text.index("== overall ==") < text.index("== category = chat ==") < text.index(
        "== category = code ==")


def test_a_category_with_too_few_votes_says_so_and_re_derives(log, tmp_path):
    out = tmp_path / "by.csv"
    result = ratings(log, "--by", "category", "--min-votes", 5, "--out", out)
    assert result.exit_code == 0, result.output
    math_part = result.stdout.split("== category = math ==")[1]
    assert math_part.lstrip().startswith("Too few votes to rank: 3 (fewer than --min-votes 5).")
    table = pd.read_csv(out)
    assert set(table["category"]) == {"chat", "code", "lang:en"}  # no rows for math
    assert "rank_change" in table.columns
    manifest = json.loads((tmp_path / "by.csv.manifest.json").read_text())
    assert manifest["groups"]["math"] == {"rows_used": 3, "dropped": manifest["groups"][
        "math"]["dropped"], "too_few": True}
    assert manifest["options"]["min_votes"] == 5
    again = ratings("--from-manifest", tmp_path / "by.csv.manifest.json")
    assert again.exit_code == 0 and "identical to the recorded output" in again.stdout
    # Markdown and JSON say it too.
    ratings(log, "--by", "category", "--min-votes", 5, "--out", tmp_path / "by.json")
    groups = json.loads((tmp_path / "by.json").read_text())["groups"]
    assert groups["math"]["too_few"] is True and groups["math"]["leaderboard"] == []
    assert groups["code"]["too_few"] is False and groups["code"]["min_votes"] == 5


def test_rows_carry_votes_tie_shares_speed_and_marks(log):
    board = compute_leaderboard(read_battles(log), provisional_votes=60)
    table = board.table.set_index("model")
    frame = pd.DataFrame(LOG)
    for model in ("alpha", "beta", "gamma"):
        mine = frame[(frame["model_a"] == model) | (frame["model_b"] == model)]
        assert table.loc[model, "votes"] == len(mine) == table.loc[model, "battles"]
        assert table.loc[model, "tie_share"] == pytest.approx((mine["winner"] == "tie").mean())
        assert table.loc[model, "bothbad_share"] == pytest.approx(
            (mine["winner"] == "tie (bothbad)").mean())
    assert table.loc["alpha", "median_ttft_s"] == pytest.approx(0.2)
    assert table.loc["alpha", "tokens_per_s"] == pytest.approx(50.0)
    assert table.loc["beta", "median_ttft_s"] == pytest.approx(0.5)
    assert table.loc["beta", "tokens_per_s"] == pytest.approx(20.0)
    assert np.isnan(table.loc["gamma", "median_ttft_s"])
    assert table.loc["gamma", "tie_share"] > 0 and table.loc["gamma", "bothbad_share"] > 0
    assert list(table["provisional"]) == [bool(v < 60) for v in table["votes"]]
    assert table["state"].isna().all()


def test_ties_dropped_from_the_fit_still_count_in_the_shares(log):
    board = compute_leaderboard(read_battles(log), ties="drop")
    gamma = board.table.set_index("model").loc["gamma"]
    assert gamma["battles"] == gamma["votes"] - 3
    assert gamma["tie_share"] == pytest.approx(2 / gamma["votes"])


def test_the_command_line_shows_the_states_of_the_configs_models(log, tmp_path):
    config = tmp_path / "arena.toml"
    config.write_text(
        '[[models]]\nname = "alpha"\nbase_url = "http://127.0.0.1:9/v1"\n\n'
        '[[models]]\nname = "beta"\nbase_url = "http://127.0.0.1:9/v1"\nstate = "retired"\n'
        '\n[[models]]\nname = "gamma"\nbase_url = "http://127.0.0.1:9/v1"\n'
        'state = "preview"\n', encoding="utf-8")
    out = tmp_path / "board.json"
    result = ratings(log, "--config", config, "--out", out)
    assert result.exit_code == 0, result.output
    rows = {row["model"]: row for row in json.loads(out.read_text())["leaderboard"]}
    assert {m: r["state"] for m, r in rows.items()} == {
        "alpha": "active", "beta": "retired", "gamma": "preview"}
    assert "retired" in result.stdout and "preview" in result.stdout
    assert all(r["provisional"] for r in rows.values())  # fewer than 300 votes each


def test_rank_change_counts_only_the_models_of_the_group():
    overall = pd.DataFrame({"model": ["a", "b", "c", "d"], "rating": [4.0, 3.0, 2.0, 1.0],
                            "rank": [1, 2, 3, 4]})
    # b is missing from the group: c, second of the group overall, is first there.
    group = pd.DataFrame({"model": ["c", "a", "d"], "rank": [1, 2, 3]})
    assert list(rank_change(group, overall)) == [1, -1, 0]


def test_the_library_run_keeps_the_overall_board_beside_the_groups(log):
    run = rate_file(log, by="category")
    assert run.overall is not None and set(run.boards) == {"chat", "code", "lang:en", "math"}
    assert run.overall.rows_used == len(LOG)
