"""Running judges over battles: bounded concurrency, a verdict per order, resumable.

For each battle of the source, each judge and each order ("original", then "swapped"), the
verdict's id is computed first (arena.judge.verdict.verdict_id); what the sink already holds
is not asked again, so an interrupted run is finished by running it again with the same
judges, template and seed. At most `concurrency` judge calls are in flight at once (one
semaphore over all judges), and at most `2 * concurrency` battles are open, so memory stays
bounded on a log of any size. A battle's new verdicts are written together once its calls
have ended (one transaction in SQL, one flush in a file), so an interruption loses at most
the calls in flight.

A failed call (server down, HTTP error, timeout, an answer that is none of the choices) is
counted, its message passed to `on_error` ("battle <id> (<order>, judge <model>): <why>"),
and the run goes on; it is asked again on the next run. A panel's combined verdict is
written once all its members' verdicts on that battle and order are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import httpx

from arena.judge.model import JudgeModel
from arena.judge.panel import Panel, member_ids, panel_verdict
from arena.judge.template import JudgeTemplate
from arena.judge.verdict import ORDERS, call_seed, judged, shown, verdict_id
from arena.record import BattleRecord
from serving.client import make_http_client

# Errors kept in the report; the rest are counted (and each passed to on_error).
KEPT_ERRORS = 50


@dataclass
class RunReport:
    """Counts of one run: `asked` calls made, of which `failed` gave no verdict; `stored`
    verdicts written now (panel verdicts included), `already` found stored."""

    battles: int = 0
    asked: int = 0
    stored: int = 0
    already: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"battles {self.battles}, calls {self.asked}, verdicts stored {self.stored}, "
                f"already stored {self.already}, failed calls {self.failed}")


@dataclass
class JudgeRun:
    """What a run asks: these judges, with this template and run seed, in these orders;
    with `panel`, the members' verdicts combined too."""

    judges: Sequence[JudgeModel]
    template: JudgeTemplate
    seed: int = 0
    concurrency: int = 4
    orders: Sequence[str] = ORDERS
    panel: Panel | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if not self.judges:
            raise ValueError("a run needs at least one judge")
        names = [judge.name for judge in self.judges]
        if self.panel is not None and set(self.panel.members) != set(names):
            raise ValueError(f"the panel's members ({', '.join(self.panel.members)}) must be "
                             f"the run's judges ({', '.join(names)})")


class _Runner:
    """One run's state: the sink, the report, the call semaphore and the HTTP client."""

    def __init__(self, run: JudgeRun, sink, http: httpx.AsyncClient,
                 on_error: Callable[[str], None] | None, tick: Callable[[], None]) -> None:
        self.run, self.sink, self.http = run, sink, http
        self.on_error, self.tick = on_error, tick
        self.report = RunReport()
        self.calls = asyncio.Semaphore(run.concurrency)

    def _ids(self, battle: BattleRecord) -> dict[tuple[str, str], str]:
        run = self.run
        return {(judge.name, order): verdict_id(battle.battle_id, judge.name,
                                                run.template.hash, order, run.seed)
                for judge in run.judges for order in run.orders}

    async def battle(self, battle: BattleRecord) -> None:
        """Every missing verdict on `battle`, then its panel verdicts; written together."""
        ids = self._ids(battle)
        wanted = list(ids.values()) + self._panel_ids(battle)
        present = await asyncio.to_thread(self.sink.present, wanted)
        missing = [(name, order) for (name, order), vid in ids.items() if vid not in present]
        self.report.already += len(present)
        judges = {judge.name: judge for judge in self.run.judges}
        results = await asyncio.gather(*(self._ask(battle, judges[name], order)
                                          for name, order in missing))
        fresh = [record for record in results if record is not None]
        fresh += await self._panel_verdicts(battle, fresh, present)
        if fresh:
            written = await asyncio.to_thread(self.sink.write, fresh)  # then add: no race
            self.report.stored += written
        self.report.battles += 1
        self.tick()

    async def _ask(self, battle: BattleRecord, judge: JudgeModel, order: str
                   ) -> BattleRecord | None:
        run = self.run
        sides = shown(battle, order)
        messages = run.template.messages(sides["conversation_a"], sides["conversation_b"])
        async with self.calls:
            self.report.asked += 1
            generation = await judge.ask(
                messages, call_seed(battle.battle_id, judge.name, order, run.seed),
                http=self.http)
        try:
            return judged(battle, template=run.template, model=judge.name, order=order,
                          seed=run.seed, generation=generation)
        except ValueError as failed:
            self._fail(f"battle {battle.battle_id} ({order}, judge {judge.name}): {failed}")
            return None

    def _fail(self, message: str) -> None:
        self.report.failed += 1
        if len(self.report.errors) < KEPT_ERRORS:
            self.report.errors.append(message)
        if self.on_error is not None:
            self.on_error(message)

    def _panel_ids(self, battle: BattleRecord) -> list[str]:
        run = self.run
        if run.panel is None:
            return []
        return [verdict_id(battle.battle_id, run.panel.name, run.template.hash, order, run.seed)
                for order in run.orders]

    async def _panel_verdicts(self, battle: BattleRecord, fresh: list[BattleRecord],
                              present: set[str]) -> list[BattleRecord]:
        run = self.run
        if run.panel is None:
            return []
        verdicts = []
        for order, panel_id in zip(run.orders, self._panel_ids(battle), strict=True):
            if panel_id in present:
                continue
            members = member_ids(run.panel, battle.battle_id, run.template, order, run.seed)
            winners = {record.battle_id: record.winner or "" for record in fresh}
            stored = [vid for vid in members if vid not in winners]
            if stored:
                winners.update(await asyncio.to_thread(self.sink.winners, stored))
            record = panel_verdict(battle, run.panel, run.template, order, run.seed, winners)
            if record is not None:
                verdicts.append(record)
        return verdicts


async def run_judges(battles: Iterable[BattleRecord], sink, run: JudgeRun, *,
                     http: httpx.AsyncClient | None = None,
                     on_error: Callable[[str], None] | None = None,
                     tick: Callable[[], None] = lambda: None) -> RunReport:
    """Judge every battle of `battles` into `sink` (an arena.judge.store.VerdictSink).

    `tick` is called once per battle done (a progress bar's update). Cancelling the run
    cancels the calls in flight; what was written stays written.
    """
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            http = await stack.enter_async_context(
                make_http_client(max_connections=run.concurrency))
        runner = _Runner(run, sink, http, on_error, tick)
        open_battles = asyncio.Semaphore(2 * run.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        broken: list[BaseException] = []

        def finished(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            open_battles.release()
            if not task.cancelled() and task.exception() is not None:
                broken.append(task.exception())  # the sink failed: the run stops

        try:
            for battle in battles:
                await open_battles.acquire()
                if broken:
                    break
                task = asyncio.create_task(runner.battle(battle))
                tasks.add(task)
                task.add_done_callback(finished)
            await asyncio.gather(*tasks)
        finally:
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if broken:
            raise broken[0]
        return runner.report
