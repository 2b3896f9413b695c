"""`arena label` and arena.transfer.relabel: labelling a whole log, in SQL or in a JSONL file,
idempotently; labels reaching imports, exports and the public release."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from factories import make_battle

from arena.labels import LABELLER_VERSION
from arena.store import BattleLog
from arena.transfer.export import export_battles
from arena.transfer.fastchat import to_clean_battle
from arena.transfer.importer import import_file
from arena.transfer.public import write_release
from arena.transfer.relabel import HeuristicLabeller, relabel_log

DATA = Path(__file__).resolve().parent / "data"
PROMPTS = [
    ["Write a Rust function that parses an ISO 8601 date."],
    ["Résous l'équation 2x + 5 = 17."],
    ["你好！今天天气怎么样？", "明天呢？"],
]


def arena(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, timeout=120)


@pytest.fixture
def old_log(tmp_path: Path) -> str:
    """The version 1 vote log of tests/data (ten battles, never labelled), upgraded on open."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as raw:
        raw.executescript((DATA / "vote-log-v1.sqlite.sql").read_text())
    return f"sqlite:///{path}"


def test_arena_label_labels_an_old_log_once_and_again_only_when_forced(old_log: str):
    first = arena("label", "--db", old_log)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().startswith("read 10, labelled 10 (")
    assert first.stderr == ""  # no progress bar without a terminal
    with BattleLog(old_log) as log:
        battles = list(log.iter_battles())
    assert {b.labeller_version for b in battles} == {LABELLER_VERSION}
    assert all(f"lang:{b.language}" in b.labels for b in battles if b.turns)
    multi = next(b for b in battles if b.battle_id == "v1-battle-02")  # four turns
    assert "multi_turn" in multi.labels
    mixed = next(b for b in battles if b.battle_id == "v1-battle-03")  # German + Russian
    assert mixed.language in ("de", "ru")

    second = arena("label", "--db", old_log)
    assert second.stdout.strip() == (f"read 10, labelled 0 (0 changed), 10 already labelled "
                                     f"by {LABELLER_VERSION} (the vote log)")
    with BattleLog(old_log) as log:
        assert list(log.iter_battles()) == battles  # idempotent: nothing moved
    forced = arena("label", "--db", old_log, "--force")
    assert forced.stdout.strip().startswith("read 10, labelled 10 (0 changed)")


def test_relabelling_touches_only_the_label_columns(old_log: str):
    with BattleLog(old_log) as log:
        before = {b.battle_id: b for b in log.iter_battles()}
        report = relabel_log(log, HeuristicLabeller(), batch_size=3, progress=False)
        after = {b.battle_id: b for b in log.iter_battles()}
    assert (report.read, report.labelled) == (10, 10)
    for battle_id, old in before.items():
        new = after[battle_id]
        assert new.to_dict() | {"labels": [], "language": old.language,
                                "labeller_version": None} == old.to_dict()


def test_arena_label_rewrites_a_jsonl_export(tmp_path: Path):
    battles = [make_battle(prompts=prompts) for prompts in PROMPTS]
    path = tmp_path / "battles.jsonl"
    path.write_text("".join(json.dumps(b.to_dict()) + "\n" for b in battles))
    out = tmp_path / "labelled.jsonl"
    result = arena("label", "--file", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["battle_id"] for row in rows] == [b.battle_id for b in battles]
    assert "code" in rows[0]["labels"] and "lang:en" in rows[0]["labels"]
    assert {"lang:fr", "math"} <= set(rows[1]["labels"])
    assert {"lang:zh", "multi_turn"} <= set(rows[2]["labels"])
    assert all(row["labeller_version"] == LABELLER_VERSION for row in rows)
    assert json.loads(path.read_text().splitlines()[0])["labels"] == []  # input untouched


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "x.jsonl"], "--out goes with --file"),
        (["--llm-model", "judge"], "--llm-model needs --config"),
    ],
)
def test_arena_label_refuses_a_wrong_command_line_with_what_to_fix(args, message, tmp_path):
    result = arena("label", "--db", f"sqlite:///{tmp_path / 'x.db'}", *args)
    assert result.returncode == 2 and message in result.stderr


def test_arena_label_names_a_missing_file_and_an_unknown_model(tmp_path: Path):
    missing = arena("label", "--file", str(tmp_path / "none.jsonl"))
    assert missing.returncode == 1 and "none.jsonl: no such file" in missing.stderr
    config = tmp_path / "arena.toml"
    config.write_text('[[models]]\nname = "m1"\nbase_url = "http://127.0.0.1:9"\n')
    unknown = arena("label", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--config", str(config),
                    "--llm-model", "judge")
    assert unknown.returncode == 1 and "no model named 'judge'; known: m1" in unknown.stderr
    down = arena("label", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--config", str(config),
                 "--llm-model", "m1")
    assert down.returncode == 1 and "the labelling model 'm1' at http://127.0.0.1:9" in (
        down.stderr)


def test_a_fastchat_import_is_labelled_and_labels_reach_exports_and_the_release(tmp_path):
    battle = make_battle(prompts=["Schreibe eine Python-Funktion, die Primzahlen findet."])
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps([to_clean_battle(battle)]))
    with BattleLog(f"sqlite:///{tmp_path / 'arena.db'}") as log:
        assert import_file(clean, log).inserted == 1
        (imported,) = log.iter_battles()
        assert {"code", "lang:de"} <= set(imported.labels)
        assert imported.labeller_version == LABELLER_VERSION
        assert imported.language == battle.language  # FastChat's own tag is kept
        export_battles(log, "jsonl", tmp_path / "all.jsonl", progress=False)
        exported = json.loads((tmp_path / "all.jsonl").read_text())
        assert exported["labels"] == imported.labels
        export_battles(log, "parquet", tmp_path / "all.parquet", progress=False)
        (flat,) = pq.read_table(tmp_path / "all.parquet").to_pylist()
        assert (flat["labels"], flat["labeller_version"]) == (imported.labels, LABELLER_VERSION)
    labelled = make_battle(prompts=["What is 17 * 23?"], labels=["lang:en", "math"],
                           labeller_version="x-1", model_state_a="preview",
                           model_state_b="active", pair_probability=0.25)
    release = write_release([labelled], tmp_path / "release.jsonl", key=b"k" * 64)
    (row,) = [json.loads(line) for line in release.path.read_text().splitlines()]
    assert (row["labels"], row["labeller_version"]) == (["lang:en", "math"], "x-1")
    assert (row["model_state_a"], row["model_state_b"], row["pair_probability"]) == (
        "preview", "active", 0.25)
    generation = labelled.turns[0].generation_a
    assert row["timings_a"][0] == {
        "started_at": 0.0,
        "first_token_at": round((generation.first_token_at - generation.started_at)
                                .total_seconds(), 3),
        "finished_at": round((generation.finished_at - generation.started_at).total_seconds(), 3),
        "completion_tokens": generation.completion_tokens,
    }
    manifest = release.manifest()
    assert manifest["labels"] == {"lang:en": 1, "math": 1}
    assert manifest["labeller_versions"] == {"x-1": 1}
