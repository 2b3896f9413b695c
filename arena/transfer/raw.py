"""Export rows built straight from the stored values (arena.store.bulk.RawBattle, SQLite).

Each function gives exactly what the record path gives for the same battle
(`BattleRecord.to_dict()`, `to_clean_battle(record)`, `flat_row(record)` of the record
`BattleLog` reads back), without building the record: tests/test_transfer_speed.py compares
the two paths on battles of every shape. The stored forms, and how they map:

    JSON column   the text `json.dumps(value)` wrote (ASCII-escaped); parsed with orjson. Parquet
                  wants `json.dumps(value, ensure_ascii=False)`: the same text whenever it has
                  no "\\u" escape, so only text with one is parsed and written again.
    time column   "YYYY-MM-DD HH:MM:SS.ffffff", UTC; the record path's isoformat() of the UTC
                  datetime is "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00" (no fraction when it is 0).
    boolean       0 or 1 (null kept).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson

from arena.record import Turn
from arena.store.bulk import RawBattle
from arena.store.rows import GENERATION_FIELDS

_TIMES = ("started_at", "first_token_at", "finished_at")


def loads(text: str | None) -> Any:
    """A stored JSON column's value (None for SQL null)."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses but json wrote (e.g. huge integers)
        return json.loads(text)


def iso(text: str | None) -> str | None:
    """`datetime.isoformat()` of a stored UTC time, from its stored text."""
    if text is None:
        return None
    fraction = text[20:26]
    if fraction == "000000" or not fraction:
        return f"{text[:10]}T{text[11:19]}+00:00"
    return f"{text[:10]}T{text[11:19]}.{fraction}+00:00"


def moment(text: str | None) -> datetime | None:
    """The stored UTC time as an aware datetime."""
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def flag(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def unescaped_json(text: str) -> str:
    """`json.dumps(value, ensure_ascii=False)` of the value stored as `text`."""
    if "\\u" not in text:
        return text
    return json.dumps(json.loads(text), ensure_ascii=False)


def _generation(row: dict[str, Any]) -> dict[str, Any]:
    values = {name: row[name] for name in GENERATION_FIELDS}
    for name in ("messages", "params", "extra"):
        values[name] = loads(values[name])
    for name in _TIMES:
        values[name] = iso(values[name])
    return values


def _turns(raw: RawBattle) -> list[dict[str, Any]]:
    return [{"index": turn["turn_index"], "prompt": turn["prompt"],
             "generation_a": _generation(raw.generations[(turn["position"], "a")]),
             "generation_b": _generation(raw.generations[(turn["position"], "b")])}
            for turn in raw.turns]


def record_dict(raw: RawBattle) -> dict[str, Any]:
    """`BattleRecord.to_dict()` of the stored battle (the JSONL line)."""
    b, vote = raw.battle, raw.vote
    discarded = loads(b["discarded_turns"]) or []
    return {
        "schema_version": b["schema_version"], "app_version": b["app_version"],
        "battle_id": b["battle_id"], "mode": b["mode"], "status": b["status"],
        "end_reason": b["end_reason"], "model_a": b["model_a"], "model_b": b["model_b"],
        "winner": vote["winner"] if vote else None,
        "system_prompt_a": b["system_prompt_a"], "system_prompt_b": b["system_prompt_b"],
        "conversation_a": loads(b["conversation_a"]), "conversation_b": loads(b["conversation_b"]),
        "turns": _turns(raw),
        "started_at": iso(b["started_at"]), "ended_at": iso(b["ended_at"]),
        "voted_at": iso(vote["voted_at"]) if vote else None,
        "rater_hash": b["rater_hash"], "pair_policy": b["pair_policy"],
        "pair_probability": b["pair_probability"], "side_seed": b["side_seed"],
        "flags": loads(b["flags"]), "language": b["language"], "category": b["category"],
        "replay_of": b["replay_of"], "publish_consent": flag(b["publish_consent"]),
        "terms_version": b["terms_version"], "labels": loads(b["labels"]) or [],
        "labeller_version": b["labeller_version"], "model_state_a": b["model_state_a"],
        "model_state_b": b["model_state_b"],
        # Rare: normalised through Turn exactly as the record path does.
        "discarded_turns": [Turn.from_dict(turn).to_dict() for turn in discarded],
        "reason_tags": (loads(vote["reason_tags"]) or []) if vote else [],
        "reason_comment": vote["reason_comment"] if vote else None,
        "judge": loads(b["judge"]),
    }


def _tstamp(raw: RawBattle) -> float:
    voted = raw.vote["voted_at"] if raw.vote else None
    return moment(voted or raw.battle["ended_at"]).timestamp()  # type: ignore[union-attr]


def clean_battle(raw: RawBattle) -> dict[str, Any]:
    """`to_clean_battle(record)` of the stored battle (FastChat's clean_battle dict)."""
    b, vote = raw.battle, raw.vote
    conversations = [[message for message in loads(b[name]) if message.get("role") != "system"]
                     for name in ("conversation_a", "conversation_b")]
    return {
        "question_id": b["battle_id"], "model_a": b["model_a"], "model_b": b["model_b"],
        "winner": vote["winner"] if vote else None, "judge": b["rater_hash"],
        "conversation_a": conversations[0], "conversation_b": conversations[1],
        "turn": len(raw.turns), "anony": b["mode"] == "anonymous", "language": b["language"],
        "tstamp": _tstamp(raw),
    }


def _token_sum(raw: RawBattle, side: str, name: str) -> int | None:
    known = [raw.generations[(turn["position"], side)][name] for turn in raw.turns]
    known = [value for value in known if value is not None]
    return sum(known) if known else None


def flat_row(raw: RawBattle) -> dict[str, Any]:
    """`arena.transfer.parquet.flat_row(record)` of the stored battle (the Parquet row)."""
    b, vote = raw.battle, raw.vote
    judge = loads(b["judge"]) or {}
    return {
        "battle_id": b["battle_id"], "model_a": b["model_a"], "model_b": b["model_b"],
        "winner": vote["winner"] if vote else None, "judge": b["rater_hash"],
        "tstamp": _tstamp(raw), "mode": b["mode"], "anony": b["mode"] == "anonymous",
        "status": b["status"], "end_reason": b["end_reason"], "turn": len(raw.turns),
        "prompt_tokens_a": _token_sum(raw, "a", "prompt_tokens"),
        "completion_tokens_a": _token_sum(raw, "a", "completion_tokens"),
        "prompt_tokens_b": _token_sum(raw, "b", "prompt_tokens"),
        "completion_tokens_b": _token_sum(raw, "b", "completion_tokens"),
        "flags": loads(b["flags"]),
        "conversation_a": unescaped_json(b["conversation_a"]),
        "conversation_b": unescaped_json(b["conversation_b"]),
        "system_prompt_a": b["system_prompt_a"], "system_prompt_b": b["system_prompt_b"],
        "language": b["language"], "category": b["category"],
        "pair_policy": b["pair_policy"], "pair_probability": b["pair_probability"],
        "side_seed": b["side_seed"], "replay_of": b["replay_of"],
        "started_at": moment(b["started_at"]), "ended_at": moment(b["ended_at"]),
        "voted_at": moment(vote["voted_at"]) if vote else None,
        "schema_version": b["schema_version"], "app_version": b["app_version"],
        "publish_consent": flag(b["publish_consent"]), "terms_version": b["terms_version"],
        "labels": loads(b["labels"]) or [], "labeller_version": b["labeller_version"],
        "model_state_a": b["model_state_a"], "model_state_b": b["model_state_b"],
        "judge_model": judge.get("model"), "judge_order": judge.get("order"),
        "judge_template_hash": judge.get("template_hash"),
    }
