"""Judging live battles in the background of `arena serve` ([arena] judge_model).

After a rater's vote is durable in SQL, the service hands the battle's record to
`LiveJudge.submit`, which only puts it on a bounded queue and returns at once: the rater's
request never waits for the judge, and a full queue drops the battle (counted in `dropped`)
rather than grow without bound or slow the vote. `workers` tasks take battles off the queue
and ask the judge in both orders (arena.judge.verdict: the same verdict ids, seeds and
records as `arena judge` with this template and `seed`), writing each verdict through the
`writer` (the arena's record writer: a verdict is a battle record of mode "judge").

Nothing of the human log depends on this: a dropped battle, a failed call, a judge that is
down or a shutdown with battles still queued leaves the human votes as they are, and running
`arena judge` later with the same model, template and seed judges exactly the battles missed
(it skips the verdicts already stored).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from arena.judge.model import JudgeModel
from arena.judge.store import judgeable
from arena.judge.template import JudgeTemplate, load_template
from arena.judge.verdict import ORDERS, call_seed, judged, shown
from arena.live.connection import stop_if_cancelled
from arena.record import BattleRecord

log = logging.getLogger(__name__)

DEFAULT_QUEUE = 1000


@dataclass
class LiveJudgeStats:
    """Counts since start: battles `queued`, `dropped` (queue full) and `judged` (both
    orders tried); verdicts `stored`; calls `failed`."""

    queued: int = 0
    dropped: int = 0
    judged: int = 0
    stored: int = 0
    failed: int = 0


class LiveJudge:
    """A background queue of voted battles for one judge model (see the module docstring).

    `writer(record)` stores one verdict (e.g. `RecordWriter.write`); its errors are logged
    and counted, never raised. `http` is the process's shared client (closed by its owner).
    """

    def __init__(self, judge: JudgeModel, template: JudgeTemplate,
                 writer: Callable[[BattleRecord], Awaitable[None]], *, http: httpx.AsyncClient,
                 seed: int = 0, max_queue: int = DEFAULT_QUEUE, workers: int = 1) -> None:
        if max_queue < 1 or workers < 1:
            raise ValueError("max_queue and workers must be at least 1")
        self.judge, self.template, self.writer, self.http = judge, template, writer, http
        self.seed, self.workers = seed, workers
        self.stats = LiveJudgeStats()
        self._queue: asyncio.Queue[BattleRecord] = asyncio.Queue(max_queue)
        self._tasks: list[asyncio.Task[None]] = []

    def submit(self, record: BattleRecord) -> bool:
        """Queue a voted battle for the judge; False (and counted) when the queue is full
        or the battle is not one a judge rates (not voted, not blind: named, a re-vote)."""
        if not judgeable(record):
            return False
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.stats.dropped += 1
            return False
        self.stats.queued += 1
        return True

    @property
    def pending(self) -> int:
        """Battles waiting in the queue."""
        return self._queue.qsize()

    async def start(self) -> None:
        """Start the workers (on the running event loop)."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def drain(self) -> None:
        """Wait until every queued battle has been judged (for tests and orderly stops)."""
        await self._queue.join()

    async def aclose(self) -> None:
        """Stop the workers; battles still queued are left for a later `arena judge`."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _work(self) -> None:
        while True:
            battle = await self._queue.get()
            try:
                await self._judge(battle)
            except Exception:  # a worker must outlive any one battle
                log.exception("live judge: battle %s could not be judged", battle.battle_id)
            finally:
                self.stats.judged += 1
                self._queue.task_done()
            stop_if_cancelled()

    async def _judge(self, battle: BattleRecord) -> None:
        for order in ORDERS:
            sides = shown(battle, order)
            messages = self.template.messages(sides["conversation_a"], sides["conversation_b"])
            seed = call_seed(battle.battle_id, self.judge.name, order, self.seed)
            generation = await self.judge.ask(messages, seed, http=self.http)
            try:
                verdict = judged(battle, template=self.template, model=self.judge.name,
                                 order=order, seed=self.seed, generation=generation)
                await self.writer(verdict)
            except Exception as failed:
                self.stats.failed += 1
                log.warning("live judge: battle %s (%s): %s", battle.battle_id, order,
                            str(failed)[:300])
                continue
            self.stats.stored += 1


def live_judge_for(settings: Any, serving: Any, writer: Callable[[BattleRecord], Awaitable[None]],
                   http: httpx.AsyncClient) -> LiveJudge | None:
    """The LiveJudge of `[arena] judge_model` (None when empty) with `[arena] judge_template`,
    on the config's `[[models]]` (`serving`, keys filled in). Raises TemplateError or
    KeyError (naming the known models) when the config names what does not exist."""
    if not settings.judge_model:
        return None
    template = load_template(settings.judge_template or "pairwise-v1")
    judge = JudgeModel.from_config(serving, settings.judge_model, template)
    return LiveJudge(judge, template, writer, http=http)
