"""Export and import when things go wrong: a write that fails mid-way, an SQL error mid-import,
files that are not what they claim, and every FastChat field a record can get wrong.

Failures are real: a file-size limit (RLIMIT_FSIZE) stops an export's writes mid-file, and an
SQLite trigger refuses one battle of an import. Each test checks what is left on disk or in the
log, and the message a user reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from factories import make_battle, varied_battles
from sqlalchemy import create_engine, text

from arena.store import BattleLog
from arena.transfer.fastchat import to_clean_battle
from arena.transfer.importer import ImportFailed, import_file

ROOT = Path(__file__).resolve().parents[1]


def arena(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True, text=True,
                          check=False, timeout=300)


@pytest.fixture
def varied_log(tmp_path: Path) -> str:
    """A SQLite log of `varied_battles()` (one holds a 1 MB answer): its URL."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    with BattleLog(url) as log:
        for battle in varied_battles():
            log.record_battle(battle)
    return url


# ---------------------------------------------------------------------------------- export
EXPORT_UNDER_A_SIZE_LIMIT = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from arena.store import BattleLog
    from arena.transfer.export import export_battles
    # Past the limit a write fails with EFBIG instead of the process being killed.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    with BattleLog(sys.argv[1]) as log:
        log.ping()  # the database is open before the limit applies
        limit = int(sys.argv[4])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        try:
            export_battles(log, sys.argv[2], Path(sys.argv[3]), status="all")
        except OSError as failed:
            print("OSError", failed.errno)
""")


# Parquet compresses the 1 MB answer (one letter repeated) to little: a lower limit for it.
@pytest.mark.parametrize(("fmt", "limit"), [("jsonl", 200_000), ("fastchat", 200_000),
                                            ("parquet", 2_000)])
def test_an_export_that_fails_mid_write_leaves_the_old_file_and_no_part(
    varied_log: str, tmp_path: Path, fmt: str, limit: int
):
    """A file-size limit is passed part-way through the export (the 1 MB answer): the error
    reaches the caller, the file already at `out` is untouched, and no temporary file stays."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / f"battles.{fmt}"
    out.write_text("the previous export\n")
    ran = subprocess.run(
        [sys.executable, "-c", EXPORT_UNDER_A_SIZE_LIMIT, varied_log, fmt, str(out), str(limit)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert ran.stdout.strip() == "OSError 27", ran.stderr  # 27: EFBIG, File too large
    assert out.read_text() == "the previous export\n"
    assert [path.name for path in out_dir.iterdir()] == [out.name]


def test_the_command_reports_a_failed_write_and_leaves_no_file(varied_log: str, tmp_path: Path):
    """`--out` under a regular file: the folder cannot be made, the user is told why."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = arena("export", "--db", varied_log, "--out", str(blocker / "battles.jsonl"))
    assert result.returncode == 1
    wanted = blocker / "battles.jsonl"
    assert result.stderr.strip() == f"error: cannot write {wanted}: File exists"
    assert blocker.read_text() == ""


def test_the_command_reports_a_file_too_large(varied_log: str, tmp_path: Path):
    out = tmp_path / "battles.jsonl"
    limited = ("import resource, signal, runpy, sys;"
               "signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
               "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000));"
               "sys.argv = ['arena', *sys.argv[1:]];"
               "runpy.run_module('arena', run_name='__main__')")
    result = subprocess.run(
        [sys.executable, "-c", limited, "export", "--db", varied_log, "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"error: cannot write {out}: File too large"
    assert list(tmp_path.glob("*battles.jsonl*")) == []


# ---------------------------------------------------------------------------------- import
def write_jsonl(path: Path, battles: list) -> Path:
    path.write_text("".join(json.dumps(b.to_dict()) + "\n" for b in battles), encoding="utf-8")
    return path


def refuse_battle(url: str, battle_id: str) -> None:
    """Make the database itself refuse to store `battle_id` (a trigger, not a check of ours)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TRIGGER refuse BEFORE INSERT ON battle "
            f"WHEN NEW.battle_id = '{battle_id}' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"))
    engine.dispose()


def drop_refusal(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER refuse"))
    engine.dispose()


def test_an_import_larger_than_a_batch_writes_every_batch_once(tmp_path: Path):
    battles = [make_battle(turn_count=1) for _ in range(7)]
    path = write_jsonl(tmp_path / "seven.jsonl", battles)
    with BattleLog(f"sqlite:///{tmp_path / 'log.db'}") as log:
        report = import_file(path, log, batch_size=3)
        assert (report.read, report.inserted, report.already_present) == (7, 7, 0)
        assert [b.battle_id for b in log.iter_battles()] == [b.battle_id for b in battles]
        again = import_file(path, log, batch_size=3)
        assert (again.read, again.inserted, again.already_present) == (7, 0, 7)


def test_an_sql_failure_mid_import_keeps_the_batches_before_it(tmp_path: Path):
    """Batches are transactions: the ones committed before the failing batch stay, the failing
    one leaves nothing, and the same import run again finishes the job."""
    battles = [make_battle(turn_count=1) for _ in range(7)]
    path = write_jsonl(tmp_path / "seven.jsonl", battles)
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with BattleLog(url) as log:
        log.ping()  # creates the schema
    refuse_battle(url, battles[4].battle_id)  # in the second batch of three
    with BattleLog(url) as log:
        with pytest.raises(Exception, match="refused by the test trigger"):
            import_file(path, log, batch_size=3)
        assert [b.battle_id for b in log.iter_battles()] == [b.battle_id for b in battles[:3]]
    drop_refusal(url)
    with BattleLog(url) as log:
        report = import_file(path, log, batch_size=3)
        assert (report.inserted, report.already_present) == (4, 3)
        assert log.count_battles() == 7


def test_the_command_says_what_an_sql_failure_mid_import_kept(tmp_path: Path):
    """`arena import` writes batches of 500: a failure in the second keeps the first 500 and
    tells the user to run the import again."""
    battles = [make_battle(turn_count=1, outputs=["ok"]) for _ in range(520)]
    path = write_jsonl(tmp_path / "many.jsonl", battles)
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with BattleLog(url) as log:
        log.ping()
    refuse_battle(url, battles[510].battle_id)
    result = arena("import", str(path), "--db", url)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: writing to the vote log failed: (sqlite3.IntegrityError) refused by the test "
        "trigger",
        "batches written before the failure are kept; run the same import again to finish (it "
        "skips what is already stored)",
    ]
    with BattleLog(url) as log:
        assert log.count_battles() == 500
    drop_refusal(url)
    again = arena("import", str(path), "--db", url)
    assert again.stdout.strip() == "read 520, inserted 20, already present 500, skipped 0"


@pytest.mark.parametrize("records_before", [1, 60])
def test_a_file_that_is_not_utf8_is_refused_with_the_offset_of_the_bad_byte(
    tmp_path: Path, records_before: int
):
    """The offset is the file's, also when the bad byte lies past the first chunk the reader
    decoded (60 records are about 300 kB)."""
    path = tmp_path / "latin1.jsonl"
    good = b"".join(json.dumps(make_battle().to_dict()).encode() + b"\n"
                    for _ in range(records_before))
    path.write_bytes(good + '{"note": "café"}\n'.encode("latin-1"))
    with BattleLog(f"sqlite:///{tmp_path / 'log.db'}") as log:
        with pytest.raises(ImportFailed) as raised:
            import_file(path, log)
        offset = len(good) + len(b'{"note": "caf')
        assert str(raised.value) == (
            f"{path}: not UTF-8 text (invalid continuation byte at byte {offset})")
        assert log.count_battles() == 0


def test_a_file_cut_inside_a_character_is_refused_with_its_offset(tmp_path: Path):
    path = tmp_path / "cut.jsonl"
    good = json.dumps(make_battle().to_dict()).encode() + b"\n"
    path.write_bytes(good + "{\"note\": \"€".encode()[:-1])
    with BattleLog(f"sqlite:///{tmp_path / 'log.db'}") as log:
        with pytest.raises(ImportFailed) as raised:
            import_file(path, log)
        assert str(raised.value) == (
            f"{path}: not UTF-8 text (unexpected end of data at byte {len(good) + 10})")


def test_a_directory_is_refused(tmp_path: Path):
    with BattleLog(f"sqlite:///{tmp_path / 'log.db'}") as log:
        with pytest.raises(ImportFailed) as raised:
            import_file(tmp_path, log)
        assert str(raised.value) == f"{tmp_path}: not a file"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('[{"model_a": "a", "model_b": "b", "winner": "tie", "tstamp": 1}] extra',
         "index 1: malformed JSON: text after the closing ']'"),
        ('[{"model_a": "a", "model_b": "b", "winner": "tie", "tstamp": 1}]\n[]',
         "index 1: malformed JSON: text after the closing ']'"),
        ('{"model_a": "a", "model_b": "b", "winner": "tie", "tstamp": 1} extra\n',
         "line 1: malformed JSON: Extra data (column 64)"),
    ],
)  # fmt: skip
def test_text_after_the_json_is_refused(tmp_path: Path, content: str, reason: str):
    path = tmp_path / "trailing.json"
    path.write_text(content, encoding="utf-8")
    with BattleLog(f"sqlite:///{tmp_path / 'log.db'}") as log:
        with pytest.raises(ImportFailed) as raised:
            import_file(path, log)
        assert str(raised.value) == f"{path}:{reason}"
        assert log.count_battles() == 0


def clean_battle(**changes) -> dict:
    """A valid FastChat clean_battle record with `changes` applied (None removes a key)."""
    record = to_clean_battle(make_battle(turn_count=2))
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


USER = {"role": "user", "content": "hi"}
ANSWER = {"role": "assistant", "content": "hello"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model_a": ""}, "model_a must be a non-empty string"),
        ({"model_b": 7}, "model_b must be a non-empty string"),
        ({"winner": "left"},
         "winner 'left' is not one of 'model_a', 'model_b', 'tie', 'tie (bothbad)'"),
        ({"winner": None}, "winner None is not one of"),
        ({"tstamp": True}, "tstamp must be a number (unix seconds)"),
        ({"tstamp": "1700000000"}, "tstamp must be a number (unix seconds)"),
        ({"tstamp": 1e20}, "tstamp 1e+20 is not a valid time"),
        ({"question_id": [1]}, "question_id must be a string or an integer"),
        ({"judge": 3}, "judge must be a string"),
        ({"anony": "yes"}, "anony must be true or false"),
        ({"language": ["en"]}, "language must be a string"),
        ({"conversation_a": "hi"}, "conversation_a must be a list of messages"),
        ({"conversation_b": ["hi"]}, "conversation_b[0] must be an object with a string 'role'"),
        ({"conversation_a": [{"role": "user", "content": 1}]},
         "conversation_a[0].content must be a string"),
        ({"conversation_b": [], "conversation_a": [USER, ANSWER]},
         "only one of conversation_a and conversation_b is given"),
        ({"conversation_a": [USER, ANSWER],
          "conversation_b": [{"role": "user", "content": "bye"}, ANSWER]},
         "conversation_a and conversation_b have different user prompts"),
    ],
)  # fmt: skip
def test_each_bad_fastchat_field_is_refused_with_its_reason(tmp_path: Path, changes, message):
    """The record is otherwise valid (the last case without changes imports), so the message
    comes from the one field's check."""
    path = tmp_path / "clean_battle.json"
    record = clean_battle()
    record.update(changes)
    path.write_text(json.dumps([clean_battle(), record]), encoding="utf-8")
    with BattleLog(f"sqlite:///{tmp_path / 'log.db'}") as log:
        with pytest.raises(ImportFailed) as raised:
            import_file(path, log)
        assert str(raised.value).startswith(f"{path}:index 1: {message}")
        assert log.count_battles() == 0


def test_the_valid_clean_battle_used_above_imports(tmp_path: Path):
    path = tmp_path / "clean_battle.json"
    path.write_text(json.dumps([clean_battle(), clean_battle()]), encoding="utf-8")
    with BattleLog(f"sqlite:///{tmp_path / 'log.db'}") as log:
        report = import_file(path, log)
        assert (report.read, report.inserted) == (2, 2)
