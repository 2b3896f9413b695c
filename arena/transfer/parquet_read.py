"""Reading Parquet battle tables: ours (`arena export --format parquet`) and FastChat-style ones.

A row with a `battle_id` column is read as one of our flat rows (arena.transfer.parquet); a table
without one is read as FastChat clean_battle records (model_a, model_b, winner, judge,
conversation_a/b as a list of {role, content} structs or as JSON text, turn, anony, language,
tstamp), the columns LMArena's published Parquet datasets use.

Our flat row keeps every battle-level field but not the turns, so the battle comes back the way
a FastChat record does (arena.transfer.fastchat): one turn per user message of the
conversations, each generation holding the model name, the messages sent and the answer; no
endpoint, sampling parameters, seed, timings or errors. Token counts are kept when the battle
has one turn (the row's sums are then that turn's counts). A judge verdict (mode "judge")
cannot be rebuilt (its template and raw output are not in the table) and is refused with that
reason. So a Parquet import followed by a Parquet export gives back the same table, but for
the token sums of battles with more than one turn (null then); for a lossless copy of the log,
use JSONL.

Rows are read one row group batch at a time (`iter_batches`), so memory stays at one batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from arena.record import BattleRecord, InvalidRecord, Turn
from arena.transfer.fastchat import turns_from_conversations

BATCH_ROWS = 1000
REQUIRED = ("battle_id", "mode", "model_a", "model_b", "status", "started_at", "ended_at",
            "conversation_a", "conversation_b")


def is_parquet(head: bytes) -> bool:
    """True for the first bytes of a Parquet file (the "PAR1" magic)."""
    return head[:4] == b"PAR1"


def parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Every row of the Parquet file at `path` as a dict, in file order.

    Raises ValueError when the file is not a readable Parquet file.
    """
    try:
        table = pq.ParquetFile(path)
    except Exception as bad:  # pyarrow raises several types for a damaged file
        raise ValueError(f"not a readable Parquet file: {bad}") from None
    for batch in table.iter_batches(batch_size=BATCH_ROWS):
        yield from batch.to_pylist()


def clean_battle_row(row: dict[str, Any]) -> dict[str, Any]:
    """A FastChat-style row as the clean_battle dict `from_clean_battle` reads: null columns
    dropped, conversations given as JSON text decoded."""
    data = {key: value for key, value in row.items() if value is not None}
    for name in ("conversation_a", "conversation_b"):
        if isinstance(data.get(name), str):
            data[name] = _json_list(data[name], name)
    return data


def record_from_flat_row(row: dict[str, Any]) -> BattleRecord:
    """The battle of one of our flat Parquet rows (see the module docstring for what a row
    cannot give back). Raises InvalidRecord naming the column."""
    missing = [name for name in REQUIRED if row.get(name) is None]
    if missing:
        raise InvalidRecord(f"no value in column(s) {', '.join(missing)}")
    if row["mode"] == "judge":
        raise InvalidRecord("a judge verdict (mode 'judge') cannot be rebuilt from Parquet: its "
                            "template and raw output are not in the table; import the JSONL "
                            "export instead")
    conversation_a = _conversation(row["conversation_a"], "conversation_a")
    conversation_b = _conversation(row["conversation_b"], "conversation_b")
    if not all(isinstance(row[name], str) for name in ("model_a", "model_b")):
        raise InvalidRecord("model_a and model_b must be strings")
    turns = turns_from_conversations(row["model_a"], row["model_b"], conversation_a,
                                     conversation_b)
    if len(turns) == 1:
        turns = [_with_tokens(turns[0], row)]
    return BattleRecord(
        battle_id=row["battle_id"], mode=row["mode"], model_a=row["model_a"],
        model_b=row["model_b"], conversation_a=conversation_a, conversation_b=conversation_b,
        turns=turns, started_at=_utc(row["started_at"], "started_at"),
        ended_at=_utc(row["ended_at"], "ended_at"), status=row["status"],
        rater_hash=row.get("judge") or "",
        system_prompt_a=row.get("system_prompt_a") or "",
        system_prompt_b=row.get("system_prompt_b") or "",
        winner=row.get("winner"), voted_at=_utc(row.get("voted_at"), "voted_at"),
        end_reason=row.get("end_reason"), pair_policy=row.get("pair_policy") or "unknown",
        pair_probability=row.get("pair_probability"), side_seed=row.get("side_seed"),
        flags=list(row.get("flags") or []), language=row.get("language"),
        category=row.get("category"), replay_of=row.get("replay_of"),
        schema_version=row.get("schema_version") or 1,
        app_version=row.get("app_version") or "parquet",
        publish_consent=row.get("publish_consent"), terms_version=row.get("terms_version"),
        labels=list(row.get("labels") or []), labeller_version=row.get("labeller_version"),
        model_state_a=row.get("model_state_a"), model_state_b=row.get("model_state_b"),
    )


def _with_tokens(turn: Turn, row: dict[str, Any]) -> Turn:
    """The one turn of a battle, with the row's token sums (which are its counts)."""
    return replace(
        turn,
        generation_a=replace(turn.generation_a, prompt_tokens=row.get("prompt_tokens_a"),
                             completion_tokens=row.get("completion_tokens_a")),
        generation_b=replace(turn.generation_b, prompt_tokens=row.get("prompt_tokens_b"),
                             completion_tokens=row.get("completion_tokens_b")),
    )


def _json_list(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as bad:
        raise InvalidRecord(f"{name} is not JSON: {bad.msg} (column {bad.colno})") from None


def _conversation(value: Any, name: str) -> list[dict[str, Any]]:
    messages = _json_list(value, name) if isinstance(value, str) else value
    if not isinstance(messages, list):
        raise InvalidRecord(f"{name} must be a list of messages")
    return messages


def _utc(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidRecord(f"{name} must be a timestamp, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
