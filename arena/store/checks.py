"""Type checks a battle record must pass before it is stored.

`BattleRecord.validate` checks the rules of the record (known mode, winner, timezones). A
record built from JSON can still carry a number where a name belongs, or a float that JSON
cannot hold; SQLite would store such values and give back something else, so the round trip
would no longer be exact. `check_storable` runs both checks and names the offending field.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from arena.record import BattleRecord, InvalidRecord
from serving.records import GenerationRecord

MAX_ID_LENGTH = 200  # the width of the battle_id column
_INT64 = (-(2**63), 2**63 - 1)


def check_storable(record: BattleRecord) -> None:
    """Raise InvalidRecord (naming the field) unless `record` can be stored and read back."""
    if not isinstance(record, BattleRecord):
        raise InvalidRecord(f"expected a BattleRecord, got {type(record).__name__}")
    for name in ("battle_id", "mode", "model_a", "model_b", "status", "rater_hash"):
        _expect_str(getattr(record, name), name)
    for name in ("system_prompt_a", "system_prompt_b", "pair_policy", "app_version"):
        _expect_str(getattr(record, name), name)
    for name in ("winner", "end_reason", "language", "category", "replay_of"):
        _expect_str(getattr(record, name), name, optional=True)
    for name in ("started_at", "ended_at"):
        _expect_time(getattr(record, name), name)
    _expect_time(record.voted_at, "voted_at", optional=True)
    _expect_int(record.schema_version, "schema_version")
    _expect_int(record.side_seed, "side_seed", optional=True)
    if record.pair_probability is not None:
        _expect_number(record.pair_probability, "pair_probability")
    _expect_messages(record.conversation_a, "conversation_a")
    _expect_messages(record.conversation_b, "conversation_b")
    if not isinstance(record.flags, list) or not all(isinstance(f, str) for f in record.flags):
        raise InvalidRecord("flags must be a list of strings")
    if not isinstance(record.turns, list):
        raise InvalidRecord("turns must be a list")
    for name in ("turns", "discarded_turns"):
        for position, turn in enumerate(getattr(record, name)):
            where = f"{name}[{position}]"
            _expect_int(turn.index, f"{where}.index")
            _expect_str(turn.prompt, f"{where}.prompt")
            _check_generation(turn.generation_a, f"{where}.generation_a")
            _check_generation(turn.generation_b, f"{where}.generation_b")
    _expect_str(record.reason_comment, "reason_comment", optional=True)
    if record.judge is not None:
        _expect_json(record.judge, "judge")
    record.validate()
    if len(record.battle_id) > MAX_ID_LENGTH:
        raise InvalidRecord(f"battle_id is longer than {MAX_ID_LENGTH} characters")
    if record.replay_of is not None and len(record.replay_of) > MAX_ID_LENGTH:
        raise InvalidRecord(f"replay_of is longer than {MAX_ID_LENGTH} characters")
    if record.winner is None and record.voted_at is not None:
        raise InvalidRecord("voted_at is set but there is no winner")


def _check_generation(generation: Any, where: str) -> None:
    if not isinstance(generation, GenerationRecord):
        raise InvalidRecord(f"{where} is not a generation record")
    for name in ("endpoint", "served_model", "output"):
        _expect_str(getattr(generation, name), f"{where}.{name}")
    for name in ("finish_reason", "system_fingerprint", "response_model", "error"):
        _expect_str(getattr(generation, name), f"{where}.{name}", optional=True)
    for name in ("seed", "prompt_tokens", "completion_tokens"):
        _expect_int(getattr(generation, name), f"{where}.{name}", optional=True)
    for name in ("started_at", "first_token_at", "finished_at"):
        _expect_time(getattr(generation, name), f"{where}.{name}", optional=True)
    _expect_messages(generation.messages, f"{where}.messages")
    for name in ("params", "extra"):
        value = getattr(generation, name)
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise InvalidRecord(f"{where}.{name} must be an object with string keys")
        _expect_json(value, f"{where}.{name}")


def _expect_str(value: Any, name: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise InvalidRecord(f"{name} must be a string, got {type(value).__name__}")


def _expect_int(value: Any, name: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRecord(f"{name} must be an integer, got {type(value).__name__}")
    if not _INT64[0] <= value <= _INT64[1]:
        raise InvalidRecord(f"{name} {value} does not fit in 64 bits")


def _expect_number(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecord(f"{name} must be a number, got {type(value).__name__}")


def _expect_time(value: Any, name: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, datetime):
        raise InvalidRecord(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        raise InvalidRecord(f"{name} has no timezone; use UTC")


def _expect_messages(value: Any, name: str) -> None:
    if not isinstance(value, list):
        raise InvalidRecord(f"{name} must be a list of messages")
    plain = True
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidRecord(f"{name}[{i}] must be an object with a string 'role'")
        plain = plain and all(isinstance(k, str) and isinstance(v, str) for k, v in message.items())
    if not plain:  # string-only messages are JSON by construction; check the rest
        _expect_json(value, name)


def _expect_json(value: Any, name: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as bad:
        raise InvalidRecord(f"{name} cannot be stored as JSON: {bad}") from None
