"""The daily vote cap per rater and counting a rater's identical prompt once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from ratings.errors import BattleDataError
from ratings.io import normalise_frame
from ratings.vote_filters import (
    cap_votes_per_rater_per_day,
    dedupe_identical_prompts,
    first_user_message,
    normalise_prompt,
)


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _votes(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(judge, ISO time or "", battle id) -> a normalised battles frame."""
    frame = pd.DataFrame({
        "model_a": "m1", "model_b": "m2", "winner": "model_a",
        "judge": [r[0] for r in rows],
        "tstamp": [_epoch(r[1]) if r[1] else np.nan for r in rows],
        "battle_id": [r[2] for r in rows],
    })
    return normalise_frame(frame)


def test_cap_keeps_each_raters_first_votes_of_each_utc_day():
    frame = _votes([
        ("alice", "2026-03-01T23:59:00", "a3"),
        ("alice", "2026-03-01T08:00:00", "a1"),
        ("alice", "2026-03-01T09:00:00", "a2"),
        ("alice", "2026-03-02T00:00:01", "a4"),  # a new UTC day: allowed again
        ("bob", "2026-03-01T10:00:00", "b1"),
        ("bob", "2026-03-01T11:00:00", "b2"),
        ("bob", "2026-03-01T12:00:00", "b3"),
    ])
    kept, removed = cap_votes_per_rater_per_day(frame, cap=2)
    assert removed == 2
    assert sorted(kept["battle_id"]) == ["a1", "a2", "a4", "b1", "b2"]
    assert list(kept.index) == sorted(kept.index)  # original order and index preserved


def test_cap_breaks_equal_times_by_battle_id_whatever_the_row_order():
    rows = [("carol", "2026-03-01T10:00:00", f"id-{k}") for k in (3, 1, 2)]
    frame = _votes(rows)
    kept, removed = cap_votes_per_rater_per_day(frame, cap=1)
    shuffled, _ = cap_votes_per_rater_per_day(frame.iloc[::-1], cap=1)
    assert removed == 2
    assert list(kept["battle_id"]) == list(shuffled["battle_id"]) == ["id-1"]


def test_cap_counts_untimed_votes_after_timed_ones_and_keeps_anonymous_rows():
    frame = _votes([
        ("dave", "", "d0"),
        ("dave", "2026-03-01T10:00:00", "d1"),
        ("dave", "", "d2"),
        ("", "2026-03-01T10:00:00", "x1"),
        ("", "2026-03-01T10:00:00", "x2"),
    ])
    frame.loc[4, "judge"] = None
    kept, removed = cap_votes_per_rater_per_day(frame, cap=1)
    # d1 is dave's only timed vote; his untimed votes are one more group, capped to d0.
    assert sorted(kept["battle_id"]) == ["d0", "d1", "x1", "x2"]
    assert removed == 1


def test_cap_without_a_judge_column_or_with_a_bad_cap_is_refused():
    frame = _votes([("e", "2026-03-01T10:00:00", "e1")])
    with pytest.raises(BattleDataError, match="judge"):
        cap_votes_per_rater_per_day(frame.drop(columns="judge"), cap=5)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="whole number >= 1"):
            cap_votes_per_rater_per_day(frame, cap=bad)


def test_normalised_prompts_ignore_invisible_differences_only():
    same = ["Write a haiku about rain.", "  write a HAIKU\tabout\n\nrain. ",
            "Write a haiku about rain.\u200b", "Ｗrite a haiku about rain.",
            "Write a ha\u00adiku about rain."]
    assert {normalise_prompt(t) for t in same} == {"write a haiku about rain."}
    # Composed and decomposed accents agree.
    assert normalise_prompt("caf\u00e9") == normalise_prompt("cafe\u0301")
    # Different words, punctuation or spacing inside a word stay different.
    assert normalise_prompt("Write a haiku about rain") != normalise_prompt(same[0])
    assert normalise_prompt("Write a hai ku about rain.") != normalise_prompt(same[0])


def _conversation(prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": prompt},
            {"role": "assistant", "content": "ok"}, {"role": "user", "content": "more"}]


def test_dedupe_keeps_a_raters_first_battle_per_identical_first_prompt():
    frame = _votes([
        ("alice", "2026-03-01T10:00:00", "a1"),
        ("alice", "2026-03-01T09:00:00", "a0"),
        ("alice", "2026-03-01T11:00:00", "a2"),
        ("bob", "2026-03-01T12:00:00", "b1"),
        ("alice", "2026-03-01T13:00:00", "a3"),
    ])
    frame["conversation_a"] = [
        _conversation("What is 2+2?"), _conversation("what is  2+2?"),
        json.dumps(_conversation("What is 2+2? ")),  # JSON text, as Parquet exports hold it
        _conversation("What is 2+2?"),  # another rater: counted on its own
        _conversation("What is 3+3?"),
    ]
    kept, removed = dedupe_identical_prompts(frame)
    assert removed == 2
    assert sorted(kept["battle_id"]) == ["a0", "a3", "b1"]


def test_dedupe_uses_only_the_first_prompt_and_keeps_rows_without_one():
    frame = _votes([("f", "2026-03-01T10:00:00", "f1"), ("f", "2026-03-01T11:00:00", "f2"),
                    ("f", "2026-03-01T12:00:00", "f3"), ("f", "2026-03-01T13:00:00", "f4")])
    frame["conversation_a"] = [
        [{"role": "user", "content": "hello"}, {"role": "user", "content": "first follow-up"}],
        [{"role": "user", "content": "hello"}, {"role": "user", "content": "other follow-up"}],
        None, [{"role": "assistant", "content": "no user message"}],
    ]
    kept, removed = dedupe_identical_prompts(frame)
    assert (removed, sorted(kept["battle_id"])) == (1, ["f1", "f3", "f4"])


def test_dedupe_reads_a_prompt_column_and_refuses_logs_without_prompts():
    frame = _votes([("g", "2026-03-01T10:00:00", "g1"), ("g", "2026-03-01T10:00:00", "g2")])
    frame["prompt"] = ["Same", "same"]
    kept, removed = dedupe_identical_prompts(frame, prompt_column="prompt")
    assert (removed, list(kept["battle_id"])) == (1, ["g1"])
    with pytest.raises(BattleDataError, match="conversation_a"):
        dedupe_identical_prompts(frame.drop(columns="prompt"))
    with pytest.raises(BattleDataError, match="no prompt column 'text'"):
        dedupe_identical_prompts(frame, prompt_column="text")


def test_first_user_message_reads_content_parts():
    parts = [{"role": "user", "content": [{"type": "text", "text": "a"},
                                          {"type": "text", "text": "b"}]}]
    assert first_user_message(parts) == "a\nb"
    assert first_user_message("not json") is None
