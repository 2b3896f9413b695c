"""How a turn's two streams reach the rater: as they come (`PassThrough`), or in lockstep
(`Lockstep`, `[arena] lockstep_streaming = true`) so that speed does not tell the models apart.

Both are release policies the turn streamer feeds (`text`, `finish`) and drains (`release`);
`wake_at` says when a paced release is due without new input. Neither ever puts anything but
the sides' text and an anonymous `done`/`error` into an event: no token counts, finish
reasons, served ids, endpoints or timings (the full record goes to the log only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from arena.battles.checks import SIDE_FAILED
from arena.battles.interface import BattleEvent
from arena.battles.state import SIDES
from serving.records import GenerationRecord


def side_finished(side: str, record: GenerationRecord) -> BattleEvent:
    """The event that ends one side's part of a turn: `done`, or `error` with the same words
    whichever model failed (the full error stays in the record)."""
    if record.error:
        return BattleEvent("error", side, SIDE_FAILED)
    return BattleEvent("done", side)


class PassThrough:
    """Every delta and finish event as soon as it arrives (lockstep streaming off)."""

    def __init__(self) -> None:
        self._pending: list[BattleEvent] = []
        self._finished: set[str] = set()

    def text(self, side: str, text: str, now: float) -> None:
        self._pending.append(BattleEvent("delta", side, text))

    def finish(self, side: str, record: GenerationRecord, now: float) -> None:
        self._pending.append(side_finished(side, record))
        self._finished.add(side)

    def release(self, now: float) -> list[BattleEvent]:
        pending, self._pending = self._pending, []
        return pending

    def wake_at(self) -> float | None:
        return None

    def finished(self) -> bool:
        """Both sides' finish events were released."""
        return not self._pending and self._finished == set(SIDES)


@dataclass(frozen=True)
class Pacing:
    """The knobs of `Lockstep`: `unit_chars`, the size of each released piece (characters);
    `min_tail_chars_per_s`, the slowest pace at which the longer answer's tail is released
    (characters per second)."""

    unit_chars: int = 16
    min_tail_chars_per_s: float = 20.0


class Lockstep:
    """Releases both sides' text in step, so that neither shows faster than the other.

    Each side's answer is cut into pieces of `unit_chars` characters followed by its `done`.
    Release step n emits piece n of side a, then piece n of side b (a side whose `done` is out
    has nothing more); step n happens only once both sides have produced their item n (a full
    piece, or the last piece and the end). So while both answers go on, the two released
    lengths are equal after each step and differ by at most `unit_chars` at every event
    boundary; they grow at the pace of whichever model is slower at that moment, and the order
    and cut of the events depend only on the two final texts, never on which model was faster.

    When the shorter answer has ended and its full pieces are out, every later step (its short
    last piece and `done` included) is released no faster than the pace of the steps of those
    full pieces (steps per second; at least `min_tail_chars_per_s`), whether the longer answer's
    model is still writing or already finished: a fast long answer is slowed to the pace the
    slow short one set, and a slow long one goes on at about that pace on its own. So the end
    time is not a tell either.

    What an observer can still learn: when the first text appeared (the slower first token),
    the common pace (the slower model's speed, not which side it is), the final length of each
    answer, the total time, and, if the slower model writes slower than
    `min_tail_chars_per_s`, whether a long tail went at that floor (the longer answer came from
    the faster model) or slower. The cost: the first text waits for the slower first token and
    both answers finish at about the time the slower model would take for the longer answer.

    A side that fails ends the lockstep (the battle cannot be voted, so there is no vote to
    protect): what was held back and everything after it goes out as it comes.
    """

    def __init__(self, pacing: Pacing, started_at: float) -> None:
        self.started_at = started_at  # when the turn began (monotonic s)
        self.unit = pacing.unit_chars
        self.min_tail_steps_per_s = pacing.min_tail_chars_per_s / pacing.unit_chars
        self.produced = {side: "" for side in SIDES}
        self.records: dict[str, GenerationRecord] = {}
        self.released = {side: 0 for side in SIDES}  # characters released per side
        self.done: set[str] = set()  # sides whose finish event is out
        self.step = 0  # the next release step
        self.step_times: list[float] = []  # when each step was released (monotonic s)
        # Once the shorter answer is out: (time, step, steps per second) of the paced tail.
        self.tail: tuple[float, int, float] | None = None
        self.broken = False  # a side failed: everything passes through
        self._pending: list[BattleEvent] = []

    def text(self, side: str, text: str, now: float) -> None:
        self.produced[side] += text

    def finish(self, side: str, record: GenerationRecord, now: float) -> None:
        self.records[side] = record
        if record.error and not self.broken:
            self.broken = True

    def finished(self) -> bool:
        """Both sides' finish events were released."""
        return self.done == set(SIDES) and not self._pending

    def release(self, now: float) -> list[BattleEvent]:
        """The events due at `now` (monotonic seconds)."""
        if self.broken:
            return self._pass_through()
        while True:
            self._start_tail(now)
            if not (self._step_ready() and self._step_due(now)):
                break
            self._release_step(now)
        pending, self._pending = self._pending, []
        return pending

    def wake_at(self) -> float | None:
        """When the next step is due though nothing new arrives (a paced tail); None when it
        waits for a model."""
        if self.broken or not self._step_ready() or self.tail is None:
            return None
        return self._tail_time(self.step)

    # ------------------------------------------------------------------------------ steps
    def _pieces(self, side: str) -> int | None:
        """How many pieces the side's answer has, once it ended; None while it goes on."""
        if side not in self.records:
            return None
        return math.ceil(len(self.produced[side]) / self.unit)

    def _item_ready(self, side: str, step: int) -> bool:
        if side in self.done:
            return True
        pieces = self._pieces(side)
        if pieces is not None:
            return step <= pieces
        return len(self.produced[side]) >= (step + 1) * self.unit

    def _step_ready(self) -> bool:
        return self.done != set(SIDES) and all(
            self._item_ready(side, self.step) for side in SIDES)

    def _tail_time(self, step: int) -> float:
        assert self.tail is not None
        since, first, steps_per_s = self.tail
        return since + (step - first) / steps_per_s

    def _step_due(self, now: float) -> bool:
        return self.tail is None or self._tail_time(self.step) <= now

    def _release_step(self, now: float) -> None:
        for side in SIDES:
            if side in self.done:
                continue
            if self.step == self._pieces(side):
                self._pending.append(side_finished(side, self.records[side]))
                self.done.add(side)
                continue
            start = self.step * self.unit
            piece = self.produced[side][start:start + self.unit]
            self._pending.append(BattleEvent("delta", side, piece))
            self.released[side] = start + len(piece)
        self.step_times.append(now)
        self.step += 1

    def _start_tail(self, now: float) -> None:
        """Pace the rest once a side has ended and all its full pieces are out.

        The pace is that of the shorter answer's full pieces (its last piece may be short, and
        so quick, only when its model is the slower): steps per second between the first and
        the last full one, or one step over the time since the turn began when there was one
        full piece, or the floor (from now) when there was none; never below the floor. The
        tail goes on from the last full piece's step at that pace, so the steps after it (the
        shorter answer's short last piece and `done` included) come at the same times whichever
        model was the slower.
        """
        if self.tail is not None:
            return
        # Full pieces (steps 0 .. full - 1) of each ended answer whose full pieces are out.
        full_out = [len(self.produced[side]) // self.unit for side in SIDES
                    if side in self.records]
        full = min((count for count in full_out if count <= self.step), default=None)
        if full is None:
            return
        if full >= 2 and self.step_times[full - 1] > self.step_times[0]:
            anchor = self.step_times[full - 1]
            steps_per_s = (full - 1) / (anchor - self.step_times[0])
        elif full >= 1 and self.step_times[0] > self.started_at:
            anchor, steps_per_s = self.step_times[0], 1 / (self.step_times[0] - self.started_at)
        else:  # no full piece: no pace to keep but the floor, from now
            anchor, steps_per_s = now, 0.0
        self.tail = (anchor, full - 1, max(steps_per_s, self.min_tail_steps_per_s))

    def _pass_through(self) -> list[BattleEvent]:
        for side in SIDES:
            held = self.produced[side][self.released[side]:]
            if held:
                self._pending.append(BattleEvent("delta", side, held))
                self.released[side] += len(held)
            if side in self.records and side not in self.done:
                self._pending.append(side_finished(side, self.records[side]))
                self.done.add(side)
        pending, self._pending = self._pending, []
        return pending


ReleasePolicy = PassThrough | Lockstep
