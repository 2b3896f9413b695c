"""Checks on what a rater sends and on what a model answers: every text field (length, NUL,
lone surrogates, control characters), the prompt, the category, the pair of a named battle, who
owns a battle, whether it takes a vote, outputs that name their model, and the words shown for a
side's failure. Each refusal says what was wrong and what to do.

Text is checked before anything is stored: a NUL is refused by PostgreSQL (and would fail the
SQL write of the battle), a lone surrogate cannot be encoded to UTF-8 (Redis, SQL and JSON all
need it), and control characters have no place in a prompt or a name.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

from arena.battles.state import NOT_YOURS, READY, closed_reason
from arena.errors import BadInput, BattleNotFound, NotYourBattle, PromptTooLong, VoteConflict
from arena.record import WINNERS, Consent

MODES = ("anonymous", "named")
# What a rater sees when one side fails, before the vote: the same words whichever model failed
# and however (a timeout, an HTTP error, a lost connection), so the failure narrows nothing; the
# full error is in the battle's record.
SIDE_FAILED = "This side failed to answer."

# Longest battle id, category, model name, consent terms version or idempotency key accepted,
# in characters (battle ids are 32 hex digits; the rest are names an operator chose).
MAX_NAME_CHARS = 128
# Characters refused in any text: NUL and every C0/C1 control character except tab, newline
# and carriage return; and lone surrogates (a str that cannot be encoded to UTF-8).
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Also refused in a one-line name (ids, category, model, winner, key): tab, newline, CR.
_LINE_BREAKS = re.compile(r"[\t\n\r]")
# Battle ids and idempotency keys: letters, digits, '-', '_', '.', ':'.
_TOKEN = re.compile(r"[A-Za-z0-9._:-]+")


class InvalidField(BadInput):
    """A text field the arena refuses (too long, NUL, lone surrogate, control character, not
    one of the allowed values); the message names the field and says what to do."""

    status = 422
    code = "invalid_field"


def preview(value: object, limit: int = 40) -> str:
    """`value` for a refusal message: its repr, cut to about `limit` characters (a refusal
    must not echo a 50 MB field back)."""
    shown = repr(value)
    return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(str(value))} chars)"


def check_text(value: object, field: str, *, max_chars: int, one_line: bool = False) -> str:
    """`value` if it is a str of at most `max_chars` characters without NUL, lone surrogates or
    control characters (other than tab, newline, CR; none of those either when `one_line`);
    InvalidField naming `field` otherwise."""
    if not isinstance(value, str):
        raise InvalidField(f"{field} must be text, got {type(value).__name__}")
    if len(value) > max_chars:
        raise InvalidField(
            f"{field} has {len(value)} characters; the limit is {max_chars}. Shorten it")
    bad = _FORBIDDEN.search(value) or (one_line and _LINE_BREAKS.search(value))
    if bad:
        char = bad.group()
        what = ("a NUL character" if char == "\x00"
                else "a lone surrogate (text that is not valid Unicode)"
                if "\ud800" <= char <= "\udfff"
                else "a tab or line break" if char in "\t\n\r"
                else f"the control character U+{ord(char):04X}")
        accepted = ("printable text on one line" if one_line
                    else "printable text, tabs and line breaks")
        raise InvalidField(f"{field} contains {what} at position {bad.start()}; remove it and "
                           f"send again (only {accepted} is accepted)")
    return value


def check_token(value: object, field: str) -> str:
    """`value` if it is a non-empty id made of letters, digits and ``._:-`` of at most
    MAX_NAME_CHARS characters (a battle id, an idempotency key); InvalidField otherwise."""
    text = check_text(value, field, max_chars=MAX_NAME_CHARS, one_line=True)
    if not _TOKEN.fullmatch(text):
        raise InvalidField(
            f"{field} {preview(text)} is not an id: use 1 to {MAX_NAME_CHARS} letters, "
            "digits, '.', '_', ':' or '-'")
    return text


def check_category(category: object, allowed: Collection[str]) -> str | None:
    """`category` if it is None or one of `allowed` (the configured categories; none
    configured: it must be None); InvalidField otherwise."""
    if category is None:
        return None
    text = check_text(category, "category", max_chars=MAX_NAME_CHARS, one_line=True)
    if text not in allowed:
        if not allowed:
            raise InvalidField("category: this arena has no categories; leave it out (null)")
        raise InvalidField(
            f"category {preview(text)} is not one of {', '.join(map(repr, sorted(allowed)))}; "
            "choose one of them or leave it out (null)")
    return text


def check_prompt(prompt: str, max_chars: int, field: str = "prompt") -> str:
    """`prompt` if it is non-empty text of at most `max_chars` characters (`check_text`);
    BadInput, PromptTooLong or InvalidField (naming `field`) otherwise."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadInput(f"the {field} is empty; type a question or instruction first")
    if len(prompt) > max_chars:
        raise PromptTooLong(
            f"the {field} has {len(prompt)} characters; the limit is "
            f"{max_chars}. Shorten it and send again"
        )
    return check_text(prompt, field, max_chars=max_chars)


def check_consent_text(consent: Consent | None) -> Consent | None:
    """`consent` if its terms version is acceptable text (`check_text`); whether it names the
    terms in force is `arena.consent.check_consent`'s question."""
    if consent is not None and isinstance(consent, Consent):
        check_text(consent.terms_version, "terms_version", max_chars=MAX_NAME_CHARS,
                   one_line=True)
    return consent


def check_winner(winner: object) -> str:
    """`winner` if it is one of FastChat's words (`arena.record.WINNERS`); BadInput else."""
    if winner not in WINNERS:
        raise BadInput(
            f"winner {preview(winner)} is not one of {', '.join(repr(w) for w in WINNERS)}")
    return winner  # type: ignore[return-value]


def check_mode(mode: str) -> str:
    """`mode` if the service starts battles in it (BadInput otherwise)."""
    if mode not in MODES:
        raise BadInput(f"mode {preview(mode)} is not 'anonymous' or 'named'")
    return mode


def check_named(models: Sequence[str] | None, known: Collection[str]) -> tuple[str, str]:
    """(left, right) of a named battle: two different models among `known`; BadInput else."""
    if not models or len(models) != 2:
        raise BadInput("named mode needs two models: choose one for each side")
    left, right = models
    for name in (left, right):
        check_text(name, "models", max_chars=MAX_NAME_CHARS, one_line=True)
        if name not in known:
            raise BadInput(
                f"unknown model {preview(name)}; choose one of {', '.join(sorted(known))}"
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
