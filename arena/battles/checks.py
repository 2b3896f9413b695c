"""Checks on what a rater sends and on what a model answers: the prompt, the pair of a named
battle, who owns a battle, whether it takes a vote, outputs that name their model, and the
words shown for a side's failure. Each refusal says what was wrong and what to do."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

from arena.battles.state import NOT_YOURS, READY, closed_reason
from arena.errors import BadInput, BattleNotFound, NotYourBattle, PromptTooLong, VoteConflict

MODES = ("anonymous", "named")
# What a rater sees when one side fails, before the vote: the same words whichever model failed
# and however (a timeout, an HTTP error, a lost connection), so the failure narrows nothing; the
# full error is in the battle's record.
SIDE_FAILED = "This side failed to answer."


def check_prompt(prompt: str, max_chars: int) -> str:
    """`prompt` if it is a non-empty string of at most `max_chars` characters; BadInput or
    PromptTooLong otherwise."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadInput("the prompt is empty; type a question or instruction first")
    if len(prompt) > max_chars:
        raise PromptTooLong(
            f"the prompt has {len(prompt)} characters; the limit is "
            f"{max_chars}. Shorten it and send again"
        )
    return prompt


def check_mode(mode: str) -> str:
    """`mode` if the service starts battles in it (BadInput otherwise)."""
    if mode not in MODES:
        raise BadInput(f"mode {mode!r} is not 'anonymous' or 'named'")
    return mode


def check_named(models: Sequence[str] | None, known: Collection[str]) -> tuple[str, str]:
    """(left, right) of a named battle: two different models among `known`; BadInput else."""
    if not models or len(models) != 2:
        raise BadInput("named mode needs two models: choose one for each side")
    left, right = models
    for name in (left, right):
        if name not in known:
            raise BadInput(
                f"unknown model {name!r}; choose one of {', '.join(sorted(known))}"
            )
    if left == right:
        raise BadInput("choose two different models")
    return left, right


def check_owner(state: dict[str, Any] | None, battle_id: str, owner: str) -> dict[str, Any]:
    """`state` if the battle exists and is `owner`'s; BattleNotFound or NotYourBattle else."""
    if state is None:
        raise BattleNotFound(
            f"battle {battle_id} is unknown or expired; start a new round"
        )
    if state["owner"] != owner:
        raise NotYourBattle(NOT_YOURS)
    return state


def check_votable(state: dict[str, Any] | None, battle_id: str, owner: str) -> dict[str, Any]:
    """`state` if it is `owner`'s battle and ready for a vote; raises why not."""
    state = check_owner(state, battle_id, owner)
    if state["status"] != READY:
        raise VoteConflict(closed_reason(state))
    return state


def find_identity_leak(output: str, words: Sequence[str]) -> str | None:
    """The first identity word found in `output` on word boundaries (case-insensitive), or None.

    Only model outputs are checked: a user who types a model's name in the prompt does not flag
    the battle.
    """
    for word in words:
        if word and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", output, re.IGNORECASE):
            return word
    return None
