"""`arena ratings --db/--config`: rate the arena's own database, reproducibly."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys

import pandas as pd
import pytest
from factories import make_battle

from arena.store import BattleLog


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, cwd=cwd)


def test_ratings_from_the_database_named_in_the_config(tmp_path):
    """Twelve votes, alpha (always on the left) winning 8 and beta 4, plus an abandoned
    battle: the board must hold exactly those votes, alpha first, and the Bradley–Terry gap
    of two models is log-odds ln(8/4), i.e. 400·log10(2) = 120.4 Elo points (the default
    prior shrinks it by a fraction of a point)."""
    db_url = f"sqlite:///{tmp_path / 'arena.db'}"
    with BattleLog(db_url) as log:
        for index in range(12):
            winner = "model_a" if index % 3 else "model_b"
            log.record_battle(make_battle(model_a="alpha", model_b="beta", winner=winner))
        log.record_battle(make_battle(model_a="alpha", model_b="beta", status="abandoned"))
    config = tmp_path / "arena.toml"
    config.write_text(f'[arena]\ndb_url = "{db_url}"\n', encoding="utf-8")
    out = tmp_path / "board.csv"

    rated = run("ratings", "--config", str(config), "--out", str(out))
    assert rated.returncode == 0, rated.stderr
    export = tmp_path / "board.battles.jsonl"
    assert f"exported 12 voted battles from {db_url} to {export}" in rated.stdout
    assert "Battles: 12 used of 12 rows read; dropped: none." in rated.stdout
    assert [json.loads(line)["winner"] for line in export.read_text().splitlines()] == [
        "model_a" if index % 3 else "model_b" for index in range(12)]

    table = pd.read_csv(out)
    assert list(table["model"]) == ["alpha", "beta"]
    assert list(table["rank"]) == [1, 2]
    assert list(table["battles"]) == [12, 12]
    assert list(table["win_rate"]) == pytest.approx([8 / 12, 4 / 12])
    gap = table.loc[0, "rating"] - table.loc[1, "rating"]
    assert gap == pytest.approx(400 * math.log10(2), abs=0.5)
    assert table["rating"].mean() == pytest.approx(1000.0)

    manifest = json.loads((tmp_path / "board.csv.manifest.json").read_text())
    assert manifest["input"]["path"] == str(export.resolve())
    assert manifest["input"]["sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()
    assert manifest["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert (manifest["rows_read"], manifest["rows_used"]) == (12, 12)

    again = run("ratings", "--from-manifest", str(tmp_path / "board.csv.manifest.json"))
    assert again.returncode == 0, again.stderr
    assert "identical to the recorded output" in again.stdout
    assert (tmp_path / "board.rerun.csv").read_bytes() == out.read_bytes()


def test_ratings_without_input_or_database_says_what_to_give(tmp_path):
    result = run("ratings", cwd=tmp_path)
    assert result.returncode == 2
    assert "--db/--config" in result.stderr
    assert "--from-manifest" in " ".join(result.stderr.split())


def test_ratings_from_a_db_url_keep_the_export_under_the_data_directory(tmp_path):
    """Without --out the export the manifest would name goes to data/ratings/ of the
    working directory."""
    db_url = f"sqlite:///{tmp_path / 'arena.db'}"
    with BattleLog(db_url) as log:
        for winner in ("model_a", "model_a", "model_b"):
            log.record_battle(make_battle(model_a="alpha", model_b="beta", winner=winner))
    rated = run("ratings", "--db", db_url, cwd=tmp_path)
    assert rated.returncode == 0, rated.stderr
    (export,) = (tmp_path / "data" / "ratings").glob("battles-*.jsonl")
    assert (f"exported 3 voted battles from {db_url} to "
            f"{export.relative_to(tmp_path)}") in rated.stdout
    assert len(export.read_text().splitlines()) == 3
    assert "Battles: 3 used of 3 rows read; dropped: none." in rated.stdout


def test_ratings_of_a_database_without_votes_says_there_are_no_rows(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'arena.db'}"
    with BattleLog(db_url) as log:
        log.record_battle(make_battle(model_a="alpha", model_b="beta", status="abandoned"))
    rated = run("ratings", "--db", db_url, "--out", str(tmp_path / "board.csv"))
    assert rated.returncode == 2
    assert "exported 0 voted battles" in rated.stdout
    assert "no rows" in rated.stderr
    assert not (tmp_path / "board.csv").exists()


def test_ratings_with_a_missing_config_names_it(tmp_path):
    result = run("ratings", "--config", "none.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "Invalid value: none.toml: config file not found" in result.stderr
