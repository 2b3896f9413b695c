"""`arena import` of Parquet files: our own export (back into the same table) and FastChat-style
tables (read like the clean_battle JSON they mirror), and the refusals with their reasons."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import make_battle, varied_battles

from arena.store import BattleLog
from arena.transfer.export import export_battles
from arena.transfer.fastchat import to_clean_battle
from arena.transfer.importer import ImportFailed, import_file

TOKENS = ["prompt_tokens_a", "completion_tokens_a", "prompt_tokens_b", "completion_tokens_b"]


def log_of(tmp_path: Path, name: str, battles=()) -> BattleLog:
    log = BattleLog(f"sqlite:///{tmp_path / name}")
    for battle in battles:
        log.record_battle(battle)
    return log


def test_our_parquet_export_imports_back_into_the_same_table(tmp_path: Path):
    """Every column comes back; token sums where the battle has one turn (a multi-turn row's
    sums cannot be split into turns, so they come back null)."""
    battles = varied_battles()
    battles.append(make_battle(turn_count=1, publish_consent=True, terms_version="2026-01",
                               labels=["lang:en"], labeller_version="labels-1"))
    first, second = tmp_path / "first.parquet", tmp_path / "second.parquet"
    with log_of(tmp_path, "source.db", battles) as source:
        export_battles(source, "parquet", first, status="all", progress=False)
    with log_of(tmp_path, "copy.db") as copy:
        report = import_file(first, copy)
        assert (report.read, report.inserted, report.skipped) == (len(battles), len(battles), 0)
        export_battles(copy, "parquet", second, status="all", progress=False)
        assert import_file(first, copy).already_present == len(battles)
    before, after = pq.read_table(first), pq.read_table(second)
    assert after.drop_columns(TOKENS).equals(before.drop_columns(TOKENS))
    for old, new in zip(before.to_pylist(), after.to_pylist(), strict=True):
        expected = [old[name] if old["turn"] == 1 else None for name in TOKENS]
        assert [new[name] for name in TOKENS] == expected
    assert any(row["turn"] == 1 and row["prompt_tokens_a"] for row in after.to_pylist())


def test_a_judge_verdict_row_is_refused_with_the_reason(tmp_path: Path):
    judged = make_battle(turn_count=1)
    verdict = replace(
        judged, battle_id="verdict-1", mode="judge", replay_of=judged.battle_id,
        rater_hash="judge:tiny-a",
        judge={"model": "tiny-a", "template": "t", "template_hash": "sha256:0f",
               "order": "original", "raw_output": "A", "choice_logprobs": None,
               "generation": judged.turns[0].generation_a.to_dict(), "panel": None})
    out = tmp_path / "with-verdict.parquet"
    with log_of(tmp_path, "source.db", [judged, verdict]) as source:
        export_battles(source, "parquet", out, status="all", progress=False)
    with log_of(tmp_path, "copy.db") as copy:
        with pytest.raises(ImportFailed) as raised:
            import_file(out, copy)
        assert str(raised.value) == (
            f"{out}:row 1: a judge verdict (mode 'judge') cannot be rebuilt from Parquet: its "
            "template and raw output are not in the table; import the JSONL export instead")
        assert copy.count_battles() == 0
        report = import_file(out, copy, skip_invalid=True)
        assert (report.inserted, report.skipped) == (1, 1)


def test_a_fastchat_style_table_imports_like_the_clean_battle_json(tmp_path: Path):
    """LMArena's published tables hold clean_battle columns, conversations as structs."""
    cleans = [to_clean_battle(make_battle(turn_count=2)) for _ in range(3)]
    del cleans[1]["question_id"]  # gets the derived id, in both files
    table = pa.Table.from_pylist([{**c, "question_id": c.get("question_id")} for c in cleans])
    assert pa.types.is_struct(table.schema.field("conversation_a").type.value_type)
    pq.write_table(table, tmp_path / "clean.parquet")
    (tmp_path / "clean.json").write_text(json.dumps(cleans))
    with log_of(tmp_path, "from-parquet.db") as by_parquet, \
            log_of(tmp_path, "from-json.db") as by_json:
        assert import_file(tmp_path / "clean.parquet", by_parquet).inserted == 3
        assert import_file(tmp_path / "clean.json", by_json).inserted == 3
        assert list(by_parquet.iter_battles()) == list(by_json.iter_battles())


def test_a_damaged_parquet_file_is_refused(tmp_path: Path):
    path = tmp_path / "damaged.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 100)
    with log_of(tmp_path, "log.db") as log:
        with pytest.raises(ImportFailed, match=r"damaged.parquet: not a readable Parquet file"):
            import_file(path, log)


def test_the_command_imports_parquet_quietly_in_a_script(tmp_path: Path):
    battles = [make_battle(turn_count=1) for _ in range(4)]
    out = tmp_path / "battles.parquet"
    with log_of(tmp_path, "source.db", battles) as source:
        export_battles(source, "parquet", out, progress=False)
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    result = subprocess.run([sys.executable, "-m", "arena", "import", str(out), "--db", url],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "read 4, inserted 4, already present 0, skipped 0"
    assert result.stderr == ""  # no progress bar outside a terminal
