"""The battles this process runs: their state in Redis, where every worker finds it, with this
process's own copy standing in when Redis lost it (flushed) or is down, and the SQL write that
ends each battle, with the battle's labels (arena.labels) set on the way. Nothing in Redis is
needed to rebuild the log: that write is the only durable step."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from arena.battles.checks import check_owner
from arena.battles.state import ENDED, OPEN, battle_record, voted_stub
from arena.config import ArenaSettings
from arena.errors import Unavailable
from arena.labels import label_record
from arena.live import LiveState, LiveStateUnavailable
from arena.record import BattleRecord
from arena.store import BattleLog, DuplicateBattle
from arena.store.group_writer import RecordWriter

log = logging.getLogger(__name__)


class RunningBattles:
    """Battle states by id (Redis first, this process's copy second), the log writer, and
    the log itself (to read back a vote whose answer was lost)."""

    def __init__(self, live: LiveState, writer: RecordWriter, settings: ArenaSettings,
                 log: BattleLog) -> None:
        self.live = live
        self.settings = settings
        self._writer = writer
        self._log = log
        # Fallback copy of the battles this process runs, used when Redis lost them (flushed or
        # down), and the basis of the expiry sweep. Keyed by battle id.
        self._local: dict[str, dict[str, Any]] = {}

    async def aclose(self) -> None:
        """Commit the records still queued for SQL and stop the writer."""
        await self._writer.aclose()

    async def write(self, record: BattleRecord) -> None:
        """Label one battle record (`label_record`: labels, language, labeller version) and
        commit it to SQL (durable when this returns). Every record a battle ends with (voted,
        failed, abandoned) passes here. The labelling runs in a thread: it takes about 0.5 ms
        for a short prompt but up to a tenth of a second for a battle of long ones, which the
        event loop, streaming other battles, must not wait for."""
        record = await asyncio.to_thread(label_record, record)
        await self._writer.write(record)

    async def logged(self, battle_id: str) -> BattleRecord | None:
        """The battle's record as the SQL log holds it; None if it holds none or cannot be
        read now (logged)."""
        try:
            return await asyncio.to_thread(self._log.get_battle, battle_id)
        except Exception:
            log.exception("could not read battle %s back from the log", battle_id)
            return None

    async def settle_vote(self, state: dict[str, Any], winner: str, vote_key: str | None,
                          *, count_pair: bool = True) -> None:
        """After the vote is durable: the battle's state shrinks to what a later reveal or
        refusal needs (the conversations are in SQL now; `vote_key` answers a retry), and the
        sampler counts the pair (sampled pairs, if `count_pair`). Both are rebuildable: with
        Redis down this only warns (the periodic reconcile repairs the count)."""
        battle_id = state["battle_id"]
        self.forget(battle_id)
        counted = count_pair and state["mode"] == "anonymous"
        pair = (state["model_a"], state["model_b"]) if counted else None
        try:
            await self.live.settle_vote(battle_id, voted_stub(state, winner, vote_key),
                                        self.settings.battle_ttl_s, pair)
        except LiveStateUnavailable:
            log.warning("battle %s voted, but its live state and pair counter were not "
                        "updated: live state unavailable", battle_id)

    async def save(self, state: dict[str, Any], *, tolerate_outage: bool = False) -> None:
        """Store `state` in Redis (and here while the battle is open). With Redis down: keep
        it here only if `tolerate_outage`, else raise Unavailable."""
        state["touched"] = time.time()
        if state["status"] in OPEN:
            self._local[state["battle_id"]] = state
        try:
            await self.live.put_battle(state["battle_id"], state, self.settings.battle_ttl_s)
        except LiveStateUnavailable:
            if not tolerate_outage:
                raise Unavailable(
                    "the arena's live-state store (Redis) is unreachable; try again shortly"
                ) from None
            log.warning("battle %s kept in process memory only", state["battle_id"])

    async def load(self, battle_id: str) -> dict[str, Any] | None:
        """The battle's state from Redis, else this process's copy, else None."""
        try:
            state = await self.live.get_battle(battle_id)
        except LiveStateUnavailable:
            state = None
        return state if state is not None else self._local.get(battle_id)

    async def owned(self, battle_id: str, owner: str) -> dict[str, Any]:
        """The battle's state if it is `owner`'s; BattleNotFound or NotYourBattle else."""
        return check_owner(await self.load(battle_id), battle_id, owner)

    def local(self, battle_id: str) -> dict[str, Any] | None:
        """This process's copy of an open battle, if it runs it."""
        return self._local.get(battle_id)

    def forget(self, battle_id: str) -> None:
        """Drop this process's copy (the battle ended or its vote is durable)."""
        self._local.pop(battle_id, None)

    def idle(self, now: float) -> list[dict[str, Any]]:
        """This process's battles untouched for longer than `battle_ttl_s` at `now` (epoch s)."""
        return [state for state in list(self._local.values())
                if now - state["touched"] > self.settings.battle_ttl_s]

    async def sweep_expired(self, now: float) -> int:
        """Log as abandoned this process's battles idle for longer than `battle_ttl_s` at
        `now` (epoch s); returns how many were logged."""
        logged = 0
        for state in self.idle(now):
            current = await self.load(state["battle_id"]) or state
            if await self.abandon(current, "expired"):
                logged += 1
            self.forget(state["battle_id"])
        return logged

    async def abandon(self, state: dict[str, Any], reason: str) -> bool:
        """End an open battle without a vote; log it as abandoned when it has a turn.

        True if a record was written.
        """
        if state["status"] not in OPEN:
            return False
        state["status"] = ENDED
        state["end_reason"] = reason
        await self.save(state, tolerate_outage=True)
        self.forget(state["battle_id"])
        if not state["turns"]:
            return False
        try:
            await self.write(battle_record(state, status="abandoned"))
        except DuplicateBattle:
            return False
        return True
