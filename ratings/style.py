"""Style control: how much of a model's rating is its answers' length and markdown.

Per battle and side we count, over the assistant messages of the conversation with fenced code
blocks (``` ... ```) removed:

- tokens: completion tokens (`tokens_a` / `tokens_b` columns when the log has them; otherwise
  whitespace-separated words of the answers, a stated approximation),
- headers: markdown header lines (`#` to `######` followed by a space),
- lists: list items (lines starting with `-`, `*`, `+` or `1.` followed by a space),
- bold: bold spans (`**text**` or `__text__`).

Precomputed columns `<feature>_a` / `<feature>_b` (e.g. `headers_a`) win over counting. Each
feature enters the contextual BT model (`ratings.contextual`) as the normalised difference
(a - b) / (a + b + 1), z-scored over the battles used, so a coefficient is the log-odds (or
Elo-point) effect of one standard deviation of that difference. No regularisation on the
coefficients.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd

from ratings.errors import BattleDataError, ConstantStyleFeature

_CODE = re.compile(r"```.*?(?:```|\Z)", re.S)
_HEADER = re.compile(r"^#{1,6}\s+\S", re.M)
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.M)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")


def _assistant_text(conversation: Any) -> str | None:
    if conversation is None or (isinstance(conversation, float) and np.isnan(conversation)):
        return None
    if isinstance(conversation, str):
        try:
            conversation = json.loads(conversation)
        except json.JSONDecodeError:
            return conversation
    parts = []
    for message in conversation:
        if isinstance(message, dict) and message.get("role") in ("assistant", "gpt"):
            content = message.get("content")
            parts.append(content if isinstance(content, str) else "")
    return "\n".join(parts)


def markdown_counts(text: str) -> dict[str, int]:
    """Header lines, list items, bold spans and words of `text`, code blocks excluded."""
    prose = _CODE.sub("", text)
    return {
        "headers": len(_HEADER.findall(prose)),
        "lists": len(_LIST.findall(prose)),
        "bold": len(_BOLD.findall(prose)),
        "words": len(text.split()),
    }


def style_counts(battles: pd.DataFrame, features: tuple[str, ...]) -> pd.DataFrame:
    """Raw per-side counts: columns `<feature>_a`, `<feature>_b` for each feature."""
    out = pd.DataFrame(index=battles.index)
    need_text = [f for f in features if f"{f}_a" not in battles.columns
                 or f"{f}_b" not in battles.columns]
    counted: dict[str, list[dict[str, int]]] = {}
    if need_text:
        for side in ("a", "b"):
            column = f"conversation_{side}"
            if column not in battles.columns:
                raise BattleDataError(
                    f"style control needs {', '.join(f'{f}_a/{f}_b' for f in need_text)} "
                    f"columns or conversation_a/conversation_b to count them from"
                )
            texts = [_assistant_text(c) for c in battles[column].tolist()]
            missing = [i for i, t in enumerate(texts) if t is None]
            if missing:
                rows = battles["source_row"].iloc[missing[:10]].tolist()
                raise BattleDataError(
                    f"style control: {column} is empty at row(s) {rows}; drop those battles "
                    "or provide precomputed feature columns"
                )
            counted[side] = [markdown_counts(t) for t in texts]
    for feature in features:
        for side in ("a", "b"):
            column = f"{feature}_{side}"
            if column in battles.columns and battles[column].notna().all():
                out[column] = battles[column].to_numpy(dtype=float)
            elif feature == "tokens":
                out[column] = [c["words"] for c in counted[side]]
            else:
                out[column] = [c[feature] for c in counted[side]]
    return out


def style_design(counts: pd.DataFrame, features: tuple[str, ...]) -> tuple[np.ndarray, dict]:
    """z-scored normalised differences (battles x features), and the (mean, sd) used."""
    columns = []
    stats: dict[str, dict[str, float]] = {}
    for feature in features:
        a = counts[f"{feature}_a"].to_numpy(dtype=float)
        b = counts[f"{feature}_b"].to_numpy(dtype=float)
        diff = (a - b) / (a + b + 1.0)
        mean, sd = float(diff.mean()), float(diff.std())
        if sd == 0:
            raise ConstantStyleFeature(feature)
        columns.append((diff - mean) / sd)
        stats[feature] = {"mean": mean, "sd": sd}
    return np.column_stack(columns), stats
