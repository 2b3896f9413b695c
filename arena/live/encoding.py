"""How live state is written into Redis: pair-count fields, battle states as JSON, durations
in milliseconds, and key prefixes made safe for SCAN's glob patterns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


def pair_field(model_a: str, model_b: str) -> str:
    """The hash field of an unordered pair of models: both names, sorted, joined by a newline.

    A newline, which no model name may contain, keeps the field unambiguous and is much
    cheaper to split than JSON to parse when the sampler reads every pair per battle.
    """
    if model_a == model_b:
        raise ValueError(f"a pair needs two different models, got {model_a!r} twice")
    if "\n" in model_a or "\n" in model_b:
        raise ValueError(f"model names must not contain a newline: {model_a!r}, {model_b!r}")
    return "\n".join(sorted((model_a, model_b)))


def pair_of_field(field: str) -> frozenset[str]:
    """The unordered pair that `pair_field` wrote as ``field``."""
    return frozenset(field.split("\n"))


def encode_state(state: Mapping[str, Any]) -> bytes:
    """A battle state as JSON. orjson, because the state carries whole conversations and is
    written and read on every request."""
    return orjson.dumps(state)


def decode_state(raw: str | bytes) -> dict[str, Any]:
    """The battle state that `encode_state` wrote."""
    return orjson.loads(raw)


def duration_ms(seconds: float, what: str) -> int:
    """``seconds`` as whole milliseconds (at least 1); ValueError naming `what` unless
    positive."""
    if not seconds > 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {seconds!r}")
    return max(int(round(seconds * 1000)), 1)


def rate_window_ms(limit: int, window_s: float) -> int:
    """A rate limit's window in ms, after checking that it admits at least one hit."""
    if limit < 1:
        raise ValueError(f"rate limit must be at least 1, got {limit!r}")
    return duration_ms(window_s, "rate-limit window")


def glob_escaped(prefix: str) -> str:
    """``prefix`` with glob metacharacters escaped, so a prefix like "t[1]:" matches only
    itself in a SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in prefix)
