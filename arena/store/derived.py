"""Values derived from a battle when it is stored, so that ratings never re-read its text.

Per battle and side (columns of `battle`, store schema version 5), counted exactly as
`ratings.style` counts them from an export of the log (`ratings.io` reading our JSONL):

    tokens_a/_b    completion tokens summed over the turns; null when a turn lacks the count
                   (the ratings then count words for every battle, as they do on a file)
    words_a/_b     whitespace-separated words of the side's assistant messages
    headers_a/_b, lists_a/_b, bold_a/_b
                   markdown header lines, list items and bold spans of those messages with
                   fenced code blocks removed (`ratings.style.markdown_counts`)

Per generation (columns of `generation`): `ttft_s` = first_token_at - started_at and
`tokens_per_s` = completion_tokens / (finished_at - first_token_at), in seconds, from the same
instants `ratings.timings.generation_speed` reads in an export (null where it gives NaN).

`record_to_rows` fills them on every write; migration r0005 backfills older rows with the
same functions, so a stored battle never depends on when it was written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ratings.style import markdown_counts
from ratings.timings import generation_speed

MARKDOWN_FEATURES = ("words", "headers", "lists", "bold")
STYLE_COLUMNS = tuple(f"{feature}_{side}" for feature in ("tokens", *MARKDOWN_FEATURES)
                      for side in ("a", "b"))
SPEED_COLUMNS = ("ttft_s", "tokens_per_s")
# Roles whose messages are answers (FastChat's dumps say "gpt"), as ratings.style reads them.
ANSWER_ROLES = ("assistant", "gpt")


def answer_text(conversation: Iterable[Any]) -> str:
    """The side's answers joined by newlines (a message without text content adds "")."""
    parts = []
    for message in conversation:
        if isinstance(message, Mapping) and message.get("role") in ANSWER_ROLES:
            content = message.get("content")
            parts.append(content if isinstance(content, str) else "")
    return "\n".join(parts)


def side_tokens(completion_tokens: Sequence[int | None]) -> int | None:
    """Completion tokens summed over a side's turns; None without turns or when one lacks
    the count (`ratings.io` gives NaN then)."""
    if not completion_tokens or any(count is None for count in completion_tokens):
        return None
    return int(sum(int(count) for count in completion_tokens))  # type: ignore[arg-type]


def style_columns(conversation_a: Iterable[Any], conversation_b: Iterable[Any],
                  tokens_a: Sequence[int | None], tokens_b: Sequence[int | None]
                  ) -> dict[str, int | None]:
    """The battle's STYLE_COLUMNS from its two conversations and each side's completion
    tokens per turn (in turn order)."""
    columns: dict[str, int | None] = {}
    for side, conversation, tokens in (("a", conversation_a, tokens_a),
                                       ("b", conversation_b, tokens_b)):
        counts = markdown_counts(answer_text(conversation))
        columns[f"tokens_{side}"] = side_tokens(tokens)
        for feature in MARKDOWN_FEATURES:
            columns[f"{feature}_{side}"] = int(counts[feature])
    return columns


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def speed_columns(started_at: datetime | None, first_token_at: datetime | None,
                  finished_at: datetime | None, completion_tokens: int | None
                  ) -> dict[str, float | None]:
    """`ttft_s` and `tokens_per_s` of one generation (None where the log lacks what is
    needed), through `ratings.timings.generation_speed`: the same floats a rating of the
    exported log computes."""
    ttft, speed = generation_speed({
        "started_at": _epoch(started_at), "first_token_at": _epoch(first_token_at),
        "finished_at": _epoch(finished_at), "completion_tokens": completion_tokens})
    return {"ttft_s": None if math.isnan(ttft) else ttft,
            "tokens_per_s": None if math.isnan(speed) else speed}
