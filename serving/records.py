"""What one generation was: the record the streaming client returns for the battle log.

`serving` knows nothing about votes; this record only describes a single request to one model
endpoint, in enough detail to replay it: the exact messages, every sampling parameter actually
sent, the seed, timings and token counts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Sampling parameters that are always sent explicitly, because vLLM fills unset ones from the
# model's generation_config.json and the log would then not say what was used.
SAMPLING_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "max_tokens",
    "seed",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
    "stop",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


@dataclass
class GenerationRecord:
    """One streamed completion, successful or not.

    Times are timezone-aware UTC datetimes; token counts come from the server's usage report.
    `params` holds every sampling parameter sent in the request body (keys of
    `SAMPLING_KEYS`, plus any extras), `seed` repeats `params["seed"]` for convenience.
    """

    endpoint: str
    served_model: str
    messages: list[dict[str, str]]
    params: dict[str, Any]
    seed: int | None = None
    output: str = ""
    started_at: datetime | None = None
    first_token_at: datetime | None = None
    finished_at: datetime | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    system_fingerprint: str | None = None
    response_model: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the generation finished without an error."""
        return self.error is None and self.finished_at is not None

    @property
    def time_to_first_token_s(self) -> float | None:
        """Seconds from sending the request to the first content token."""
        if self.started_at is None or self.first_token_at is None:
            return None
        return (self.first_token_at - self.started_at).total_seconds()

    @property
    def total_time_s(self) -> float | None:
        """Seconds from sending the request to the end of the stream."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; datetimes become ISO 8601 strings.

        Shares nothing mutable with the record, like `dataclasses.asdict`, but without its deep
        copy of every message string by string (strings are immutable).
        """
        return {
            "endpoint": self.endpoint,
            "served_model": self.served_model,
            "messages": [dict(message) for message in self.messages],
            "params": copy.deepcopy(self.params),
            "seed": self.seed,
            "output": self.output,
            "started_at": _iso(self.started_at),
            "first_token_at": _iso(self.first_token_at),
            "finished_at": _iso(self.finished_at),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "finish_reason": self.finish_reason,
            "system_fingerprint": self.system_fingerprint,
            "response_model": self.response_model,
            "error": self.error,
            "extra": copy.deepcopy(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRecord:
        """Inverse of `to_dict`; unknown keys raise TypeError."""
        values = dict(data)
        for key in ("started_at", "first_token_at", "finished_at"):
            values[key] = _parse_time(values.get(key))
        return cls(**values)
