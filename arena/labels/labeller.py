"""The heuristic labeller: a battle's labels from its prompts, pure and fast (no model, no
network; the language model of py3langid is loaded once per process).

Labels (docs/categories.md has the full vocabulary and the rules):

    lang:<code>     the primary language of the prompts (ISO 639-1), also kept in `language`
    code            a prompt asks for or contains code (arena.labels.programming)
    math            a prompt asks a mathematical question (arena.labels.mathematics)
    multi_turn      more than one prompt (turn)
    long_query      the prompts together hold at least LONG_QUERY_TOKENS tokens
                    (arena.labels.text.token_estimate)
    hard:<name>     each hard-prompt criterion the prompts meet (arena.labels.hard)
    hard_prompt     at least HARD_MIN of the seven criteria

The prompts are read together, as one text: a category describes the battle, and a second
turn that adds the constraint makes the first one specific. Language, code, math and the
criteria read the first MAX_READ_CHARS characters of it (the tokens of long_query count all):
that bounds the time a battle takes to label, on the vote path, whatever an import holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from arena.labels.hard import HARD_MIN, PromptFacts, criteria_met
from arena.labels.language import detect_language
from arena.labels.mathematics import math_kind
from arena.labels.programming import is_code
from arena.labels.text import prompts_of, token_estimate
from arena.record import BattleRecord

# Bump whenever a rule, a cue list or the language model changes what a prompt is labelled,
# so that `arena label` knows which battles to label again.
LABELLER_VERSION = "heuristic-1"
LONG_QUERY_TOKENS = 500
MAX_READ_CHARS = 20_000
HARD_PREFIX = "hard:"


@dataclasses.dataclass(frozen=True)
class Labels:
    """The labeller's answer for one battle: the sorted label list and the primary language."""

    labels: list[str]
    language: str | None


def label_prompts(prompts: Sequence[str]) -> Labels:
    """The labels of a battle whose rater wrote `prompts` (in order)."""
    whole = "\n\n".join(prompts)
    if not whole.strip():
        return Labels(labels=[], language=None)
    text = whole[:MAX_READ_CHARS]
    language = detect_language(text)
    kind = math_kind(text)
    facts = PromptFacts(text=text, tokens=token_estimate(whole), code=is_code(text),
                        math=kind is not None, advanced_math=kind == "advanced")
    labels: set[str] = set()
    if language is not None:
        labels.add(f"lang:{language}")
    if facts.code:
        labels.add("code")
    if facts.math:
        labels.add("math")
    if len(prompts) > 1:
        labels.add("multi_turn")
    if facts.tokens >= LONG_QUERY_TOKENS:
        labels.add("long_query")
    criteria = criteria_met(facts)
    labels.update(HARD_PREFIX + name for name in criteria)
    if len(criteria) >= HARD_MIN:
        labels.add("hard_prompt")
    return Labels(labels=sorted(labels), language=language)


def label_record(record: BattleRecord) -> BattleRecord:
    """A copy of `record` with `labels`, `language` and `labeller_version` set by this
    labeller (the rater's category, if any, is kept: it is a separate field). A record
    without prompt text (an import that kept no conversation) keeps the language it came
    with: there is nothing to read it from."""
    prompts = prompts_of(record)
    found = label_prompts(prompts)
    language = found.language if any(p.strip() for p in prompts) else record.language
    return dataclasses.replace(record, labels=found.labels, language=language,
                               labeller_version=LABELLER_VERSION)
