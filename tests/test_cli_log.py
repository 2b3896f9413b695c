"""`arena export` / `arena import` as a user runs them: real processes, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from factories import make_battle
from sqlalchemy import create_engine, text

from arena.store import BattleLog


def arena(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arena", *args],
        capture_output=True, text=True, check=False, cwd=cwd, timeout=120,
    )  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    with BattleLog(url) as log:
        for status in ("voted", "voted", "voted", "abandoned", "error"):
            log.record_battle(make_battle(status=status))
    return url


def test_export_then_import_through_the_command_line(db: str, tmp_path: Path):
    out = tmp_path / "battles.jsonl"
    exported = arena("export", "--db", db, "--format", "jsonl", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == f"exported 5 battles (status: all) to {out} as jsonl"

    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    first = arena("import", str(out), "--db", copy)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "read 5, inserted 5, already present 0, skipped 0"
    second = arena("import", str(out), "--db", copy)
    assert second.stdout.strip() == "read 5, inserted 0, already present 5, skipped 0"


def test_fastchat_and_parquet_exports_default_to_voted_battles(db: str, tmp_path: Path):
    for fmt, name in (("fastchat", "clean.json"), ("parquet", "battles.parquet")):
        result = arena("export", "--db", db, "--format", fmt, "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        assert "exported 3 battles (status: voted)" in result.stdout
    assert len(json.loads((tmp_path / "clean.json").read_text())) == 3


def test_config_file_names_the_database(db: str, tmp_path: Path):
    config = tmp_path / "arena.toml"
    config.write_text(f'[arena]\ndb_url = "{db}"\n')
    out = tmp_path / "voted.jsonl"
    result = arena("export", "--config", str(config), "--status", "voted", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert len(out.read_text().splitlines()) == 3


def test_default_database_is_data_arena_db_in_the_working_directory(tmp_path: Path):
    battle = make_battle()
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(battle.to_dict()) + "\n")
    result = arena("import", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "arena.db").exists()


def test_missing_file_is_an_error(tmp_path: Path):
    result = arena("import", str(tmp_path / "nope.jsonl"), "--db", f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 1
    assert "nope.jsonl: no such file" in result.stderr
    assert not (tmp_path / "x.db").exists()  # nothing was opened or created


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def count(url: str) -> int:
    with BattleLog(url) as log:
        return log.count_battles()


def test_malformed_json_names_the_line_and_imports_nothing(tmp_path: Path):
    good = json.dumps(make_battle().to_dict())
    path = write_lines(tmp_path / "broken.jsonl", [good, '{"battle_id": "x", ', good])
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = arena("import", str(path), "--db", url)
    assert result.returncode == 1
    assert f"{path}:line 2: malformed JSON" in result.stderr
    assert "nothing was imported" in result.stderr
    assert count(url) == 0


def test_unknown_winner_is_refused(tmp_path: Path):
    record = make_battle().to_dict()
    record["winner"] = "model_c"
    path = write_lines(tmp_path / "winner.jsonl", [json.dumps(record)])
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = arena("import", str(path), "--db", url)
    assert result.returncode == 1
    assert "line 1: winner 'model_c' is not one of 'model_a', 'model_b', 'tie'" in result.stderr
    assert count(url) == 0


def test_record_from_a_newer_schema_is_refused(tmp_path: Path):
    record = make_battle().to_dict()
    record["schema_version"] = 99
    path = write_lines(tmp_path / "future.jsonl", [json.dumps(record)])
    result = arena("import", str(path), "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 1
    assert "line 1: schema_version 99 is newer than this program's 1" in result.stderr


def test_database_with_a_newer_schema_is_refused_by_both_commands(db: str, tmp_path: Path):
    engine = create_engine(db)
    with engine.begin() as connection:
        connection.execute(text("UPDATE arena_meta SET value = '7' WHERE key = 'schema_version'"))
    engine.dispose()
    path = write_lines(tmp_path / "one.jsonl", [json.dumps(make_battle().to_dict())])
    for args in (("import", str(path)), ("export", "--out", str(tmp_path / "x.jsonl"))):
        result = arena(*args, "--db", db)
        assert result.returncode == 1
        assert "schema version 7" in result.stderr and "Upgrade arena" in result.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_skip_invalid_reports_each_skipped_record(tmp_path: Path):
    bad = make_battle().to_dict()
    bad["mode"] = "blind"
    lines = [json.dumps(make_battle().to_dict()), json.dumps(bad), "not json"]
    path = write_lines(tmp_path / "some.jsonl", lines)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = arena("import", str(path), "--db", url, "--skip-invalid")
    assert result.returncode == 0, result.stderr
    assert f"skipped {path}:line 2: mode 'blind' is not one of" in result.stderr
    assert f"skipped {path}:line 3: malformed JSON" in result.stderr
    assert result.stdout.strip() == "read 3, inserted 1, already present 0, skipped 2"
    assert count(url) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "csv"), "choose one of jsonl, parquet, fastchat"),
        (("--mode", "blind"), "choose one of anonymous, named, replay"),
        (("--since", "yesterday"), "not an ISO 8601 date"),
        (("--status", "won"), "choose one of voted, abandoned, error, all"),
    ],
)
def test_bad_export_options_are_usage_errors(tmp_path: Path, args, message):
    result = arena("export", "--db", f"sqlite:///{tmp_path}/x.db", "--out", "x", *args)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.replace("│", " ").split())


def test_export_to_stdout_is_refused_rather_than_writing_a_file_named_dash(tmp_path: Path):
    result = arena("export", "--db", f"sqlite:///{tmp_path}/x.db", "--out", "-", cwd=tmp_path)
    assert result.returncode == 2
    assert "writing to stdout is not supported" in " ".join(result.stderr.replace("│", " ").split())
    assert not (tmp_path / "-").exists()


def test_unreachable_database_is_reported_without_a_traceback(tmp_path: Path):
    path = write_lines(tmp_path / "one.jsonl", [json.dumps(make_battle().to_dict())])
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/arena"
    result = arena("import", str(path), "--db", url)
    assert result.returncode == 1
    assert "cannot open the vote log at postgresql+psycopg://nobody:***@127.0.0.1:1" in (
        result.stderr
    )
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------ arena export --public
# That the command writes the very file the leaderboard job publishes is checked in
# test_snapshots.py (it needs the job and Redis); what a release holds, in
# test_public_release.py.


def public_config(tmp_path: Path, db: str) -> Path:
    config = tmp_path / "arena.toml"
    config.write_text(f'[arena]\ndb_url = "{db}"\ndata_dir = "{tmp_path / "data"}"\n')
    return config


def test_public_export_writes_the_release_and_its_manifest(db: str, tmp_path: Path):
    config = public_config(tmp_path, db)
    out = tmp_path / "release.jsonl"
    result = arena("export", "--public", "--config", str(config), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "wrote the public release of 3 battles (0 with text; left out: judge 0, named 0, "
        f"flagged 0, in revote pool 0) to {out} and {out}.manifest.json")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and all("rater_hash" not in row and "battle_id" not in row
                                  for row in rows)
    assert json.loads(Path(f"{out}.manifest.json").read_text())["rows"] == 3
    # The key of public ids was made in the data directory, private to its owner.
    assert (tmp_path / "data" / "release_key").stat().st_mode & 0o777 == 0o600
    again = tmp_path / "again.jsonl"
    assert arena("export", "--public", "--config", str(config), "--out", str(again)
                 ).returncode == 0
    assert again.read_bytes() == out.read_bytes()


def test_public_export_withholds_a_revoting_pool(db: str, tmp_path: Path):
    config = public_config(tmp_path, db)
    with BattleLog(db) as log:
        in_pool = next(iter(log.iter_battles(status="voted")))
    pool = write_lines(tmp_path / "pool.jsonl", [json.dumps(in_pool.to_dict())])
    out = tmp_path / "release.jsonl"
    result = arena("export", "--public", "--config", str(config), "--out", str(out),
                   "--withhold", str(pool))
    assert result.returncode == 0, result.stderr
    assert "of 2 battles" in result.stdout and "in revote pool 1" in result.stdout
    missing = arena("export", "--public", "--config", str(config), "--out", str(out),
                    "--withhold", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and "--withhold:" in missing.stderr
    assert "nope.jsonl: file not found" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--public", "--format", "parquet"), "drop --format"),
        (("--public", "--since", "2026-01-01", "--status", "all"), "drop --since, --status"),
        (("--public", "--mode", "named"), "drop --mode"),
        (("--withhold", "pool.jsonl"), "only the public release (--public) withholds"),
    ],
)
def test_public_export_options_that_cannot_apply_are_usage_errors(tmp_path: Path, args,
                                                                   message):
    result = arena("export", "--db", f"sqlite:///{tmp_path}/x.db", "--out", "x", *args)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.replace("│", " ").split())
