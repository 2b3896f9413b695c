"""Errors a user of the arena can cause, each with the HTTP status the REST API answers with.

Every message says what happened and what to do; the UI shows it verbatim and the API returns
it as `{"error": code, "detail": message}`.
"""

from __future__ import annotations


class ArenaError(Exception):
    """Base class: a refused request. `status` is the HTTP status code, `code` a stable slug."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class BadInput(ArenaError):
    status = 400
    code = "bad_input"


class NotYourBattle(ArenaError):
    status = 403
    code = "not_your_battle"


class BattleNotFound(ArenaError):
    status = 404
    code = "battle_not_found"


class VoteConflict(ArenaError):
    """Already voted, the last turn is still generating, or a side failed."""

    status = 409
    code = "conflict"


class PromptTooLong(ArenaError):
    status = 413
    code = "prompt_too_long"


class RateLimited(ArenaError):
    status = 429
    code = "rate_limited"


class Unavailable(ArenaError):
    """No healthy models, or the live-state store (Redis) is down."""

    status = 503
    code = "unavailable"
