"""Export and import round trips in every format, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from factories import make_battle, varied_battles

import arena.transfer.importer
from arena.store import BattleLog
from arena.transfer.export import export_battles
from arena.transfer.fastchat import to_clean_battle
from arena.transfer.importer import ImportFailed, import_file
from serving.records import GenerationRecord

FASTCHAT_KEYS = {
    "question_id", "model_a", "model_b", "winner", "judge", "conversation_a",
    "conversation_b", "turn", "anony", "language", "tstamp",
}  # fmt: skip


@pytest.fixture
def filled(battle_log_url: str):
    """A log holding one battle of every shape, and those battles in start order."""
    battles = varied_battles()
    with BattleLog(battle_log_url) as log:
        for battle in battles:
            log.record_battle(battle)
        yield log, sorted(battles, key=lambda b: (b.started_at, b.battle_id))


def fresh_log(tmp_path: Path, name: str = "copy") -> BattleLog:
    return BattleLog(f"sqlite:///{tmp_path / name / 'arena.db'}")


def test_jsonl_round_trip_keeps_every_field_of_every_battle(filled, tmp_path: Path):
    log, battles = filled
    out = tmp_path / "battles.jsonl"
    assert export_battles(log, "jsonl", out) == len(battles)  # every status by default
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [b.to_dict() for b in battles]

    with fresh_log(tmp_path) as copy:
        report = import_file(out, copy)
        assert (report.read, report.inserted, report.already_present, report.skipped) == (
            len(battles), len(battles), 0, 0,
        )  # fmt: skip
        assert list(copy.iter_battles()) == battles
        assert [b.to_dict() for b in copy.iter_battles()] == [b.to_dict() for b in battles]
        again = import_file(out, copy)
        assert (again.inserted, again.already_present) == (0, len(battles))
        assert copy.count_battles() == len(battles)


def test_jsonl_import_into_the_exporting_database_adds_nothing(filled, tmp_path: Path):
    log, battles = filled
    out = tmp_path / "battles.jsonl"
    export_battles(log, "jsonl", out)
    report = import_file(out, log)
    assert (report.inserted, report.already_present) == (0, len(battles))


def test_parquet_has_one_flat_row_per_voted_battle(filled, tmp_path: Path):
    log, battles = filled
    out = tmp_path / "battles.parquet"
    voted = [b for b in battles if b.status == "voted"]
    assert export_battles(log, "parquet", out) == len(voted)
    table = pq.read_table(out)
    rows = table.to_pylist()
    assert [r["battle_id"] for r in rows] == [b.battle_id for b in voted]
    for row, battle in zip(rows, voted, strict=True):
        assert (row["model_a"], row["model_b"], row["winner"]) == (
            battle.model_a, battle.model_b, battle.winner,
        )  # fmt: skip
        assert row["judge"] == battle.rater_hash
        assert row["tstamp"] == battle.voted_at.timestamp()
        assert row["turn"] == len(battle.turns)
        assert row["anony"] == (battle.mode == "anonymous")
        assert row["flags"] == battle.flags
        assert row["prompt_tokens_a"] == (
            sum(t.generation_a.prompt_tokens for t in battle.turns) if battle.turns else None
        )
        assert row["completion_tokens_b"] == (
            sum(t.generation_b.completion_tokens for t in battle.turns) if battle.turns else None
        )
        assert json.loads(row["conversation_a"]) == battle.conversation_a
        assert json.loads(row["conversation_b"]) == battle.conversation_b
        assert row["started_at"] == battle.started_at
        assert row["pair_probability"] == battle.pair_probability
        assert row["category"] == battle.category


def test_parquet_of_every_status_counts_tokens_of_failed_sides(filled, tmp_path: Path):
    log, battles = filled
    out = tmp_path / "all.parquet"
    assert export_battles(log, "parquet", out, status="all") == len(battles)
    rows = {r["battle_id"]: r for r in pq.read_table(out).to_pylist()}
    failed = next(b for b in battles if b.status == "error")
    row = rows[failed.battle_id]
    assert row["winner"] is None and row["status"] == "error"
    assert row["tstamp"] == failed.ended_at.timestamp()
    known = [t.generation_b.completion_tokens for t in failed.turns[:-1]]
    assert row["completion_tokens_b"] == sum(known)


def test_fastchat_export_is_a_clean_battle_list(filled, tmp_path: Path):
    log, battles = filled
    out = tmp_path / "clean_battle.json"
    voted = [b for b in battles if b.status == "voted"]
    assert export_battles(log, "fastchat", out) == len(voted)
    items = json.loads(out.read_text(encoding="utf-8"))
    assert [set(item) for item in items] == [FASTCHAT_KEYS] * len(voted)
    for item, battle in zip(items, voted, strict=True):
        assert item == to_clean_battle(battle)
        assert all(m["role"] != "system" for m in item["conversation_a"] + item["conversation_b"])
        assert item["turn"] == len(battle.turns)
        assert item["anony"] is (battle.mode == "anonymous")


def test_fastchat_round_trip_reproduces_the_clean_battle_file(filled, tmp_path: Path):
    log, _ = filled
    first = tmp_path / "first.json"
    export_battles(log, "fastchat", first)
    with fresh_log(tmp_path) as copy:
        report = import_file(first, copy)
        assert report.inserted == report.read > 0
        second = tmp_path / "second.json"
        export_battles(copy, "fastchat", second)
        assert json.loads(second.read_text()) == json.loads(first.read_text())
        imported = next(copy.iter_battles())
        assert imported.pair_policy == "unknown" and imported.app_version == "fastchat"
        assert imported.turns and imported.turns[0].generation_a.params == {}
        assert import_file(first, copy).already_present == report.read


def test_fastchat_without_conversations_gets_stable_derived_ids(tmp_path: Path):
    records = [
        {"model_a": "a", "model_b": "b", "winner": "model_b", "judge": "u1", "turn": 1,
         "anony": True, "language": "English", "tstamp": 1712000000.5},
        {"model_a": "b", "model_b": "c", "winner": "tie (bothbad)", "judge": "u2", "turn": 3,
         "anony": False, "language": "German", "tstamp": 1712000100},
    ]  # fmt: skip
    path = tmp_path / "public.json"
    path.write_text(json.dumps(records, indent=2))
    with fresh_log(tmp_path) as log:
        assert import_file(path, log).inserted == 2
        assert import_file(path, log).already_present == 2
        first, second = log.iter_battles()
        assert first.battle_id.startswith("fastchat-") and first.turns == []
        assert (first.mode, second.mode) == ("anonymous", "named")
        assert second.winner == "tie (bothbad)" and second.rater_hash == "u2"
        assert first.voted_at == datetime(2024, 4, 1, 19, 33, 20, 500000, tzinfo=UTC)


def test_fastchat_records_in_jsonl_are_read_too(tmp_path: Path):
    battle = make_battle(status="voted")
    path = tmp_path / "clean.jsonl"
    path.write_text(json.dumps(to_clean_battle(battle)) + "\n")
    with fresh_log(tmp_path) as log:
        assert import_file(path, log).inserted == 1
        assert log.get_battle(battle.battle_id).winner == battle.winner


def test_long_json_list_is_read_across_many_small_chunks(filled, tmp_path: Path, monkeypatch):
    log, _ = filled
    out = tmp_path / "clean.json"
    exported = export_battles(log, "fastchat", out)
    monkeypatch.setattr(arena.transfer.importer, "_CHUNK", 7)  # elements straddle every boundary
    with fresh_log(tmp_path) as copy:
        assert import_file(out, copy).inserted == exported


def test_export_filters_by_since_and_mode(battle_log_url: str, tmp_path: Path):
    start = datetime(2026, 2, 1, tzinfo=UTC)
    battles = [
        make_battle(start=start + timedelta(days=i), mode="named" if i % 2 else "anonymous")
        for i in range(6)
    ]
    with BattleLog(battle_log_url) as log:
        for battle in battles:
            log.record_battle(battle)
        out = tmp_path / "some.jsonl"
        written = export_battles(log, "jsonl", out, since=start + timedelta(days=2), mode="named")
        ids = [json.loads(line)["battle_id"] for line in out.read_text().splitlines()]
    assert ids == [battles[3].battle_id, battles[5].battle_id]
    assert written == 2


def test_invalid_record_stops_the_import_before_anything_is_written(tmp_path: Path):
    good = [make_battle().to_dict() for _ in range(3)]
    bad = make_battle().to_dict()
    bad["winner"] = "left"
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [good[0], good[1], bad, good[2]]) + "\n")
    with fresh_log(tmp_path) as log:
        with pytest.raises(ImportFailed, match=r"mixed.jsonl:line 3: winner 'left' is not one"):
            import_file(path, log)
        assert log.count_battles() == 0

        skipped: list[str] = []
        report = import_file(path, log, skip_invalid=True, on_skip=skipped.append)
        assert (report.read, report.inserted, report.skipped) == (4, 3, 1)
        assert len(skipped) == 1 and "line 3: winner 'left'" in skipped[0]
        assert not log.has_battle(bad["battle_id"])


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('[{"model_a": "a", "model_b": "b", "winner": "model_a", "tstamp": 1}, {"model_a": ]',
         "index 1: malformed JSON"),
        ('[{"model_a": "a", "model_b": "b", "winner": "model_a", "tstamp": 1}',
         "index 1: malformed JSON: expected ',' or ']', found end of file"),
        ('[{"model_a": "a", "model_b": "b", "winner": "A", "tstamp": 1}]',
         "index 0: winner 'A' is not one of"),
        ('[{"model_a": "a", "model_b": "b", "winner": "tie"}]',
         "index 0: tstamp must be a number"),
        ('[1]', "index 0: expected a JSON object, got int"),
        ('{"battle_id": "x"}\n', "line 1: missing field 'mode'"),
        ('{"battle_id": "x", "colour": 1}\n', "line 1: unknown field(s): colour"),
        ('oops', "not JSON Lines or a JSON list"),
    ],
)  # fmt: skip
def test_bad_files_name_the_place_and_the_reason(tmp_path: Path, content: str, where: str):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with fresh_log(tmp_path) as log:
        with pytest.raises(ImportFailed) as raised:
            import_file(path, log)
        assert where in str(raised.value)
        assert str(raised.value).startswith(str(path))
        assert log.count_battles() == 0


def test_files_with_a_byte_order_mark_are_read(tmp_path: Path):
    battle = make_battle()
    path = tmp_path / "bom.jsonl"
    path.write_text(json.dumps(battle.to_dict()) + "\n", encoding="utf-8-sig")
    with fresh_log(tmp_path) as log:
        assert import_file(path, log).inserted == 1
        assert log.get_battle(battle.battle_id) == battle


def test_a_generation_dict_holds_every_field_and_shares_nothing_with_the_record():
    generations = [g for battle in varied_battles() for turn in battle.turns
                   for g in (turn.generation_a, turn.generation_b)]
    assert generations
    for generation in generations:
        data = generation.to_dict()
        expected = dataclasses.asdict(generation)
        for moment in ("started_at", "first_token_at", "finished_at"):
            value = expected[moment]
            expected[moment] = value.isoformat() if value is not None else None
        assert data == expected
        assert GenerationRecord.from_dict(data) == generation
        before = dataclasses.asdict(generation)
        for message in data["messages"]:
            message["content"] = "changed"
        data["params"]["changed"] = True
        data["extra"]["changed"] = True
        assert dataclasses.asdict(generation) == before


# ----------------------------------------------------------------------- the rater's consent
def consenting_battles() -> list:
    """Three battles: the rater agreed, declined, was never asked."""
    return [
        make_battle(publish_consent=True, terms_version="2026-01"),
        make_battle(publish_consent=False, terms_version="2026-01"),
        make_battle(),
    ]


def test_jsonl_and_parquet_carry_the_raters_answer_and_the_terms_version(
    battle_log_url: str, tmp_path: Path
):
    battles = consenting_battles()
    answers = [(True, "2026-01"), (False, "2026-01"), (None, None)]
    with BattleLog(battle_log_url) as log:
        log.record_new_battles(battles)
        export_battles(log, "jsonl", tmp_path / "battles.jsonl")
        export_battles(log, "parquet", tmp_path / "battles.parquet")
    lines = [json.loads(line) for line in (tmp_path / "battles.jsonl").read_text().splitlines()]
    assert [(line["publish_consent"], line["terms_version"]) for line in lines] == answers
    rows = pq.read_table(tmp_path / "battles.parquet").to_pylist()
    assert [(row["publish_consent"], row["terms_version"]) for row in rows] == answers
    with fresh_log(tmp_path) as copy:
        assert import_file(tmp_path / "battles.jsonl", copy).inserted == 3
        assert [(b.publish_consent, b.terms_version) for b in copy.iter_battles()] == answers
        assert list(copy.iter_battles()) == battles


def test_jsonl_written_before_consent_existed_imports_as_never_asked(tmp_path: Path):
    old = tmp_path / "old.jsonl"
    lines = []
    for battle in consenting_battles():
        data = battle.to_dict()
        del data["publish_consent"], data["terms_version"]
        lines.append(json.dumps(data))
    old.write_text("\n".join(lines) + "\n")
    with fresh_log(tmp_path) as copy:
        assert import_file(old, copy).inserted == 3
        assert {(b.publish_consent, b.terms_version) for b in copy.iter_battles()} == {
            (None, None)}


def test_fastchat_export_has_no_consent_and_its_import_reads_as_never_asked(tmp_path: Path):
    with fresh_log(tmp_path, "source") as log:
        log.record_new_battles(consenting_battles())
        export_battles(log, "fastchat", tmp_path / "clean.json")
    items = json.loads((tmp_path / "clean.json").read_text())
    assert [set(item) for item in items] == [FASTCHAT_KEYS] * 3
    with fresh_log(tmp_path) as copy:
        import_file(tmp_path / "clean.json", copy)
        assert [b.consent for b in copy.iter_battles()] == [None] * 3
