"""`arena ratings --db/--config` counts in SQL: no export file, a manifest with the
watermark, and `--from-manifest` re-deriving the table byte for byte after more votes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from factories import make_battle

from arena.store import BattleLog


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, cwd=cwd)


def vote(log: BattleLog, winners: str) -> None:
    for letter in winners:
        winner = {"a": "model_a", "b": "model_b", "t": "tie"}[letter]
        log.record_battle(make_battle(model_a="alpha", model_b="beta", winner=winner))


def test_ratings_from_the_config_database_count_in_sql_and_rerun_after_more_votes(
        tmp_path: Path):
    """Twelve votes, alpha winning 8: the Bradley–Terry gap is 400·log10(2) = 120.4 Elo
    points. Votes cast after the run do not change what its manifest re-derives."""
    db_url = f"sqlite:///{tmp_path / 'arena.db'}"
    with BattleLog(db_url) as log:
        vote(log, "baabaabaabaa")
        log.record_battle(make_battle(model_a="alpha", model_b="beta", status="abandoned"))
    config = tmp_path / "arena.toml"
    config.write_text(f'[arena]\ndb_url = "{db_url}"\n', encoding="utf-8")
    out = tmp_path / "board.csv"

    rated = run("ratings", "--config", str(config), "--out", str(out), cwd=tmp_path)
    assert rated.returncode == 0, rated.stderr
    assert "counted in SQL" in rated.stderr
    assert "Battles: 12 used of 12 rows read; dropped: none." in rated.stdout
    written = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("arena.db"))
    assert written == ["arena.toml", "board.csv", "board.csv.manifest.json"]  # no export
    table = pd.read_csv(out)
    assert list(table["model"]) == ["alpha", "beta"]
    gap = table.loc[0, "rating"] - table.loc[1, "rating"]
    assert gap == pytest.approx(400 * math.log10(2), abs=0.5)
    manifest = json.loads((tmp_path / "board.csv.manifest.json").read_text())
    assert manifest["input"]["database"] == db_url
    assert manifest["rows_read"] == 12

    with BattleLog(db_url) as log:
        vote(log, "bbbbbbbbtt")  # later votes, beta now ahead
    again = run("ratings", "--from-manifest", str(tmp_path / "board.csv.manifest.json"))
    assert again.returncode == 0, again.stderr
    assert "identical to the recorded output" in again.stdout
    assert (tmp_path / "board.rerun.csv").read_bytes() == out.read_bytes()
    now = run("ratings", "--db", db_url, "--out", str(tmp_path / "now.csv"))
    assert now.returncode == 0, now.stderr
    assert list(pd.read_csv(tmp_path / "now.csv")["model"]) == ["beta", "alpha"]


def test_options_that_need_each_battle_rate_an_export_and_say_why(tmp_path: Path):
    db_url = f"sqlite:///{tmp_path / 'arena.db'}"
    with BattleLog(db_url) as log:
        vote(log, "aab")
    rated = run("ratings", "--db", db_url, "--method", "elo", "--ci", "none", cwd=tmp_path)
    assert rated.returncode == 0, rated.stderr
    assert "rating an export of the database: online Elo depends on the order" in rated.stderr
    (export,) = (tmp_path / "data" / "ratings").glob("battles-*.jsonl")
    assert len(export.read_text().splitlines()) == 3


def test_a_database_without_votes_says_there_is_nothing_to_rate(tmp_path: Path):
    db_url = f"sqlite:///{tmp_path / 'arena.db'}"
    with BattleLog(db_url) as log:
        log.record_battle(make_battle(model_a="alpha", model_b="beta", status="abandoned"))
    rated = run("ratings", "--db", db_url, "--out", str(tmp_path / "board.csv"))
    assert rated.returncode == 2
    assert "no voted battles" in rated.stderr
    assert not (tmp_path / "board.csv").exists()
