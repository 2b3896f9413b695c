"""The flat battles table: one Parquet row per battle, for pandas and the ratings engine.

Columns (nullable unless said):
    battle_id, model_a, model_b (strings, never null)
    winner       FastChat's words; null for battles without a vote
    judge        the salted rater hash
    tstamp       unix seconds (float64) of the vote, or of the end when unvoted
    mode, anony, status, end_reason
    turn         number of user turns (int32)
    prompt_tokens_a, completion_tokens_a, prompt_tokens_b, completion_tokens_b
                 sums over the turns whose server reported usage; null when none did
    flags        list<string>
    conversation_a, conversation_b   the full conversations (system prompt included) as JSON text
    system_prompt_a, system_prompt_b, language, category, pair_policy, pair_probability (float64),
    side_seed (int64), replay_of, started_at, ended_at, voted_at (timestamp[us, UTC]),
    schema_version (int32), app_version
    publish_consent (bool), terms_version   the rater's answer to the publication terms and
                 the version of the terms answered; null when the rater was never asked
    labels       list<string>, the automatic labels (empty when never labelled)
    labeller_version, model_state_a, model_state_b   (docs/categories.md)
    judge_model, judge_order, judge_template_hash   on a judge verdict (mode "judge", from
                 `arena judge`): the judge's [[models]] name, "original" or "swapped", and
                 "sha256:<hex>" of its template; null on human votes. `judge` stays the
                 rater hash ("judge:<model>" on a verdict), FastChat's meaning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from arena.record import BattleRecord
from arena.store.bulk import RawBattle
from arena.transfer import raw
from arena.transfer.fastchat import battle_tstamp

TIME = pa.timestamp("us", tz="UTC")
PARQUET_SCHEMA = pa.schema(
    [
        pa.field("battle_id", pa.string(), nullable=False),
        pa.field("model_a", pa.string(), nullable=False),
        pa.field("model_b", pa.string(), nullable=False),
        ("winner", pa.string()),
        ("judge", pa.string()),
        ("tstamp", pa.float64()),
        ("mode", pa.string()),
        ("anony", pa.bool_()),
        ("status", pa.string()),
        ("end_reason", pa.string()),
        ("turn", pa.int32()),
        ("prompt_tokens_a", pa.int64()),
        ("completion_tokens_a", pa.int64()),
        ("prompt_tokens_b", pa.int64()),
        ("completion_tokens_b", pa.int64()),
        ("flags", pa.list_(pa.string())),
        ("conversation_a", pa.string()),
        ("conversation_b", pa.string()),
        ("system_prompt_a", pa.string()),
        ("system_prompt_b", pa.string()),
        ("language", pa.string()),
        ("category", pa.string()),
        ("pair_policy", pa.string()),
        ("pair_probability", pa.float64()),
        ("side_seed", pa.int64()),
        ("replay_of", pa.string()),
        ("started_at", TIME),
        ("ended_at", TIME),
        ("voted_at", TIME),
        ("schema_version", pa.int32()),
        ("app_version", pa.string()),
        ("publish_consent", pa.bool_()),
        ("terms_version", pa.string()),
        ("labels", pa.list_(pa.string())),
        ("labeller_version", pa.string()),
        ("model_state_a", pa.string()),
        ("model_state_b", pa.string()),
        ("judge_model", pa.string()),
        ("judge_order", pa.string()),
        ("judge_template_hash", pa.string()),
    ]
)


def _token_sum(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def flat_row(record: BattleRecord) -> dict[str, Any]:
    """The Parquet row for one battle, keyed by PARQUET_SCHEMA's column names."""
    gens_a = [turn.generation_a for turn in record.turns]
    gens_b = [turn.generation_b for turn in record.turns]
    return {
        "battle_id": record.battle_id,
        "model_a": record.model_a,
        "model_b": record.model_b,
        "winner": record.winner,
        "judge": record.rater_hash,
        "tstamp": battle_tstamp(record),
        "mode": record.mode,
        "anony": record.mode == "anonymous",
        "status": record.status,
        "end_reason": record.end_reason,
        "turn": len(record.turns),
        "prompt_tokens_a": _token_sum([g.prompt_tokens for g in gens_a]),
        "completion_tokens_a": _token_sum([g.completion_tokens for g in gens_a]),
        "prompt_tokens_b": _token_sum([g.prompt_tokens for g in gens_b]),
        "completion_tokens_b": _token_sum([g.completion_tokens for g in gens_b]),
        "flags": list(record.flags),
        "conversation_a": json.dumps(record.conversation_a, ensure_ascii=False),
        "conversation_b": json.dumps(record.conversation_b, ensure_ascii=False),
        "system_prompt_a": record.system_prompt_a,
        "system_prompt_b": record.system_prompt_b,
        "language": record.language,
        "category": record.category,
        "pair_policy": record.pair_policy,
        "pair_probability": record.pair_probability,
        "side_seed": record.side_seed,
        "replay_of": record.replay_of,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "voted_at": record.voted_at,
        "schema_version": record.schema_version,
        "app_version": record.app_version,
        "publish_consent": record.publish_consent,
        "terms_version": record.terms_version,
        "labels": list(record.labels),
        "labeller_version": record.labeller_version,
        "model_state_a": record.model_state_a,
        "model_state_b": record.model_state_b,
        **_judge_columns(record),
    }


def _judge_columns(record: BattleRecord) -> dict[str, str | None]:
    """The flat judge columns of a verdict record; all null on a human vote."""
    verdict = getattr(record, "judge", None) or {}
    return {"judge_model": verdict.get("model"), "judge_order": verdict.get("order"),
            "judge_template_hash": verdict.get("template_hash")}


class ParquetBattleWriter:
    """Buffers `batch_size` rows, then writes them as one row group."""

    raw_need = "tokens"

    def __init__(self, path: Path, batch_size: int = 1000) -> None:
        self._writer = pq.ParquetWriter(path, PARQUET_SCHEMA, compression="zstd")
        self._rows: list[dict[str, Any]] = []
        self._batch_size = batch_size

    def write(self, record: BattleRecord) -> None:
        self._rows.append(flat_row(record))
        if len(self._rows) >= self._batch_size:
            self._flush()

    def write_raw(self, battles: list[RawBattle]) -> None:
        self._rows.extend(raw.flat_row(battle) for battle in battles)
        if len(self._rows) >= self._batch_size:
            self._flush()

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=PARQUET_SCHEMA))
            self._rows = []
