"""`arena ratings --db` aggregates in the database: the same boards as rating the JSONL export.

One log of 240 battles among five models (varied winners, named, flagged and judge battles,
labels, languages, markdown answers, timings) is rated both ways for every option
combination the SQL path supports; the written tables must be byte-identical. Options it
cannot do fall back with their reason. PostgreSQL runs the default board and style control.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from factories import make_battle

from arena.jobs import db_ratings
from arena.jobs.db_ratings import NotInSql, rate_database, sql_unsupported
from arena.jobs.speeds import SpeedTable, SqlMedians, kept_combinations
from arena.record import BattleRecord
from arena.store import BattleLog
from arena.store.aggregate import read_frame, speeds_query
from arena.transfer.export import export_battles
from ratings.manifest import rate_file
from ratings.options import RatingOptions
from ratings.report import write_output

MODELS = ("alpha", "beta", "gamma", "delta", "eps")
WINNERS = ("model_a", "model_a", "model_b", "tie", "tie (bothbad)")
ANSWERS = ("Plain answer with a few words.", "# Title\n\n- one\n- two\n\n**bold** end",
           "Some **bold** and __more__ text\n1. first\n2. second",
           "```python\n# code\n```\nDone.", "## Head\nText " * 3)
LABELS = ([], ["code"], ["lang:en", "math"], ["code", "lang:fr"])


def sample_battles(count: int = 240, seed: int = 7) -> list[BattleRecord]:
    chance = random.Random(seed)
    battles = []
    for n in range(count):
        a, b = chance.sample(MODELS, 2)
        answers = [chance.choice(ANSWERS) * chance.randint(1, 3) for _ in range(2)]
        battle = make_battle(turn_count=chance.randint(1, 2), outputs=answers,
                             model_a=a, model_b=b)
        battle = other_answers_on_the_right(battle, chance)
        mode = chance.choices(("anonymous", "named", "judge"), (20, 2, 1))[0]
        battle = replace(
            battle, battle_id=f"sql-{seed}-{n:04d}", winner=chance.choice(WINNERS),
            mode=mode, flags=["identity_leak"] if chance.random() < 0.05 else [],
            labels=chance.choice(LABELS), language=chance.choice(("en", "fr", None)),
            category=chance.choice((None, "coding")),
            rater_hash="judge:x" if mode == "judge" else f"rater-{n % 9}",
            replay_of=f"sql-{seed}-0000" if mode == "judge" else None,
            judge={"model": "x", "template": "t", "template_hash": "sha256:0",
                   "order": "original", "raw_output": "A", "choice_logprobs": None,
                   "generation": None, "panel": None} if mode == "judge" else None)
        battles.append(battle)
    return battles


def other_answers_on_the_right(battle: BattleRecord, chance: random.Random) -> BattleRecord:
    """Side b answers with other text and token counts, so every style feature varies."""
    texts = [chance.choice(ANSWERS) for _ in battle.turns]
    turns = [replace(turn, generation_b=replace(turn.generation_b, output=text,
                                                completion_tokens=chance.randint(1, 60)))
             for turn, text in zip(battle.turns, texts, strict=True)]
    answers = iter(texts)
    conversation = [{**m, "content": next(answers)} if m["role"] == "assistant" else m
                    for m in battle.conversation_b]
    return replace(battle, turns=turns, conversation_b=conversation)


@pytest.fixture(scope="module")
def sqlite_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A SQLite log of the sample battles and its JSONL export (what `--db` rated before)."""
    folder = tmp_path_factory.mktemp("ratings-sql")
    url = f"sqlite:///{folder / 'arena.db'}"
    with BattleLog(url) as log:
        log.record_new_battles(sample_battles())
        export_battles(log, "jsonl", folder / "battles.jsonl", status="voted")
    return url, folder / "battles.jsonl"


def table_bytes(run, folder: Path, name: str) -> bytes:
    path = folder / name
    write_output(run.boards, run.by, path, run.overall)
    return path.read_bytes()


SUPPORTED = {
    "default": ({}, None),
    "drop-ties": ({"ties": "drop", "bothbad": "drop"}, None),
    "davidson-bootstrap": ({"ties": "davidson", "ci": "bootstrap", "rounds": 40}, None),
    "bootstrap-anchor": ({"ci": "bootstrap", "rounds": 40, "seed": 3,
                          "anchor": ("beta", 1200.0)}, None),
    "style": ({"style": True}, None),
    "style-bootstrap": ({"style": True, "ci": "bootstrap", "rounds": 20,
                         "style_features": ("tokens", "bold")}, None),
    "position-bias": ({"position_bias": True}, None),
    "robustness": ({"robustness": True}, None),
    "named-and-flagged": ({"include_named": True, "include_flagged_battles": True}, None),
    "where-language": ({"where": (("language", "en"),)}, None),
    "where-category": ({"where": (("category", "code"),), "allow_disconnected": True}, None),
    "by-category": ({"min_votes": 20, "allow_disconnected": True}, "category"),
    "too-few": ({"min_votes": 100_000}, None),
    "states-provisional": ({"provisional_votes": 60,
                            "model_states": (("alpha", "preview"), ("eps", "retired"))}, None),
}


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_sql_and_export_give_byte_identical_boards(name: str, sqlite_log, tmp_path: Path):
    url, export = sqlite_log
    fields, by = SUPPORTED[name]
    options = RatingOptions(**fields)
    assert sql_unsupported(options, by) is None
    from_file = rate_file(export, options, by)
    with BattleLog(url) as log:
        from_sql, source = rate_database(log, options, by)
    assert source.rows["count"].sum() == from_file.rows_read
    if not options.style:  # aggregated: far fewer rows than battles
        assert len(source.rows) < from_file.rows_read
    for suffix in (".json", ".csv"):
        assert table_bytes(from_sql, tmp_path, "sql" + suffix) == table_bytes(
            from_file, tmp_path, "file" + suffix), suffix


@pytest.mark.parametrize(("fields", "reason"), [
    ({"method": "elo", "ci": "none"}, "order of the votes"),
    ({"raters": True}, "rater test"),
    ({"max_votes_per_rater_per_day": 3}, "vote filters"),
    ({"dedupe_prompts": True}, "vote filters"),
    ({"sampling_correction": True}, "sampling correction"),
    ({"judge": "*"}, "judge boards"),
    ({"where": (("app_version", "1"),)}, "app_version"),
])  # fmt: skip
def test_options_the_database_cannot_answer_say_why(fields, reason, sqlite_log):
    options = RatingOptions(**fields)
    assert reason in (sql_unsupported(options, None) or "")
    with BattleLog(sqlite_log[0]) as log, pytest.raises(NotInSql, match=reason):
        rate_database(log, options)


@pytest.mark.postgres
@pytest.mark.parametrize("fields", [
    {}, {"style": True},
    # more kept than dropped: the speed medians' query sends the dropped values (NOT IN)
    {"include_named": True, "include_flagged_battles": True},
])  # fmt: skip
def test_postgres_gives_the_boards_of_its_export(fields: dict, postgres_url: str,
                                                 tmp_path: Path):
    with BattleLog(postgres_url) as log:
        log.record_new_battles(sample_battles(120, seed=11))
        export_battles(log, "jsonl", tmp_path / "battles.jsonl", status="voted")
        options = RatingOptions(robustness=True, **fields)
        from_sql, source = rate_database(log, options)
    assert isinstance(source.speeds, SqlMedians)
    assert source.speeds.table.notna().all(axis=None) and len(source.speeds.table) == len(MODELS)
    from_file = rate_file(tmp_path / "battles.jsonl", options)
    assert table_bytes(from_sql, tmp_path, "sql.json") == table_bytes(
        from_file, tmp_path, "file.json")


@pytest.mark.parametrize(("name", "sends"), [
    ("default", "kept"), ("named-and-flagged", "dropped"), ("where-category", "kept")])
def test_the_database_medians_are_those_of_every_generation(name: str, sends: str, sqlite_log,
                                                            monkeypatch):
    """One board: its speed medians come from the database (one or two rows per model),
    sending the shorter list of filter values, kept or dropped; they equal the medians of
    every generation read into Python, and of that table split in two and joined again."""
    fields, _ = SUPPORTED[name]
    options = RatingOptions(**fields)
    with BattleLog(sqlite_log[0]) as log:
        _, in_sql = rate_database(log, options)
        monkeypatch.setattr(db_ratings, "MAX_LISTED_VALUES", -1)  # too long: read them all
        _, every = rate_database(log, options)
    assert isinstance(in_sql.speeds, SqlMedians) and isinstance(every.speeds, SpeedTable)
    filters = list(every.speeds.combinations.columns)
    combinations = in_sql.rows[filters].drop_duplicates().reset_index(drop=True)
    kept = int(kept_combinations(combinations, options).sum())
    assert (kept <= len(combinations) - kept) == (sends == "kept")
    assert 0 < kept < len(combinations)
    expected = every.speeds.medians(options)
    assert len(expected) == len(MODELS) and expected.notna().all(axis=None)
    pd.testing.assert_frame_equal(in_sql.speeds.table.sort_index(), expected.sort_index(),
                                  check_index_type=False)
    with BattleLog(sqlite_log[0]) as log, log.connections.read() as connection:
        frame = read_frame(connection, speeds_query(filters, in_sql.window))
    half = len(frame) // 2
    joined = SpeedTable.from_frame(frame.iloc[:half]).extend(
        SpeedTable.from_frame(frame.iloc[half:]))
    assert len(joined) == len(frame) == len(every.speeds)
    pd.testing.assert_frame_equal(joined.medians(options), expected)
