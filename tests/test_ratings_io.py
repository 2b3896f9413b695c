"""Readers for every input format, the battle filters and their counts, and input errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from arena.record import BattleRecord, Turn
from ratings import BattleDataError, compute_leaderboard, read_battles, select_battles
from serving.records import GenerationRecord

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _record(i: int, a: str, b: str, winner: str | None, *, status: str = "voted",
            mode: str = "anonymous", flags: list[str] | None = None) -> BattleRecord:
    def generation(model: str, tokens: int) -> GenerationRecord:
        return GenerationRecord(endpoint="http://127.0.0.1:1", served_model=model,
                                messages=[], params={}, output="x", completion_tokens=tokens)

    answer_a = "# Title\n- one\n- two\n**bold** text"
    return BattleRecord(
        battle_id=f"b{i}", mode=mode, model_a=a, model_b=b,
        conversation_a=[{"role": "user", "content": "hi"},
                        {"role": "assistant", "content": answer_a}],
        conversation_b=[{"role": "user", "content": "hi"},
                        {"role": "assistant", "content": "plain answer"}],
        turns=[Turn(0, "hi", generation(a, 10 + i), generation(b, 5))],
        started_at=T0, ended_at=T0 + timedelta(seconds=i), status=status,
        rater_hash=f"r{i % 3}", winner=winner,
        voted_at=T0 + timedelta(seconds=i) if winner else None, flags=flags or [],
        language="en", category="chat" if i % 2 else "code",
    )


def _jsonl(tmp_path: Path) -> Path:
    records = [
        _record(0, "alpha", "beta", "model_a"),
        _record(1, "beta", "gamma", "model_b"),
        _record(2, "gamma", "alpha", "tie"),
        _record(3, "alpha", "gamma", None, status="abandoned"),
        _record(4, "alpha", "beta", "model_b", mode="named"),
        _record(5, "beta", "alpha", "model_a", flags=["identity_leak"]),
        _record(6, "beta", "gamma", "tie (bothbad)"),
        _record(7, "alpha", "beta", "model_b"),
    ]
    path = tmp_path / "battles.jsonl"
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records))
    return path


def test_jsonl_export_is_read_with_tokens_judges_and_timestamps(tmp_path):
    frame = read_battles(_jsonl(tmp_path))
    assert list(frame["source_row"]) == list(range(1, 9))
    assert frame.loc[0, "tokens_a"] == 10 and frame.loc[0, "tokens_b"] == 5
    assert frame.loc[0, "judge"] == "r0"
    assert frame.loc[2, "tstamp"] == pytest.approx(T0.timestamp() + 2)
    assert frame.loc[5, "flags"] == "identity_leak"


def test_filters_drop_unvoted_named_and_flagged_battles_with_counts(tmp_path):
    selection = select_battles(read_battles(_jsonl(tmp_path)))
    assert selection.rows_read == 8 and selection.rows_used == 5
    assert selection.dropped == {"status_not_voted": 1, "mode_named": 1, "flagged_battle": 1}


def test_include_options_keep_named_and_flagged_battles(tmp_path):
    board = compute_leaderboard(read_battles(_jsonl(tmp_path)), include_named=True,
                                include_flagged_battles=True)
    assert board.rows_used == 7


def test_style_features_are_counted_from_jsonl_conversations(tmp_path):
    from ratings.style import style_counts

    selection = select_battles(read_battles(_jsonl(tmp_path)))
    counts = style_counts(selection.battles, ("tokens", "headers", "lists", "bold"))
    first = counts.iloc[0]
    assert (first["headers_a"], first["lists_a"], first["bold_a"]) == (1, 2, 1)
    assert (first["headers_b"], first["lists_b"], first["bold_b"]) == (0, 0, 0)
    assert first["tokens_a"] == 10  # from the generation records, not a word count


def test_markdown_inside_code_blocks_is_not_counted():
    from ratings.style import markdown_counts

    text = "# Real\n```\n# not a header\n- not a list\n**no**\n```\n- item"
    assert markdown_counts(text) == {"headers": 1, "lists": 1, "bold": 0, "words": 15}


def test_unknown_winner_in_csv_names_the_line(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("model_a,model_b,winner\na,b,model_a\na,b,left\nb,a,tie\nb,a,draw\n")
    with pytest.raises(BattleDataError, match=r"'draw', 'left' at lines 3, 5"):
        select_battles(read_battles(path))


def test_self_battle_in_jsonl_names_the_line(tmp_path):
    path = tmp_path / "b.jsonl"
    lines = [{"model_a": "a", "model_b": "b", "winner": "model_a"},
             {"model_a": "a", "model_b": "a", "winner": "tie"}]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    with pytest.raises(BattleDataError, match=r"self-battle .* at line 2"):
        select_battles(read_battles(path))


def test_empty_input_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("model_a,model_b,winner\n")
    with pytest.raises(BattleDataError, match="no rows"):
        read_battles(path)
    blank = tmp_path / "empty.jsonl"
    blank.write_text("\n")
    with pytest.raises(BattleDataError, match="no rows"):
        read_battles(blank)


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("left,right,winner\na,b,model_a\n")
    with pytest.raises(BattleDataError, match="missing column.*model_a, model_b"):
        read_battles(path)


def test_fastchat_clean_battle_json_is_read(tmp_path):
    rows = [
        {"model_a": "a", "model_b": "b", "winner": "model_a", "judge": "u1", "turn": 1,
         "anony": True, "language": "English", "tstamp": 1.0,
         "conversation_a": [{"role": "user", "content": "q"},
                            {"role": "assistant", "content": "**x**"}],
         "conversation_b": [{"role": "user", "content": "q"},
                            {"role": "assistant", "content": "y"}]},
        {"model_a": "b", "model_b": "a", "winner": "tie", "judge": "u2", "turn": 1,
         "anony": False, "language": "English", "tstamp": 2.0,
         "conversation_a": [], "conversation_b": []},
    ]
    path = tmp_path / "clean_battle.json"
    path.write_text(json.dumps(rows))
    frame = read_battles(path)
    assert list(frame["mode"]) == ["anonymous", "named"]
    assert select_battles(frame).dropped == {"mode_named": 1}


def test_parquet_with_json_conversations_and_token_columns(tmp_path):
    conv = json.dumps([{"role": "assistant", "content": "## H\n1. a\n2. b"}])
    frame = pd.DataFrame({
        "model_a": ["a", "b", "c"], "model_b": ["b", "c", "a"],
        "winner": ["model_a", "model_b", "tie"], "judge": ["u", "v", "w"],
        "tstamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"], utc=True),
        "mode": ["anonymous"] * 3, "status": ["voted"] * 3, "flags": [[], [], ["x"]],
        "conversation_a": [conv] * 3, "conversation_b": [conv] * 3,
        "tokens_a": [3, 4, 5], "tokens_b": [1, 2, 3],
    })
    path = tmp_path / "b.parquet"
    frame.to_parquet(path)
    read = read_battles(path)
    assert read["tstamp"].iloc[1] - read["tstamp"].iloc[0] == pytest.approx(86400.0)
    assert list(read["flags"]) == ["", "", "x"]
    selection = select_battles(read)
    assert selection.rows_used == 2 and selection.dropped["flagged_battle"] == 1


def test_where_filters_on_a_category_column(tmp_path):
    board = compute_leaderboard(read_battles(_jsonl(tmp_path)), where=(("category", "code"),))
    assert board.dropped["where:category=code"] == 2
