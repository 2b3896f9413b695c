"""One turn of a battle: both sides generate at once and their events interleave in one stream.

Each side's generator feeds a shared queue; a release policy (arena.battles.lockstep) turns
what arrives into the stream's deltas, `done` or `error` per side: as it comes, or in lockstep
(`[arena] lockstep_streaming`) so that speed does not tell the models apart. Then `ready` (or
`failed` when a side failed: the battle is logged with the error and takes no vote). Before the
vote the stream holds only text and anonymous events: no token counts, finish reasons, served
ids, endpoints or per-model errors. A client that leaves mid-turn leaves the battle to a
detached task that stops both generations and logs it as abandoned with what was produced so
far.

A stop request (arena.battles.stopping) ends the turn early: both generations are cancelled
at once (their requests closed, which makes vLLM abort them), the text generated but not yet
released goes out (so the rater votes on exactly what is logged), each side gets its `done`,
then `stopped` (data: votable) and `ready` when both sides wrote text, else `failed` with the
same words whichever side was empty. A stopped side's record keeps its text with finish
reason "stopped" and no error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from typing import Any

from arena.battles.checks import find_identity_leak
from arena.battles.interface import BattleEvent, Contender, GenerateFn
from arena.battles.lockstep import Lockstep, Pacing, PassThrough, ReleasePolicy, side_finished
from arena.battles.running import RunningBattles
from arena.battles.state import FAILED, READY, SIDES, battle_record, clear_streaming, utcnow
from arena.battles.stopping import (
    STOPPED_FINISH_REASON,
    STOPPED_UNVOTABLE,
    STOPPED_VOTABLE,
    StopSignals,
)
from arena.record import Turn
from serving.records import GenerationRecord

log = logging.getLogger(__name__)

_DETACHED: set[asyncio.Task[Any]] = set()

Messages = dict[str, list[dict[str, str]]]
BATTLE_FAILED = ("One of the models failed to answer, so this battle cannot be voted. "
                 "Please start a new round.")
# (side, what its generator sent), or ("", STOP) when the rater asked to stop the turn.
Arrival = tuple[str, object]
STOP = object()


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


async def cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the generations' tasks and wait until they ended (their requests are closed)."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


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


class TurnProgress:
    """What one turn has produced and shown so far, per side: the records (final, or live while
    streaming), the text generated, and the text and finish events released to the rater."""

    def __init__(self) -> None:
        self.records: dict[str, GenerationRecord] = {}  # final records (finished_at set)
        self.live: dict[str, GenerationRecord] = {}  # live records of sides still streaming
        self.produced = {side: "" for side in SIDES}
        self.shown = {side: "" for side in SIDES}
        self.announced: set[str] = set()  # sides whose done/error event was released

    def take(self, state: dict[str, Any], messages: Messages, arrival: Arrival,
             policy: ReleasePolicy, now: float) -> None:
        """Feed one item a side's generator sent into the record and the release policy."""
        side, item = arrival
        if isinstance(item, str):
            if item:
                self.produced[side] += item
                policy.text(side, item, now)
        elif isinstance(item, GenerationRecord) and item.finished_at is None:
            self.live[side] = item  # still streaming; kept in case the client leaves
        else:
            if isinstance(item, BaseException):
                item = failed_record(state, side, messages[side], item)
            self.records[side] = item
            policy.finish(side, item, now)

    def released(self, event: BattleEvent) -> BattleEvent:
        """Note an event on its way to the rater; returns it."""
        if event.side in SIDES:
            if event.kind == "delta":
                self.shown[event.side] += event.text
            elif event.kind in ("done", "error"):
                self.announced.add(event.side)
        return event

    def stopped_records(self, state: dict[str, Any], messages: Messages
                        ) -> dict[str, GenerationRecord]:
        """Each side's record after a stop (its generation cancelled): a finished side keeps
        its record; a side cut short keeps the text it wrote, finish reason "stopped"."""
        records = dict(self.records)
        for side in SIDES:
            if side in records:
                continue
            record = self.live.get(side) or failed_record(state, side, messages[side],
                                                          InterruptedError("stopped"))
            record.error = None  # the client marks a cancelled stream; a stop is no failure
            record.finish_reason = STOPPED_FINISH_REASON
            record.finished_at = record.finished_at or utcnow()
            if len(self.produced[side]) > len(record.output):
                record.output = self.produced[side]
            records[side] = record
        return records

    def stop_events(self, records: dict[str, GenerationRecord]) -> list[BattleEvent]:
        """After a stop: the text generated but not yet shown (so that the rater votes on
        exactly what is logged), each side's `done` not yet sent, then `stopped`."""
        events = []
        for side in SIDES:
            output, shown = records[side].output, self.shown[side]
            if len(output) > len(shown) and output.startswith(shown):
                events.append(self.released(BattleEvent("delta", side, output[len(shown):])))
        for side in SIDES:
            if side not in self.announced:
                events.append(self.released(side_finished(side, records[side])))
        votable = stop_leaves_votable(records)
        events.append(BattleEvent("stopped", text=STOPPED_VOTABLE if votable
                                  else STOPPED_UNVOTABLE, data={"votable": votable}))
        return events


def stop_leaves_votable(records: Mapping[str, GenerationRecord]) -> bool:
    """A stopped turn takes a vote when neither side failed and both wrote some text."""
    return all(not records[side].error and records[side].output.strip() for side in SIDES)


class TurnStreamer:
    """Runs turns of battles: both sides through `generate`, the outcome into `battles`.

    Lockstep release (`battles.settings.lockstep_streaming`) is paced by `pacing`; a stop
    request (`stops`, arena.battles.stopping) ends a turn early."""

    def __init__(self, generate: GenerateFn, contenders: Mapping[str, Contender],
                 battles: RunningBattles, pacing: Pacing | None = None,
                 stops: StopSignals | None = None) -> None:
        self.generate = generate
        self.contenders = contenders
        self.battles = battles
        self.pacing = pacing or Pacing()
        self.stops = stops

    def release_policy(self) -> ReleasePolicy:
        """How this turn's events reach the rater: in lockstep when the settings say so."""
        if self.battles.settings.lockstep_streaming:
            return Lockstep(self.pacing, time.monotonic())
        return PassThrough()

    def watch_stop(self, state: dict[str, Any], queue: asyncio.Queue[Arrival]
                   ) -> contextlib.AbstractContextManager[None]:
        """While the block runs, a stop request for this stream puts STOP on `queue`."""
        if self.stops is None:
            return contextlib.nullcontext()
        return self.stops.watch(state["battle_id"], state.get("stream_no", 0),
                                lambda: queue.put_nowait(("", STOP)))

    async def stream(
        self, state: dict[str, Any], prompt: str, *, announce: bool
    ) -> AsyncIterator[BattleEvent]:
        """Run one turn on both sides at once and yield their events as the policy releases
        them; a stop request ends it early (`TurnProgress.stop_events`)."""
        if announce:
            yield BattleEvent("battle", data={"battle_id": state["battle_id"]})
        messages = {
            side: [*state[f"conversation_{side}"], {"role": "user", "content": prompt}]
            for side in SIDES
        }
        queue: asyncio.Queue[Arrival] = asyncio.Queue()
        tasks = [asyncio.create_task(self._pump(state, side, messages[side], queue))
                 for side in SIDES]
        turn = TurnProgress()
        policy = self.release_policy()
        finished = stopped = False
        try:
            with self.watch_stop(state, queue):
                while not policy.finished():
                    arrival = await next_arrival(queue, policy.wake_at())
                    if arrival is not None and arrival[1] is STOP:
                        stopped = True
                        break
                    now = time.monotonic()
                    if arrival is not None:
                        turn.take(state, messages, arrival, policy, now)
                    for event in policy.release(now):
                        yield turn.released(event)
            records = turn.records
            if stopped:
                await cancel_all(tasks)  # closes both requests: vLLM aborts them
                records = turn.stopped_records(state, messages)
                for event in turn.stop_events(records):
                    yield event
            finished = True
            yield await self._finish(state, prompt, records, stopped=stopped)
        finally:
            if not finished:
                # The client went away mid-turn (closed tab, dropped connection). Nothing may
                # be awaited here under a cancelled scope, so a detached task stops both
                # generations and logs the battle as abandoned with what was produced so far.
                detach(self._abandon_mid_turn(state, prompt, tasks,
                                              {**turn.live, **turn.records}, set(turn.records),
                                              messages))

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
        await cancel_all(tasks)
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
        clear_streaming(state)
        try:
            await self.battles.abandon(state, "disconnected_mid_turn")
        except Exception:  # nobody is left to tell; keep the process alive
            log.exception("could not log abandoned battle %s", state["battle_id"])

    async def _finish(self, state: dict[str, Any], prompt: str,
                      records: dict[str, GenerationRecord], *, stopped: bool = False
                      ) -> BattleEvent:
        """Append the turn to the state; `ready`, or `failed` (logged as error) if a side
        failed or, after a stop, had written nothing."""
        turn = Turn(len(state["turns"]), prompt, records["a"], records["b"])
        state["turns"].append(turn.to_dict())
        clear_streaming(state)
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
        failed = {side: records[side].error for side in SIDES if records[side].error}
        if stopped and not failed and not stop_leaves_votable(records):
            failed = {side: "stopped by the rater before this side wrote anything"
                      for side in SIDES if not records[side].output.strip()}
        if failed:
            state["status"] = FAILED
            state["end_reason"] = "; ".join(f"side {s}: {why}" for s, why in failed.items())
            await self.battles.save(state, tolerate_outage=True)
            await self.battles.write(battle_record(state, status="error"))
            self.battles.forget(state["battle_id"])
            model_failed = any(records[side].error for side in SIDES)
            return BattleEvent("failed", text=STOPPED_UNVOTABLE if stopped and not model_failed
                               else BATTLE_FAILED)
        state["status"] = READY
        await self.battles.save(state, tolerate_outage=True)
        return BattleEvent("ready")
