"""The public data release (arena.transfer.public): which battles, which fields, which text."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from factories import make_battle

from arena.record import BattleRecord
from arena.store import BattleLog
from arena.transfer.export import export_battles
from arena.transfer.public import (
    export_public,
    load_release_key,
    public_id,
    write_release,
)
from ratings.io import read_battles
from ratings.options import STYLE_FEATURES
from ratings.style import style_counts

KEY = b"0123456789abcdef" * 4
# The factories' default start times advance a minute per battle made in the session: a test
# that checks the day gives its own.
NOON = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
FIELDS = ["public_id", "day", "mode", "model_a", "model_b", "winner", "category", "language",
          "labels", "labeller_version", "model_state_a", "model_state_b", "pair_probability",
          "tokens_a", "tokens_b", "headers_a", "headers_b", "lists_a", "lists_b",
          "bold_a", "bold_b", "timings_a", "timings_b", "terms_version", "conversation_a",
          "conversation_b"]


def consented(battle: BattleRecord, answer: bool | None = True, terms: str = "2") -> BattleRecord:
    """The battle as the record of a rater who answered `answer` to terms version `terms`."""
    battle.publish_consent = answer
    battle.terms_version = terms if answer is not None else None
    return battle


def release_rows(tmp_path: Path, battles: list[BattleRecord], **options) -> tuple[list, dict]:
    out = tmp_path / "release.jsonl"
    release = write_release(battles, out, key=KEY, **options)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return rows, json.loads(release.manifest_path.read_text())


def test_a_row_holds_the_documented_fields_and_nothing_that_identifies_the_rater(tmp_path):
    battle = make_battle(system_prompt_a="Secret operator prompt A.", category="coding",
                         start=NOON)
    rows, _ = release_rows(tmp_path, [battle])
    (row,) = rows
    assert list(row) == FIELDS
    assert row["public_id"] == public_id(KEY, battle.battle_id)
    assert row["day"] == "2026-03-01" and row["mode"] == "anonymous"
    assert (row["model_a"], row["model_b"], row["winner"]) == (
        battle.model_a, battle.model_b, "model_a")
    assert (row["category"], row["language"]) == ("coding", "English")
    assert row["conversation_a"] is None and row["terms_version"] is None
    line = (tmp_path / "release.jsonl").read_text()
    generation = battle.turns[0].generation_a
    for private in (battle.battle_id, battle.rater_hash, battle.system_prompt_a,
                    generation.endpoint, str(generation.seed), str(battle.side_seed),
                    battle.started_at.isoformat()[:16], "12:0", "127.0.0.1", "temperature",
                    battle.turns[0].prompt):
        assert private not in line, private


def test_public_ids_are_keyed_stable_and_not_the_log_ids(tmp_path):
    battle = make_battle()
    first = public_id(KEY, battle.battle_id)
    assert public_id(KEY, battle.battle_id) == first
    assert public_id(b"another key" * 3, battle.battle_id) != first
    assert battle.battle_id not in first and len(first) == 32
    # The key is made once per data directory and kept private.
    key = load_release_key(tmp_path)
    assert load_release_key(tmp_path) == key and len(key) == 64
    assert (tmp_path / "release_key").stat().st_mode & 0o777 == 0o600


def verdict_of(battle):
    """An LLM judge's verdict on `battle` (mode judge), as arena.judge stores one."""
    return make_battle(
        mode="judge", replay_of=battle.battle_id, rater_hash="judge:tiny-a",
        publish_consent=True, terms_version="1",
        judge={"model": "tiny-a", "template": "pairwise-v1", "template_hash": "sha256:00",
               "order": "original", "raw_output": "A", "choice_logprobs": None,
               "generation": battle.turns[0].generation_a.to_dict(), "panel": None})


def test_only_the_votes_the_default_board_rates_are_published(tmp_path):
    pool_original = make_battle()
    kept = [make_battle(), make_battle(mode="replay", replay_of="battle-elsewhere")]
    battles = kept + [
        make_battle(mode="named"),
        make_battle(flags=["identity_leak"]),
        make_battle(status="abandoned"),
        make_battle(status="error"),
        pool_original,
        make_battle(mode="replay", replay_of=pool_original.battle_id),
        verdict_of(kept[0]),
    ]
    rows, manifest = release_rows(tmp_path, battles, withheld={pool_original.battle_id})
    assert sorted(row["public_id"] for row in rows) == sorted(
        public_id(KEY, b.battle_id) for b in kept)
    assert manifest["rows"] == 2
    assert manifest["left_out"] == {"judge": 1, "named": 1, "flagged": 1, "in_revote_pool": 2}


def test_text_is_published_only_with_consent_scrubbed_and_without_system_prompts(tmp_path):
    yes = consented(make_battle(prompts=["my password is hunter0, mail ana@example.org"],
                                outputs=["Call +1 415 555 2671."]), terms="2")
    no = consented(make_battle(), answer=False)
    never_asked = make_battle()  # an old record: no consent fields at all
    replay = consented(make_battle(mode="replay", replay_of="battle-x"))
    rows, manifest = release_rows(tmp_path, [yes, no, never_asked, replay])
    by_id = {row["public_id"]: row for row in rows}
    published = by_id[public_id(KEY, yes.battle_id)]
    assert published["terms_version"] == "2"
    assert published["conversation_a"] == [
        {"role": "user", "content": "my password is {{API_KEY}}, mail {{EMAIL}}"},
        {"role": "assistant", "content": "Call {{PHONE}}."},
    ]
    assert published["conversation_b"][0] == published["conversation_a"][0]
    for other in (no, never_asked, replay):
        row = by_id[public_id(KEY, other.battle_id)]
        assert (row["conversation_a"], row["conversation_b"], row["terms_version"]) == (
            None, None, None)
    assert "hunter0" not in (tmp_path / "release.jsonl").read_text()
    assert manifest["rows_with_text"] == 1 and manifest["terms_versions"] == ["2"]


def test_lines_are_ordered_by_day_then_public_id_whatever_the_log_order(tmp_path):
    start = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    battles = [make_battle(start=start + timedelta(hours=hour)) for hour in range(6)]
    rows, _ = release_rows(tmp_path, battles)
    first_bytes = (tmp_path / "release.jsonl").read_bytes()
    assert [(r["day"], r["public_id"]) for r in rows] == sorted(
        (r["day"], r["public_id"]) for r in rows)
    assert {r["day"] for r in rows} == {"2026-03-01", "2026-03-02"}
    random.Random(1).shuffle(battles)
    release_rows(tmp_path, battles)
    assert (tmp_path / "release.jsonl").read_bytes() == first_bytes


def test_the_day_is_the_utc_date_of_the_vote():
    late = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 04:30 UTC
    battle = make_battle(start=late - timedelta(minutes=5), voted_at=late)
    from arena.transfer.public import vote_day

    assert vote_day(battle) == "2026-03-02"


def test_style_features_are_those_ratings_counts_from_the_full_log(tmp_path):
    """The release carries the style features instead of the text; they must be what
    `ratings.style` counts from our full export, so the public board's style control is the
    one the full log would give."""
    rng = random.Random(5)
    answers = ["# Title\n\n- one\n- two\n\n**bold** text", "plain words only here",
               "```\n# not a header\n```\n1. item", "__b__ and **c**\n## h2"]
    battles = [make_battle(outputs=[rng.choice(answers), rng.choice(answers)])
               for _ in range(12)]
    battles[3].turns[1].generation_a.completion_tokens = None  # falls back to words
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    try:
        for battle in battles:
            log.record_battle(battle)
        export_battles(log, "jsonl", tmp_path / "full.jsonl", progress=False)
        export_public(log, tmp_path / "release.jsonl", key=KEY)
    finally:
        log.close()
    full = read_battles(tmp_path / "full.jsonl")
    # Expected: headers/lists/bold as ratings counts them from the text; tokens the completion
    # tokens where every turn has them, else (battle 3 only) the words ratings would count.
    full = full.assign(tokens_a=full["tokens_a"].fillna(-1), tokens_b=full["tokens_b"].fillna(-1))
    expected = style_counts(full.drop(columns=["tokens_a", "tokens_b"]), STYLE_FEATURES)
    expected = expected.assign(
        tokens_a=full["tokens_a"].where(full["tokens_a"] >= 0, expected["tokens_a"]),
        tokens_b=full["tokens_b"].where(full["tokens_b"] >= 0, expected["tokens_b"]))
    published = read_battles(tmp_path / "release.jsonl").set_index("public_id")
    for position, battle in enumerate(full["battle_id"]):
        row = published.loc[public_id(KEY, battle)]
        for column in expected.columns:
            assert row[column] == expected[column].iloc[position], (battle, column)
    assert (published["headers_a"] + published["headers_b"]).sum() > 0


def test_the_manifest_describes_the_file(tmp_path):
    rows, manifest = release_rows(tmp_path, [make_battle(start=NOON),
                                             consented(make_battle(start=NOON), terms="7")])
    data = (tmp_path / "release.jsonl").read_bytes()
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["bytes"] == len(data) and manifest["file"] == "release.jsonl"
    assert (manifest["rows"], manifest["rows_with_text"]) == (2, 1)
    assert (manifest["first_day"], manifest["last_day"]) == ("2026-03-01", "2026-03-01")
    assert manifest["terms_versions"] == ["7"]
    assert manifest["scrubber"]["name"] == "scrubadub" and manifest["release_version"] == 1


def test_a_log_without_votes_gives_an_empty_release(tmp_path):
    rows, manifest = release_rows(tmp_path, [make_battle(status="abandoned")])
    assert rows == [] and manifest["rows"] == 0
    assert (manifest["first_day"], manifest["last_day"]) == (None, None)


@pytest.mark.parametrize("content", ["", "short"])
def test_a_broken_release_key_file_is_refused_with_what_to_do(tmp_path, content):
    (tmp_path / "release_key").write_text(content)
    with pytest.raises(ValueError, match="delete the file"):
        load_release_key(tmp_path)


def test_consent_read_back_from_the_sql_log_publishes_the_text(tmp_path):
    """The consent fields survive the SQL log: a consented battle read back is published with
    its text, a declined one and an old one (never asked) without."""
    yes = make_battle(publish_consent=True, terms_version="3")
    no = make_battle(publish_consent=False, terms_version="3")
    old = make_battle()
    with BattleLog(f"sqlite:///{tmp_path / 'arena.db'}") as log:
        for battle in (yes, no, old):
            log.record_battle(battle)
        release = export_public(log, tmp_path / "release.jsonl", key=KEY)
    rows = {json.loads(line)["public_id"]: json.loads(line)
            for line in (tmp_path / "release.jsonl").read_text().splitlines()}
    assert rows[public_id(KEY, yes.battle_id)]["conversation_a"][0]["role"] == "user"
    assert rows[public_id(KEY, no.battle_id)]["conversation_a"] is None
    assert rows[public_id(KEY, old.battle_id)]["conversation_a"] is None
    assert (release.rows_with_text, sorted(release.terms_versions)) == (1, ["3"])
