"""The fast paths of import and export give exactly what the record paths give.

On SQLite an export builds each format from the stored rows (arena.store.bulk.iter_raw,
arena.transfer.raw) instead of reading BattleRecords; an import parses and checks each record
once and parks its prepared rows (arena.store.bulk.RowSpool). These tests write every shape of
battle the log keeps both ways and compare the bytes, and check the import's progress bars.
How fast they are is measured by benchmarks/transfer_speed.py, not here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from factories import make_battle, varied_battles

from arena.record import BattleRecord
from arena.store import BattleLog
from arena.store.bulk import RowSpool, iter_raw, prepare
from arena.transfer.export import WRITERS, export_battles
from arena.transfer.importer import ImportFailed, import_file


def every_shape() -> list[BattleRecord]:
    """`varied_battles()` plus what they lack: consent answers, labels and model states, a
    Regenerate's discarded turn with a reason, a judge verdict, times without microseconds,
    an escaped control character and a float side of every JSON column."""
    regenerated = make_battle(turn_count=2)
    verdict_of = make_battle(turn_count=1)
    whole_second = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    return [
        *varied_battles(),
        make_battle(publish_consent=True, terms_version="2026-01", labels=["code", "lang:en"],
                    labeller_version="labels-1", model_state_a="preview", model_state_b="active"),
        make_battle(publish_consent=False, terms_version="2026-01"),
        replace(regenerated, discarded_turns=[replace(make_battle(turn_count=1).turns[0], index=1)],
                reason_tags=["better written", "more accurate"], reason_comment="Clearer ✓"),
        replace(verdict_of, battle_id="verdict-1", mode="judge", replay_of="battle-000001",
                rater_hash="judge:tiny-a",
                judge={"model": "tiny-a", "template": "pairwise-v1", "template_hash": "sha256:0f",
                       "order": "swapped", "raw_output": "A",
                       "choice_logprobs": {"A": -0.1, "B": -2.4},
                       "generation": verdict_of.turns[0].generation_a.to_dict(), "panel": None}),
        make_battle(start=whole_second, started_at=whole_second, ended_at=whole_second,
                    voted_at=whole_second, prompts=["tab\there \x01 bell \x07 and \\u0041"]),
    ]


@pytest.fixture
def shapes_log(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'shapes.db'}"
    with BattleLog(url) as log:
        for battle in every_shape():
            log.record_battle(battle)
        yield log


def write_both_ways(log: BattleLog, fmt: str, folder: Path) -> tuple[Path, Path]:
    """The export of every battle written from records and from raw rows."""
    by_record, by_raw = folder / f"records.{fmt}", folder / f"raw.{fmt}"
    writer = WRITERS[fmt](by_record)
    for record in log.iter_battles():
        writer.write(record)
    writer.close()
    writer = WRITERS[fmt](by_raw)
    for batch in iter_raw(log, batch_size=4, need=writer.raw_need):  # several batches
        writer.write_raw(batch)
    writer.close()
    return by_record, by_raw


@pytest.mark.parametrize("fmt", ["jsonl", "fastchat"])
def test_json_exports_from_raw_rows_are_the_bytes_of_the_record_path(
    shapes_log: BattleLog, tmp_path: Path, fmt: str
):
    by_record, by_raw = write_both_ways(shapes_log, fmt, tmp_path)
    assert by_raw.read_bytes() == by_record.read_bytes()
    assert len(by_raw.read_bytes()) > 1_000_000  # the 1 MB answer is in it


def test_parquet_export_from_raw_rows_is_the_table_of_the_record_path(
    shapes_log: BattleLog, tmp_path: Path
):
    by_record, by_raw = write_both_ways(shapes_log, "parquet", tmp_path)
    raw_table, record_table = pq.read_table(by_raw), pq.read_table(by_record)
    assert raw_table.num_rows == len(every_shape())
    assert raw_table.equals(record_table)
    unicode_row = next(row for row in raw_table.to_pylist() if "量子" in row["conversation_a"])
    assert "\\u" not in unicode_row["conversation_a"]  # written unescaped, like the records


def test_jsonl_export_gives_back_every_field_of_every_shape(shapes_log: BattleLog,
                                                            tmp_path: Path):
    out = tmp_path / "all.jsonl"
    assert export_battles(shapes_log, "jsonl", out, progress=False) == len(every_shape())
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    stored = {battle.battle_id: battle for battle in shapes_log.iter_battles()}
    assert [BattleRecord.from_dict(line) for line in lines] == list(stored.values())


def test_a_round_trip_through_jsonl_keeps_every_shape(shapes_log: BattleLog, tmp_path: Path):
    out = tmp_path / "all.jsonl"
    export_battles(shapes_log, "jsonl", out, progress=False)
    with BattleLog(f"sqlite:///{tmp_path / 'copy.db'}") as copy:
        report = import_file(out, copy, batch_size=3)
        assert (report.read, report.inserted, report.already_present) == (
            len(every_shape()), len(every_shape()), 0)
        assert list(copy.iter_battles()) == list(shapes_log.iter_battles())


def test_the_spool_gives_back_every_prepared_battle_in_order():
    battles = [make_battle(turn_count=1) for _ in range(7)]
    with RowSpool(chunk=2) as spool:
        for battle in battles:
            spool.add(prepare(battle, sqlite=True))
        sizes = [len(batch) for batch in spool.batches(3)]
        ids = [prepared.battle_id for batch in spool.batches(3) for prepared in batch]
    assert sizes == [3, 3, 1]
    assert ids == [battle.battle_id for battle in battles]


def test_import_shows_progress_only_when_asked_or_on_a_terminal(tmp_path: Path, capsys):
    path = tmp_path / "three.jsonl"
    path.write_text("".join(json.dumps(make_battle().to_dict()) + "\n" for _ in range(3)))
    with BattleLog(f"sqlite:///{tmp_path / 'log.db'}") as log:
        import_file(path, log)  # stderr is not a terminal under pytest
        assert capsys.readouterr().err == ""
        path.write_text("".join(json.dumps(make_battle().to_dict()) + "\n" for _ in range(3)))
        import_file(path, log, progress=True)
    shown = capsys.readouterr().err
    assert "reading" in shown and "/3 " in shown.split("writing")[1]  # a bar of 3 battles


def test_workers_prepare_the_same_import_and_stop_at_the_same_record(tmp_path: Path):
    """Two worker processes: the same battles in the same order, the same first invalid
    record, the same skipped ones in the same order, as one process."""
    battles = [make_battle(turn_count=1) for _ in range(600)]  # three chunks of 256
    lines = [json.dumps(battle.to_dict()) for battle in battles]
    lines[300] = lines[300].replace('"winner": "model_a"', '"winner": "left"')
    lines[550] = "{not json"
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines) + "\n")
    results = {}
    for workers in (1, 2):
        with BattleLog(f"sqlite:///{tmp_path / f'log-{workers}.db'}") as log:
            with pytest.raises(ImportFailed) as raised:
                import_file(path, log, workers=workers)
            skipped: list[str] = []
            report = import_file(path, log, workers=workers, skip_invalid=True,
                                 on_skip=skipped.append)
            results[workers] = (str(raised.value), report, skipped,
                                [battle.battle_id for battle in log.iter_battles()])
    assert results[2] == results[1]
    first, report, skipped, ids = results[2]
    assert first.startswith(f"{path}:line 301: winner 'left' is not one of")
    assert (report.read, report.inserted, report.skipped) == (600, 598, 2)
    assert [problem.split(": ")[0] for problem in skipped] == [f"{path}:line 301",
                                                               f"{path}:line 551"]
    assert ids == [b.battle_id for i, b in enumerate(battles) if i not in (300, 550)]
