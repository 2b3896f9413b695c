"""Who may start a battle and whose vote counts: the per-rater limits on new battles (a minute)
and votes (an hour), the one claim each battle's vote may hold, and what happens when Redis,
which keeps both, is down.

New battles need Redis (Unavailable without it). A vote does not: a battle that already
streamed is still votable on this process's copy, counted rather than lost for want of a rate
counter, and SQL's unique battle id still guarantees one vote per battle.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from arena.battles.checks import check_votable
from arena.battles.running import RunningBattles
from arena.battles.state import ALREADY_VOTED, NOT_YOURS, READY, VOTED, closed_reason
from arena.config import ArenaSettings
from arena.errors import NotYourBattle, RateLimited, Unavailable, VoteConflict
from arena.live import LiveState, LiveStateUnavailable, RateLimitDecision

log = logging.getLogger(__name__)

T = TypeVar("T")
VOTE_WINDOW_S = 3600  # the vote limit counts votes per hour
LIVE_STATE_DOWN = ("the arena's live-state store (Redis) is unavailable, so no new battle "
                   "can start; try again in a minute")


async def unless_redis_down(awaitable: Awaitable[T]) -> T:
    """The result of a Redis call a new battle needs; Unavailable when Redis is unreachable."""
    try:
        return await awaitable
    except LiveStateUnavailable as down:
        # The detail (the address, "full", the error) is for the operator's log only.
        log.warning("live state unavailable for a new battle: %s", down)
        raise Unavailable(LIVE_STATE_DOWN) from None


def vote_limit_refusal(decision: RateLimitDecision) -> RateLimited:
    """The refusal of a vote beyond the rater's hourly limit."""
    return RateLimited(
        f"too many votes: the limit is {decision.limit} per hour; "
        f"try again in {decision.retry_after_s:.0f} s",
        retry_after_s=decision.retry_after_s,
    )


class AlreadyVoted(VoteConflict):
    """The battle has its vote (or one is being recorded). `state` is its voted state when
    Redis still holds it (the service answers a retry of that same vote from it)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        super().__init__(ALREADY_VOTED)
        self.state = state


class Admission:
    """The rate limits and vote claims of one arena, kept in Redis."""

    def __init__(self, live: LiveState, settings: ArenaSettings,
                 battles: RunningBattles) -> None:
        self.live = live
        self.settings = settings
        self.battles = battles

    async def admit_new_battle(self, owner: str) -> None:
        """Count one new battle against the rater's per-minute limit: RateLimited beyond it,
        Unavailable when Redis is down (votes are admitted by `admit_vote`)."""
        limit = self.settings.battles_per_minute
        try:
            decision = await self.live.allow_battle(owner, limit)
        except LiveStateUnavailable:
            raise Unavailable(LIVE_STATE_DOWN) from None
        if not decision.allowed:
            raise RateLimited(
                f"too many new battles: the limit is {limit} per minute; "
                f"try again in {decision.retry_after_s:.0f} s",
                retry_after_s=decision.retry_after_s,
            )

    async def admit_vote(self, battle_id: str, owner: str) -> dict[str, Any]:
        """The battle's state, once this vote is admitted: the battle is `owner`'s and ready,
        the vote is within the rater's hourly limit, and this caller holds its vote claim.

        One Redis round trip (`LiveState.admit_stored_vote`) reads, checks, counts and claims
        atomically. When Redis lost the battle's state (flushed), this process's own copy
        stands in and the limit and claim are taken separately. When Redis is down, the copy
        stands in unchecked (see the module docstring). Raises BattleNotFound, NotYourBattle,
        VoteConflict (AlreadyVoted when the battle has its vote) or RateLimited.
        """
        try:
            admission = await self.live.admit_stored_vote(
                battle_id, owner, votable_status=READY,
                limit=self.settings.votes_per_hour, window_s=VOTE_WINDOW_S,
            )
        except LiveStateUnavailable as down:
            log.warning("vote rate limit and claim not checked: %s", down)
            return check_votable(self.battles.local(battle_id), battle_id, owner)
        if admission.outcome == "missing":
            state = check_votable(self.battles.local(battle_id), battle_id, owner)
            if not await self._count_and_claim(battle_id, owner):
                raise AlreadyVoted()
            return state
        if admission.outcome == "not_owner":
            raise NotYourBattle(NOT_YOURS)
        if admission.outcome == "not_ready":
            if admission.state is not None and admission.state.get("status") == VOTED:
                raise AlreadyVoted(admission.state)
            raise VoteConflict(closed_reason(admission.state or {}))
        if admission.outcome == "limited":
            assert admission.decision is not None
            raise vote_limit_refusal(admission.decision)
        if admission.outcome == "taken":
            raise AlreadyVoted()
        assert admission.state is not None
        return admission.state

    async def release_vote(self, battle_id: str) -> None:
        """Give up this caller's vote claim (its SQL write failed), if Redis can be reached."""
        try:
            await self.live.release_vote(battle_id)
        except LiveStateUnavailable:
            pass

    async def _count_and_claim(self, battle_id: str, owner: str) -> bool:
        """Count the vote against the rater's hourly limit (RateLimited beyond it) and claim
        the battle's vote; False when another vote holds the claim. For a battle whose state
        Redis does not hold (see `admit_vote`)."""
        try:
            decision, claimed = await self.live.admit_vote(
                battle_id, owner, limit=self.settings.votes_per_hour, window_s=VOTE_WINDOW_S)
        except LiveStateUnavailable as down:
            log.warning("vote rate limit and claim not checked: %s", down)
            return True
        if not decision.allowed:
            raise vote_limit_refusal(decision)
        return claimed
