"""Taking the vote, as part of `BattleService` (a base class of it): admitted once
(arena.battles.admission, with the vote claims of arena.battles.vote_claims), committed to SQL
before it is acknowledged, then settled in Redis and revealed; a retry with the same
idempotency key gets the recorded vote's reveal again, whichever worker it reaches."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from arena.battles.admission import Admission, AlreadyVoted
from arena.battles.checks import check_token, check_winner
from arena.battles.interface import Reveal
from arena.battles.revoting import RevoteSource
from arena.battles.running import RunningBattles
from arena.battles.state import (
    ALREADY_VOTED,
    SaltedRaters,
    battle_record,
    reveal_of,
    utcnow,
    vote_key_digest,
)
from arena.errors import VoteConflict
from arena.live import LiveStateUnavailable
from arena.live.presence import WorkerPresence
from arena.record import BattleRecord
from arena.store import DuplicateBattle

log = logging.getLogger(__name__)


class VoteTaking(SaltedRaters):
    """The vote of a battle. Uses the service's `admission`, `battles`, `presence`, `replay`,
    `on_vote` and `on_voted`."""

    admission: Admission
    battles: RunningBattles
    presence: WorkerPresence
    replay: RevoteSource | None
    on_vote: Callable[[], None] | None
    on_voted: Callable[[BattleRecord], None] | None

    async def vote(self, battle_id: str, session_id: str, winner: str, *,
                   idempotency_key: str | None = None) -> Reveal:
        """Record the vote durably in SQL, then reveal the names. A retry with the same
        `idempotency_key` (the client's) after the vote was recorded and its answer lost gets
        the same Reveal; any other second vote is refused. Refused (VoteConflict) when already
        voted, still generating, failed or ended (StreamLost: the worker streaming it is gone;
        VotePending: an earlier vote on it is still being recorded by a live worker);
        NotYourBattle for another session's battle; BadInput for an unknown winner;
        InvalidField for a malformed id or key."""
        check_token(battle_id, "battle_id")
        winner = check_winner(winner)
        key = (None if idempotency_key is None
               else vote_key_digest(check_token(idempotency_key, "idempotency_key")))
        await self.presence.ensure_running()  # its id is in the claim
        try:
            state = await self.admission.admit_vote(battle_id, self.rater(session_id), key)
        except AlreadyVoted as voted:
            if key is not None and voted.state is not None and voted.state.get("vote_key") == key:
                return reveal_of(voted.state, voted.state["winner"])
            raise
        record = battle_record(state, status="voted", winner=winner, voted_at=utcnow())
        try:
            await self.battles.write(record)
        except DuplicateBattle:
            return await self._answer_duplicate(state, key)
        except BaseException:
            # It may have committed even so (the writer died after the commit): the key stays
            # with the battle, so that a retry with it finds its own vote.
            if key is not None:
                await self.battles.save({**state, "vote_key": key}, tolerate_outage=True)
            await self.admission.release_vote(battle_id)
            raise
        reveal = await self._settle_vote(state, winner, key)
        if self.on_voted is not None:  # e.g. the live judge's queue: never in the rater's way
            self.on_voted(record)
        return reveal

    async def _answer_duplicate(self, state: dict[str, Any], key: str | None) -> Reveal:
        """A vote on a logged battle: its retry (same key) gets the Reveal, else VoteConflict."""
        recorded = await self.battles.logged(state["battle_id"])
        if recorded is None or recorded.winner is None or recorded.rater_hash != state["owner"]:
            raise VoteConflict(ALREADY_VOTED)
        if key is not None and state.get("vote_key") == key:  # its answer was lost
            return await self._settle_vote(state, recorded.winner, key)
        # A key, or a claim taken over from a gone worker: that vote was never settled, so its
        # pair is uncounted.
        uncounted = state.get("vote_key") is not None or state.get("vote_taken_over", False)
        await self.battles.settle_vote(state, recorded.winner, state.get("vote_key"),
                                       count_pair=uncounted)
        raise VoteConflict(ALREADY_VOTED)

    async def _settle_vote(self, state: dict[str, Any], winner: str, key: str | None) -> Reveal:
        """After the vote is durable: update what is rebuildable, and reveal the names."""
        await self.battles.settle_vote(state, winner, key)
        if state.get("replay_of") and self.replay is not None:
            await self._note_revote(state["replay_of"])
        if self.on_vote is not None:
            self.on_vote()
        return reveal_of(state, winner)

    async def _note_revote(self, original_id: str) -> None:
        assert self.replay is not None
        try:
            await self.replay.note_vote(original_id)
        except LiveStateUnavailable:
            # Rebuilt from SQL with the rest of the re-vote ledger after a flush or outage.
            log.warning("replay vote count of %s not updated: live state unavailable",
                        original_id)
