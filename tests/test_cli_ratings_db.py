"""`arena ratings --db/--config`: rate the arena's own database, reproducibly."""

from __future__ import annotations

import subprocess
import sys

from factories import make_battle

from arena.store import BattleLog


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, cwd=cwd)


def test_ratings_from_the_database_named_in_the_config(tmp_path):
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
    assert "exported 12 voted battles" in rated.stdout
    assert "alpha" in rated.stdout and "beta" in rated.stdout
    export = tmp_path / "board.battles.jsonl"
    assert len(export.read_text().splitlines()) == 12

    again = run("ratings", "--from-manifest", str(tmp_path / "board.csv.manifest.json"))
    assert again.returncode == 0, again.stderr
    assert "identical to" in again.stdout


def test_ratings_without_input_or_database_says_what_to_give(tmp_path):
    result = run("ratings", cwd=tmp_path)
    assert result.returncode == 2
    assert "--db/--config" in result.stderr
