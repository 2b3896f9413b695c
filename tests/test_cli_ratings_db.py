"""`arena ratings --db/--config`: what it says when it has nothing to rate. The boards it
counts in SQL are tested in tests/test_ratings_sql_cli.py."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, cwd=cwd)


def test_ratings_without_input_or_database_says_what_to_give(tmp_path):
    result = run("ratings", cwd=tmp_path)
    assert result.returncode == 2
    assert "--db/--config" in result.stderr
    assert "--from-manifest" in " ".join(result.stderr.split())


def test_ratings_with_a_missing_config_names_it(tmp_path):
    result = run("ratings", "--config", "none.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "Invalid value: none.toml: config file not found" in result.stderr
