"""A battle's vote claim, and what a vote does when another request holds it.

The claim is ``vote:<battle_id>`` in Redis, taken atomically with the vote's admission (SET
NX, arena.live.scripts) and kept for `battle_ttl_s` (after that the battle's state is gone
too). Its value is ``<worker id>|<key digest>``: the worker that records the vote
(arena.live.presence) and the digest of the vote's idempotency key ('' without one).

The first claimer wins while it is alive. A vote that finds the claim held waits, polling,
for the first of:

- the battle's state says voted (the claimer committed and settled): the vote is answered
  from it (a retry with the claimer's key gets the Reveal; any other vote "already has a
  vote");
- the claim was given back (the claimer's SQL write failed): the vote is admitted again;
- the claimer is gone (its worker's presence key lapsed: its host died between the claim and
  the settle, before or after its commit): the claim is taken over, atomically (of several
  takers one wins), and the vote is written. If the old claimer had committed, or comes back
  and commits first, SQL's unique battle id refuses the second record, and the vote is
  answered from SQL as a retry of the claimer's vote when its key is the claimer's.

A claimer alive but still not settled after `wait_s` (its write is slow: a SQLite lock waits
up to 30 s) leaves the vote with 409 `vote_pending`: nothing was recorded for this request,
and sending it again later is safe.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from arena.battles.state import VOTED
from arena.errors import VoteConflict
from arena.live import LiveState
from arena.live.presence import WorkerPresence

# The longest pause between two looks at a held claim, seconds (the first looks come sooner).
POLL_S = 0.25
VOTE_PENDING = ("an earlier vote on this battle is still being recorded; send your vote again "
                "in a few seconds to see whether it counted")


class VotePending(VoteConflict):
    """Another request's vote on this battle is being recorded by a live worker."""

    code = "vote_pending"


def claim_value(worker_id: str, key: str | None) -> str:
    """What a vote claim holds: the claiming worker's id and its vote key digest ('' if
    none)."""
    return f"{worker_id}|{key or ''}"


def parse_claim(raw: str) -> tuple[str, str | None]:
    """(worker id, key digest or None) of a claim's value. A value without '|' (a claim made
    before claims named their worker) names no live worker: it reads as one that is gone."""
    worker, _, key = raw.partition("|")
    return worker, key or None


@dataclass(frozen=True)
class Settled:
    """The claimer recorded its vote; `state` is the battle's voted state."""

    state: dict[str, Any]


@dataclass(frozen=True)
class Released:
    """The claimer gave the claim back: admit the vote again."""


@dataclass(frozen=True)
class TakenOver:
    """This caller holds the claim now; `old_key` is the gone claimer's key digest."""

    old_key: str | None


ClaimOutcome = Settled | Released | TakenOver


def default_wait_s(presence: WorkerPresence) -> float:
    """How long a vote waits for a live claimer: long enough to see a dead one's presence key
    lapse and be confirmed gone (ttl + twice the renewal period + a second), seconds."""
    return presence.ttl_s + 2 * presence.renew_s + 1.0


async def await_claim(live: LiveState, presence: WorkerPresence, battle_id: str,
                      claim: str, *, ttl_s: float, wait_s: float | None = None
                      ) -> ClaimOutcome:
    """Wait until the vote claim another request holds on `battle_id` is settled, released,
    or taken over by this caller (as `claim`, for `ttl_s` seconds) because its claimer is
    gone; VotePending after `wait_s` seconds with the claimer alive. Raises
    LiveStateUnavailable when Redis cannot be reached."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (default_wait_s(presence) if wait_s is None else wait_s)
    pause = 0.01
    while True:
        state = await live.get_battle(battle_id)
        if state is not None and state.get("status") == VOTED:
            return Settled(state)
        held = await live.vote_claim(battle_id)
        if held is None:
            return Released()
        worker, old_key = parse_claim(held)
        if await presence.gone(worker):
            if await live.take_over_vote(battle_id, held, claim, ttl_s):
                return TakenOver(old_key)
            continue  # another caller changed the claim first: look again
        if loop.time() >= deadline:
            raise VotePending(VOTE_PENDING)
        await asyncio.sleep(pause)  # the claimer's commit takes milliseconds, mostly
        pause = min(pause * 2, POLL_S)
