"""What a rater may do after the vote, as part of `BattleService` (a base class of it): see the
names again (`reveal`), give a reason (arena.battles.reasons) and get a share link
(arena.battles.sharing). Both read the
vote from SQL, the source of truth, so they work on any worker, also once Redis forgot the
battle."""

from __future__ import annotations

import asyncio

from arena.battles.checks import check_owner, check_token
from arena.battles.interface import Reveal
from arena.battles.reasons import check_reason
from arena.battles.running import RunningBattles
from arena.battles.sharing import ShareLinks
from arena.battles.state import NOT_YOURS, OPEN, VOTED, SaltedRaters, reveal_of
from arena.config import ArenaSettings
from arena.errors import NotYourBattle, VoteConflict
from arena.store import BattleLog
from arena.store.log import VoteFacts

VOTE_FIRST = "vote first: a reason and a share link come after the vote"
NO_VOTE = "this battle ended without a vote, so it takes no reason and has no share link"
REASON_GIVEN = "this vote already has a reason; a vote takes one"


class AfterVote(SaltedRaters):
    """The reason and the share link of a vote. Uses the service's `settings`, `log`,
    `battles` and `share_links`."""

    settings: ArenaSettings
    log: BattleLog
    battles: RunningBattles
    share_links: ShareLinks

    async def reveal(self, battle_id: str, session_id: str) -> Reveal:
        """The names of a battle this session already voted on (e.g. for a page reload)."""
        check_token(battle_id, "battle_id")
        state = await self.battles.owned(battle_id, self.rater(session_id))
        if state["status"] != VOTED:
            raise VoteConflict("names are revealed only after the vote")
        return reveal_of(state, state["winner"])

    @property
    def reason_tags(self) -> tuple[str, ...]:
        """The tags a rater may give as the reason for a vote (`[arena] reason_tags`)."""
        return tuple(self.settings.reason_tags)

    async def set_reason(self, battle_id: str, session_id: str, tags: list[str] | None,
                         comment: str | None) -> None:
        """Store the rater's optional reason on their vote: `tags` among `reason_tags`, a
        `comment` of at most `reason_comment_chars` characters. One reason per vote, by its
        rater, after the vote. InvalidField (unknown tag, comment too long), BadInput (neither
        given), VoteConflict (no vote yet, or it has its reason), NotYourBattle,
        BattleNotFound."""
        check_token(battle_id, "battle_id")
        chosen, comment = check_reason(tags, comment, allowed=self.reason_tags,
                                       max_comment_chars=self.settings.reason_comment_chars)
        owner = self.rater(session_id)
        facts = await self.voted_facts(battle_id, owner)
        if facts.has_reason or not await asyncio.to_thread(
                self.log.set_reason, battle_id, owner, chosen, comment):
            raise VoteConflict(REASON_GIVEN)

    async def share_url(self, battle_id: str, session_id: str) -> str | None:
        """The path (``/shared/<token>``) of a read-only page of this voted battle, for its
        rater; None when it may not be shared (the rater did not agree to publish its text,
        or `[arena] share_links` is off). VoteConflict before the vote; NotYourBattle,
        BattleNotFound."""
        check_token(battle_id, "battle_id")
        facts = await self.voted_facts(battle_id, self.rater(session_id))
        if not self.settings.share_links or facts.publish_consent is not True:
            return None
        return self.share_links.path(battle_id)

    async def voted_facts(self, battle_id: str, owner: str) -> VoteFacts:
        """The logged vote of `owner` on this battle; raises why there is none."""
        facts = await asyncio.to_thread(self.log.vote_facts, battle_id)
        if facts is None:  # not logged: running (vote first) or unknown
            state = check_owner(await self.battles.load(battle_id), battle_id, owner)
            raise VoteConflict(VOTE_FIRST if state["status"] in OPEN else NO_VOTE)
        if facts.rater_hash != owner:
            raise NotYourBattle(NOT_YOURS)
        if facts.winner is None:
            raise VoteConflict(NO_VOTE)
        return facts
