"""Who may start a battle and whose vote counts: the per-rater limits on new battles (a minute)
and votes (an hour), the one claim each battle's vote may hold, and what happens when Redis,
which keeps both, is down.

New battles need Redis (Unavailable without it). A vote does not: a battle that already
streamed is still votable on this process's copy, counted rather than lost for want of a rate
counter, and SQL's unique battle id still guarantees one vote per battle.

A vote that finds the claim held by another request waits for it (arena.battles.vote_claims):
the first claimer wins while it is alive, and a claim whose worker is gone is taken over. A
vote on a battle still streaming on a worker that is gone ends it (arena.battles.lost_streams).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from arena.battles.checks import check_votable
from arena.battles.lost_streams import refuse_if_stream_lost
from arena.battles.running import RunningBattles
from arena.battles.state import ALREADY_VOTED, NOT_YOURS, READY, VOTED, closed_reason
from arena.battles.vote_claims import (
    ClaimOutcome,
    Released,
    Settled,
    TakenOver,
    await_claim,
    claim_value,
)
from arena.config import ArenaSettings
from arena.errors import NotYourBattle, RateLimited, Unavailable, VoteConflict
from arena.live import LiveState, LiveStateUnavailable, RateLimitDecision
from arena.live.presence import WorkerPresence

log = logging.getLogger(__name__)

T = TypeVar("T")
VOTE_WINDOW_S = 3600  # the vote limit counts votes per hour
# How many times a vote is admitted again after the claim it waited for was given back.
ADMIT_TRIES = 3
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
                 battles: RunningBattles, presence: WorkerPresence) -> None:
        self.live = live
        self.settings = settings
        self.battles = battles
        self.presence = presence
        # How long a vote waits for another request's live claim, seconds (None: long enough
        # to see a dead claimer's presence lapse, `vote_claims.default_wait_s`).
        self.claim_wait_s: float | None = None

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

    async def admit_vote(self, battle_id: str, owner: str, key: str | None = None
                         ) -> dict[str, Any]:
        """The battle's state, once this vote is admitted: the battle is `owner`'s and ready,
        the vote is within the rater's hourly limit, and this caller holds its vote claim
        (with `key`, the vote key's digest, in it).

        One Redis round trip (`LiveState.admit_stored_vote`) reads, checks, counts and claims
        atomically. When Redis lost the battle's state (flushed), this process's own copy
        stands in and the limit and claim are taken separately. When Redis is down, the copy
        stands in unchecked (see the module docstring). A claim held by another request is
        waited for (`arena.battles.vote_claims`); a state taken over from a gone claimer
        carries that claimer's key as `vote_key` and `vote_taken_over`. Raises
        BattleNotFound, NotYourBattle, VoteConflict (AlreadyVoted when the battle has its
        vote; StreamLost when its streaming worker is gone; VotePending), RateLimited.
        """
        claim = claim_value(self.presence.worker_id, key)
        for _ in range(ADMIT_TRIES):
            state = await self._admit_once(battle_id, owner, claim)
            if state is not None:
                return state
        raise AlreadyVoted()

    async def _admit_once(self, battle_id: str, owner: str, claim: str
                          ) -> dict[str, Any] | None:
        """`admit_vote`'s one try; None when a claim it waited for was given back."""
        try:
            admission = await self.live.admit_stored_vote(
                battle_id, owner, votable_status=READY, limit=self.settings.votes_per_hour,
                window_s=VOTE_WINDOW_S, claim_ttl_s=self.settings.battle_ttl_s, claim=claim,
            )
        except LiveStateUnavailable as down:
            log.warning("vote rate limit and claim not checked: %s", down)
            return check_votable(self.battles.local(battle_id), battle_id, owner)
        if admission.outcome == "missing":
            state = check_votable(self.battles.local(battle_id), battle_id, owner)
            if await self._count_and_claim(battle_id, owner, claim):
                return state
            return await self._after_wait(battle_id, claim, state)
        if admission.outcome == "not_owner":
            raise NotYourBattle(NOT_YOURS)
        if admission.outcome == "not_ready":
            if admission.state is not None and admission.state.get("status") == VOTED:
                raise AlreadyVoted(admission.state)
            await refuse_if_stream_lost(admission.state or {}, self.presence, self.battles)
            raise VoteConflict(closed_reason(admission.state or {}))
        if admission.outcome == "limited":
            assert admission.decision is not None
            raise vote_limit_refusal(admission.decision)
        if admission.outcome == "taken":
            return await self._after_wait(battle_id, claim, None)
        assert admission.state is not None
        return admission.state

    async def _after_wait(self, battle_id: str, claim: str, state: dict[str, Any] | None
                          ) -> dict[str, Any] | None:
        """Wait for the claim another request holds (`await_claim`); the state to write the
        vote from when this caller took it over, None when it was given back."""
        try:
            outcome: ClaimOutcome = await await_claim(
                self.live, self.presence, battle_id, claim, ttl_s=self.settings.battle_ttl_s,
                wait_s=self.claim_wait_s)
        except LiveStateUnavailable:
            raise AlreadyVoted() from None  # as before claims could be waited for
        if isinstance(outcome, Settled):
            raise AlreadyVoted(outcome.state)
        if isinstance(outcome, Released):
            return None
        assert isinstance(outcome, TakenOver)
        if state is None:
            try:
                state = await self.live.get_battle(battle_id)
            except LiveStateUnavailable:
                state = self.battles.local(battle_id)
        if state is None or state.get("status") != READY:
            # Expired or ended meanwhile: give the claim back, and say why.
            await self.release_vote(battle_id)
            check_votable(state, battle_id, state["owner"] if state else "")
        assert state is not None
        return {**state, "vote_key": outcome.old_key, "vote_taken_over": True}

    async def release_vote(self, battle_id: str) -> None:
        """Give up this caller's vote claim (its SQL write failed), if Redis can be reached."""
        try:
            await self.live.release_vote(battle_id)
        except LiveStateUnavailable:
            pass

    async def _count_and_claim(self, battle_id: str, owner: str, claim: str) -> bool:
        """Count the vote against the rater's hourly limit (RateLimited beyond it) and claim
        the battle's vote; False when another vote holds the claim. For a battle whose state
        Redis does not hold (see `admit_vote`)."""
        try:
            decision, claimed = await self.live.admit_vote(
                battle_id, owner, limit=self.settings.votes_per_hour, window_s=VOTE_WINDOW_S,
                claim_ttl_s=self.settings.battle_ttl_s, claim=claim)
        except LiveStateUnavailable as down:
            log.warning("vote rate limit and claim not checked: %s", down)
            return True
        if not decision.allowed:
            raise vote_limit_refusal(decision)
        return claimed
