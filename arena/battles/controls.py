"""The rater's controls over a running battle, Regenerate and Stop, as part of
`BattleService` (a base class of it): the rules are in arena.battles.regenerate and
arena.battles.stopping; the streaming in arena.battles.streaming."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from arena.battles.admission import Admission, unless_redis_down
from arena.battles.checks import check_token
from arena.battles.interface import BattleEvent
from arena.battles.lost_streams import refuse_if_stream_lost
from arena.battles.regenerate import check_regenerable, discard_last_turn
from arena.battles.running import RunningBattles
from arena.battles.state import GENERATING, SaltedRaters, begin_stream, mark_streaming
from arena.battles.stopping import StopSignals
from arena.battles.stream_claims import TAKEN, StreamClaims
from arena.battles.streaming import TurnStreamer
from arena.config import ArenaSettings
from arena.errors import Unavailable, VoteConflict
from arena.live import LiveStateUnavailable
from arena.live.presence import WorkerPresence

STOP_UNREACHABLE = ("the stop could not reach the server streaming these answers (its "
                    "live-state store is unreachable); try again, or start a new round")


class BattleControls(SaltedRaters):
    """Regenerate and Stop, and the claim on a battle's next stream that a follow-up takes too.
    Uses the service's `battles`, `admission`, `turns`, `stops`, `claims`, `presence` and
    `settings`."""

    settings: ArenaSettings
    battles: RunningBattles
    admission: Admission
    turns: TurnStreamer
    stops: StopSignals
    claims: StreamClaims
    presence: WorkerPresence

    async def regenerate(self, battle_id: str, session_id: str) -> AsyncIterator[BattleEvent]:
        """Replace the last turn's answers by new ones: both sides, the same pair and prompt,
        new seeds (arena.battles.regenerate); returns the new turn's stream, as
        `continue_battle` does. The replaced turn goes to the record's `discarded_turns`; the
        vote counts for the answers shown last. Refused (VoteConflict) while streaming, after
        the vote, once failed, or beyond `max_regenerations`; RateLimited like a new battle
        (it counts as one); BattleNotFound, NotYourBattle, InvalidField as for a vote."""
        check_token(battle_id, "battle_id")
        owner = self.rater(session_id)
        state: dict[str, Any] = await self.battles.owned(battle_id, owner)
        await self.end_if_stream_lost(state)
        check_regenerable(state, self.settings.max_regenerations)
        async with self.next_stream(state):
            await self.admission.admit_new_battle(owner)
            prompt = discard_last_turn(state)
            begin_stream(state)
            await self.presence.ensure_running()
            mark_streaming(state, self.presence.worker_id, prompt)
            await self.battles.save(state)
        return self.turns.stream(state, prompt, announce=False)

    async def end_if_stream_lost(self, state: dict[str, Any]) -> None:
        """StreamLost (409 stream_lost) if the battle was streaming on a worker that is gone;
        the battle is then logged as abandoned, end_reason host_lost
        (arena.battles.lost_streams)."""
        await refuse_if_stream_lost(state, self.presence, self.battles)

    @contextlib.asynccontextmanager
    async def next_stream(self, state: dict[str, Any]) -> AsyncIterator[None]:
        """Claim the battle's next stream for this request (arena.battles.stream_claims) while
        the block prepares it; VoteConflict when another request holds it, Unavailable when
        Redis is down. A block that raises gives the claim back."""
        battle_id, stream_no = state["battle_id"], state.get("stream_no", 0) + 1
        if not await unless_redis_down(self.claims.claim(battle_id, stream_no)):
            raise VoteConflict(TAKEN)
        try:
            yield
        except BaseException:
            await self.claims.release(battle_id, stream_no)
            raise

    async def stop(self, battle_id: str, session_id: str) -> bool:
        """Stop both generations of the turn now streaming, on whichever worker streams it
        (arena.battles.stopping). True if a stop was sent; False when nothing was streaming
        (the answers had finished: nothing changes). The stream then ends with `stopped` and
        `ready` (both sides wrote text: votable) or `failed`. BattleNotFound, NotYourBattle,
        InvalidField as for a vote; Unavailable when the stop cannot reach the worker."""
        check_token(battle_id, "battle_id")
        state = await self.battles.owned(battle_id, self.rater(session_id))
        await self.end_if_stream_lost(state)
        if state["status"] != GENERATING or state["mode"] == "replay":
            return False
        try:
            await self.stops.request(battle_id, state.get("stream_no", 0))
        except LiveStateUnavailable:
            raise Unavailable(STOP_UNREACHABLE) from None
        return True
