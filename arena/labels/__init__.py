"""Automatic labels on every battle: language, code, math, multi-turn, long query and the
hard-prompt criteria (docs/categories.md).

`label_record(record)` returns the record with `labels`, `language` and `labeller_version`
set by the heuristic labeller (pure and fast; the battle service calls it on every record it
writes, imports call it on every record they read). `arena label` (re)labels a whole log, with
the LLM labeller (arena.labels.llm) for the hard-prompt criteria when asked.
"""

from arena.labels.hard import CRITERIA, HARD_MIN
from arena.labels.labeller import (
    HARD_PREFIX,
    LABELLER_VERSION,
    LONG_QUERY_TOKENS,
    Labels,
    label_prompts,
    label_record,
)

__all__ = [
    "CRITERIA",
    "HARD_MIN",
    "HARD_PREFIX",
    "LABELLER_VERSION",
    "LONG_QUERY_TOKENS",
    "Labels",
    "label_prompts",
    "label_record",
]
