"""The vote keys of live state: a battle's vote claim (``vote:<id>``), taken atomically with
the rater's vote rate limit, read, taken over from a claimer that is gone, and given back.
A base class of `LiveState`; what a claim holds and when it is taken over is the battle
service's rule (arena.battles.vote_claims).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from arena.live.connection import DEFAULT_PREFIX, LiveConnection, raises_unavailable
from arena.live.encoding import decode_state, duration_ms, rate_window_ms
from arena.live.results import RateLimitDecision, VoteAdmission
from arena.live.scripts import ADMIT_STORED_VOTE_LUA, ADMIT_VOTE_LUA, TAKE_OVER_VOTE_LUA

# A vote claim's TTL when the caller names none (the service passes its battle_ttl_s: after
# that the battle's state is gone from Redis too), seconds.
DEFAULT_VOTE_CLAIM_TTL_S = 3600


class LiveVotes(LiveConnection):
    """Vote claims and admissions over one Redis client (a base class of `LiveState`)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        super().__init__(client, prefix=prefix)
        self._admit_vote = client.register_script(ADMIT_VOTE_LUA)
        self._admit_stored_vote = client.register_script(ADMIT_STORED_VOTE_LUA)
        self._take_over_vote = client.register_script(TAKE_OVER_VOTE_LUA)

    @raises_unavailable
    async def claim_vote(
        self, battle_id: str, owner: str, *, ttl_s: float = DEFAULT_VOTE_CLAIM_TTL_S
    ) -> bool:
        """True for exactly one caller per battle (SET NX): that caller may record the vote.

        Every later claim, by anyone including the winner, gets False until the claim expires
        (``ttl_s``) or is released. SQL's unique battle id is the durable guard behind it.
        """
        claimed = await self.client.set(self.key("vote", battle_id), owner, nx=True,
                                        px=duration_ms(ttl_s, "vote claim TTL"))
        return bool(claimed)

    @raises_unavailable
    async def admit_vote(
        self,
        battle_id: str,
        rater: str,
        *,
        limit: int,
        window_s: float,
        claim_ttl_s: float = DEFAULT_VOTE_CLAIM_TTL_S,
        claim: str | None = None,
    ) -> tuple[RateLimitDecision, bool]:
        """`hit_rate_limit` on the rater's votes, then `claim_vote` if allowed: one round trip.

        Returns the rate-limit decision and whether this caller now holds the battle's vote
        claim (always False when the rate limit refused the vote: nothing is claimed then).
        The claim's value is `claim` (default: the rater).
        """
        window_ms = rate_window_ms(limit, window_s)
        hits, ttl_ms, claimed = await self._admit_vote(
            keys=[self.key("rate", "vote", rater), self.key("vote", battle_id)],
            args=[window_ms, limit, rater if claim is None else claim,
                  duration_ms(claim_ttl_s, "vote claim TTL")],
        )
        decision = RateLimitDecision.of_hit(int(claimed) >= 0, hits, ttl_ms, limit)
        return decision, int(claimed) == 1

    @raises_unavailable
    async def admit_stored_vote(
        self,
        battle_id: str,
        rater: str,
        *,
        votable_status: str,
        limit: int,
        window_s: float,
        claim_ttl_s: float = DEFAULT_VOTE_CLAIM_TTL_S,
        claim: str | None = None,
    ) -> VoteAdmission:
        """Read the battle's state, check that ``rater`` owns it and that its status is
        ``votable_status``, then `admit_vote` (the claim's value: `claim`, default the rater):
        all atomically, in one round trip.

        The vote path's only read of the battle: the state comes back with the admission.
        """
        window_ms = rate_window_ms(limit, window_s)
        outcome, raw, hits, ttl_ms = await self._admit_stored_vote(
            keys=[
                self.key("battle", battle_id),
                self.key("rate", "vote", rater),
                self.key("vote", battle_id),
            ],
            args=[rater, votable_status, window_ms, limit,
                  duration_ms(claim_ttl_s, "vote claim TTL"), rater if claim is None else claim],
        )
        state = decode_state(raw) if raw else None
        decision = None
        if outcome in ("limited", "taken", "admitted"):
            decision = RateLimitDecision.of_hit(outcome != "limited", hits, ttl_ms, limit)
        return VoteAdmission(outcome=outcome, state=state, decision=decision)

    @raises_unavailable
    async def vote_claim(self, battle_id: str) -> str | None:
        """The value of the battle's vote claim, or None when nobody holds it."""
        return await self.client.get(self.key("vote", battle_id))

    @raises_unavailable
    async def take_over_vote(self, battle_id: str, old: str | None, new: str,
                             ttl_s: float) -> bool:
        """Replace the claim `old` (None: no claim) by `new` for `ttl_s` seconds, atomically;
        False when the claim is no longer `old` (another caller changed it first)."""
        taken = await self._take_over_vote(
            keys=[self.key("vote", battle_id)],
            args=[old or "", new, duration_ms(ttl_s, "vote claim TTL")])
        return int(taken) == 1

    @raises_unavailable
    async def release_vote(self, battle_id: str) -> bool:
        """Drop the vote claim (e.g. the SQL write failed) so the vote can be retried; True
        if there was one."""
        return bool(await self.client.delete(self.key("vote", battle_id)))
