"""What the live-state calls answer: rate-limit decisions, vote admissions, the cached
leaderboard, and the error every call raises when Redis cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class LiveStateUnavailable(RuntimeError):
    """Redis cannot be reached (down, wrong URL, timed out); the message says where and why."""


@dataclass(frozen=True)
class RateLimitDecision:
    """The outcome of one hit on a rate limit.

    ``remaining`` hits are left in the current window of at most ``limit`` hits; when
    ``allowed`` is False the window reopens in ``retry_after_s`` seconds.
    """

    allowed: bool
    remaining: int
    retry_after_s: float
    limit: int

    @classmethod
    def of_hit(cls, allowed: bool, hits: Any, ttl_ms: Any, limit: int) -> RateLimitDecision:
        """The decision for a hit that made the window's count `hits`, `ttl_ms` ms before the
        window closes (as the rate-limit Lua reports them)."""
        return cls(
            allowed=allowed,
            remaining=max(limit - int(hits), 0),
            retry_after_s=0.0 if allowed else int(ttl_ms) / 1000,
            limit=limit,
        )


@dataclass(frozen=True)
class VoteAdmission:
    """What `LiveState.admit_stored_vote` found, in one atomic step.

    ``outcome`` is ``missing`` (no state stored: Redis lost it or it expired), ``not_owner``
    (another rater's battle), ``not_ready`` (its status is not the votable one; ``state`` is
    its state), ``limited`` (the rater's vote rate limit refused it; ``decision`` says until
    when), ``taken`` (another vote holds the battle's claim) or ``admitted`` (counted and
    claimed by this caller; ``state`` is the battle's state). Nothing was counted or claimed
    for ``missing``, ``not_owner`` and ``not_ready``, and ``decision`` is then None.
    """

    outcome: str
    state: dict[str, Any] | None
    decision: RateLimitDecision | None


@dataclass(frozen=True)
class CachedLeaderboard:
    """A leaderboard as stored: the JSON-able table, when it was computed (Unix seconds), and
    how many votes it was computed from."""

    table: Any
    computed_at: float
    votes: int
