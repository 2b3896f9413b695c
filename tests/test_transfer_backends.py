"""Import and export on every backend: a JSONL export imported into SQLite or PostgreSQL (rows
prepared by worker processes) and exported again gives the same files, byte for byte.

On SQLite both directions take the fast paths (prepared rows bound as tuples, exports built
from stored rows); on PostgreSQL the prepared rows go through SQLAlchemy's insert and the
exports through BattleRecords. Either way the bytes must not change.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from factories import make_battle, varied_battles

from arena.store import BattleLog
from arena.transfer.export import export_battles
from arena.transfer.importer import import_file


@pytest.fixture
def exported(tmp_path: Path) -> dict[str, Path]:
    """Every format of a SQLite log of varied battles."""
    battles = [*varied_battles(),
               make_battle(publish_consent=True, terms_version="2026-01", labels=["lang:en"],
                           labeller_version="labels-1", model_state_a="preview")]
    files = {fmt: tmp_path / f"source.{fmt}" for fmt in ("jsonl", "parquet", "fastchat")}
    with BattleLog(f"sqlite:///{tmp_path / 'source.db'}") as source:
        for battle in battles:
            source.record_battle(battle)
        for fmt, path in files.items():
            export_battles(source, fmt, path, status="all", progress=False)
    return files


def test_a_jsonl_import_exports_the_same_files_on_every_backend(
    battle_log_url: str, exported: dict[str, Path], tmp_path: Path
):
    with BattleLog(battle_log_url) as log:
        report = import_file(exported["jsonl"], log, workers=2, batch_size=4)
        assert report.inserted == report.read == 12
        again = {fmt: tmp_path / f"again.{fmt}" for fmt in exported}
        for fmt, path in again.items():
            export_battles(log, fmt, path, status="all", progress=False)
    assert again["jsonl"].read_bytes() == exported["jsonl"].read_bytes()
    assert again["fastchat"].read_bytes() == exported["fastchat"].read_bytes()
    assert pq.read_table(again["parquet"]).equals(pq.read_table(exported["parquet"]))
