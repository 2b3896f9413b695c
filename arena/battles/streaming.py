"""One turn of a battle: both sides generate at once and their events interleave in one stream.

Each side's generator feeds a shared queue; a release policy (arena.battles.lockstep) turns
what arrives into the stream's deltas, `done` or `error` per side: as it comes, or in lockstep
(`[arena] lockstep_streaming`) so that speed does not tell the models apart. Then `ready` (or
`failed` when a side failed: the battle is logged with the error and takes no vote). Before the
vote the stream holds only text and anonymous events: no token counts, finish reasons, served
ids, endpoints or per-model errors. A client that leaves mid-turn leaves the battle to a
detached task that stops both generations and logs it as abandoned with what was produced so
far.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any

from arena.battles.checks import find_identity_leak
from arena.battles.interface import BattleEvent, Contender, GenerateFn
from arena.battles.lockstep import Lockstep, Pacing, PassThrough, ReleasePolicy
from arena.battles.running import RunningBattles
from arena.battles.state import FAILED, READY, SIDES, battle_record, utcnow
from arena.record import Turn
from serving.records import GenerationRecord

log = logging.getLogger(__name__)

_DETACHED: set[asyncio.Task[Any]] = set()

Messages = dict[str, list[dict[str, str]]]
Arrival = tuple[str, str | GenerationRecord | BaseException]  # (side, what its generator sent)


def detach(coroutine: Coroutine[Any, Any, Any]) -> None:
    """Run a coroutine to completion in the background, keeping a reference until it ends."""
    task = asyncio.get_running_loop().create_task(coroutine)
    _DETACHED.add(task)
    task.add_done_callback(_DETACHED.discard)


async def wait_detached() -> None:
    """Wait until every background task `detach` started has ended (e.g. the abandoned
    record of a client that left mid-stream is in SQL), including any they detach. Only the
    running event loop's tasks count."""
    loop = asyncio.get_running_loop()
    while pending := [task for task in _DETACHED if task.get_loop() is loop]:
        await asyncio.gather(*pending, return_exceptions=True)


def failed_record(
    state: dict[str, Any], side: str, messages: list[dict[str, str]], failure: BaseException
) -> GenerationRecord:
    """A record for a generator that raised instead of returning an error record."""
    now = utcnow()
    return GenerationRecord(
        endpoint="",
        served_model=state[f"model_{side}"],
        messages=messages,
        params={},
        started_at=now,
        finished_at=now,
        error=f"{type(failure).__name__}: {failure}",
    )


async def next_arrival(queue: asyncio.Queue[Arrival], wake_at: float | None) -> Arrival | None:
    """The next item from the generators; None if `wake_at` (monotonic s) comes first."""
    if wake_at is None:
        return await queue.get()
    try:
        async with asyncio.timeout(max(0.0, wake_at - time.monotonic())):
            return await queue.get()
    except TimeoutError:
        return None


class TurnStreamer:
    """Runs turns of battles: both sides through `generate`, the outcome into `battles`.

    Lockstep release (`battles.settings.lockstep_streaming`) is paced by `pacing`."""

    def __init__(self, generate: GenerateFn, contenders: Mapping[str, Contender],
                 battles: RunningBattles, pacing: Pacing | None = None) -> None:
        self.generate = generate
        self.contenders = contenders
        self.battles = battles
        self.pacing = pacing or Pacing()

    def release_policy(self) -> ReleasePolicy:
        """How this turn's events reach the rater: in lockstep when the settings say so."""
        if self.battles.settings.lockstep_streaming:
            return Lockstep(self.pacing, time.monotonic())
        return PassThrough()

    async def stream(
        self, state: dict[str, Any], prompt: str, *, announce: bool
    ) -> AsyncIterator[BattleEvent]:
        """Run one turn on both sides at once and yield their events as the policy releases
        them."""
        if announce:
            yield BattleEvent("battle", data={"battle_id": state["battle_id"]})
        messages = {
            side: [*state[f"conversation_{side}"], {"role": "user", "content": prompt}]
            for side in SIDES
        }
        queue: asyncio.Queue[Arrival] = asyncio.Queue()
        tasks = [asyncio.create_task(self._pump(state, side, messages[side], queue))
                 for side in SIDES]
        records: dict[str, GenerationRecord] = {}
        live: dict[str, GenerationRecord] = {}
        policy = self.release_policy()
        finished = False
        try:
            while not policy.finished():
                arrival = await next_arrival(queue, policy.wake_at())
                now = time.monotonic()
                if arrival is not None:
                    side, item = arrival
                    if isinstance(item, str):
                        if item:
                            policy.text(side, item, now)
                    elif isinstance(item, GenerationRecord) and item.finished_at is None:
                        live[side] = item  # still streaming; kept in case the client leaves
                    else:
                        if isinstance(item, BaseException):
                            item = failed_record(state, side, messages[side], item)
                        records[side] = item
                        policy.finish(side, item, now)
                for event in policy.release(now):
                    yield event
            finished = True
            yield await self._finish(state, prompt, records)
        finally:
            if not finished:
                # The client went away mid-turn (closed tab, dropped connection). Nothing may
                # be awaited here under a cancelled scope, so a detached task stops both
                # generations and logs the battle as abandoned with what was produced so far.
                detach(self._abandon_mid_turn(state, prompt, tasks, {**live, **records},
                                              set(records), messages))

    async def _pump(
        self,
        state: dict[str, Any],
        side: str,
        messages: list[dict[str, str]],
        queue: asyncio.Queue[Arrival],
    ) -> None:
        try:
            async for item in self.generate(state[f"model_{side}"], messages):
                await queue.put((side, item))
        except asyncio.CancelledError:
            raise
        except Exception as failure:  # reported as this side's error
            await queue.put((side, failure))

    async def _abandon_mid_turn(
        self,
        state: dict[str, Any],
        prompt: str,
        tasks: list[asyncio.Task[None]],
        latest: dict[str, GenerationRecord],
        finished: set[str],
        messages: Messages,
    ) -> None:
        """Stop both generations; log the battle abandoned with each side's latest record."""
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        partial = {}
        for side in SIDES:
            record = latest.get(side)
            if record is None:
                record = failed_record(
                    state, side, messages[side], ConnectionAbortedError("client disconnected")
                )
            elif record.error is None and side not in finished:
                record.error = "cancelled: the client disconnected mid-stream"
            partial[side] = record
        state["turns"].append(Turn(len(state["turns"]), prompt, partial["a"],
                                   partial["b"]).to_dict())
        try:
            await self.battles.abandon(state, "disconnected_mid_turn")
        except Exception:  # nobody is left to tell; keep the process alive
            log.exception("could not log abandoned battle %s", state["battle_id"])

    async def _finish(
        self, state: dict[str, Any], prompt: str, records: dict[str, GenerationRecord]
    ) -> BattleEvent:
        """Append the turn to the state; `ready`, or `failed` (logged as error) if a side
        failed."""
        turn = Turn(len(state["turns"]), prompt, records["a"], records["b"])
        state["turns"].append(turn.to_dict())
        for side in SIDES:
            state[f"conversation_{side}"] = [
                *records[side].messages,
                {"role": "assistant", "content": records[side].output},
            ]
            words = self.contenders[state[f"model_{side}"]].identity_words
            if (
                "identity_leak" not in state["flags"]
                and find_identity_leak(records[side].output, words) is not None
            ):
                state["flags"].append("identity_leak")
        state["touched"] = time.time()
        failed = [side for side in SIDES if records[side].error]
        if failed:
            state["status"] = FAILED
            state["end_reason"] = "; ".join(f"side {s}: {records[s].error}" for s in failed)
            await self.battles.save(state, tolerate_outage=True)
            await self.battles.write(battle_record(state, status="error"))
            self.battles.forget(state["battle_id"])
            return BattleEvent(
                "failed",
                text="One of the models failed to answer, so this battle cannot be voted. "
                "Please start a new round.",
            )
        state["status"] = READY
        await self.battles.save(state, tolerate_outage=True)
        return BattleEvent("ready")
