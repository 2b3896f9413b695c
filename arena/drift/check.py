"""Drift check: re-generate logged generations and compare the answers.

For every selected logged generation (see `arena.drift.tasks`) the same request is sent again
(the logged messages, every logged sampling parameter and the logged seed) to the endpoint the
config *now* gives the same public model name, through the same streaming client the arena
uses. The new answer is compared with the logged one:

- exact match: the two texts are equal, character for character;
- similarity: `arena.drift.similarity.text_similarity` (token-level difflib ratio, 0..1);
- served model id: the model id the server answered with (`response_model`, else the id we
  asked for) before and now; `system_fingerprint` before and now.

On one machine with the same vLLM build a seeded generation repeats exactly, so a lower
exact-match rate means the model, the server or its settings changed. (vLLM does not promise
bit-exact repeats across GPU batch shapes or versions: read the rate as a measurement.)

Failures of the endpoint (refused connection, HTTP error, timeout) become `failed` results and
the run goes on; the run is resumable (`arena.drift.progress`).

    report = run_drift_check(Path("battles.jsonl"), load_models_config("arena.toml"),
                             Path("drift-out"), concurrency=4)
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from arena.drift.progress import ProgressStore, file_sha256
from arena.drift.report import DriftReport, summarise
from arena.drift.results import TurnResult, compare, not_configured, skipped_result
from arena.drift.tasks import RegenerationTask, collect_tasks, read_battle_log
from serving.client import StreamTimeouts, complete_chat, make_http_client
from serving.config import ServingConfig

DEFAULT_TIMEOUTS = StreamTimeouts(connect=10.0, first_token=120.0, total=300.0)
T = TypeVar("T")


async def regenerate(
    tasks: list[RegenerationTask],
    config: ServingConfig,
    *,
    concurrency: int = 4,
    timeouts: StreamTimeouts = DEFAULT_TIMEOUTS,
    on_result: Callable[[TurnResult], None] | None = None,
) -> list[TurnResult]:
    """Send `tasks` again with at most `concurrency` requests in flight; results in task order.

    `on_result` is called with each result as it finishes (the progress file and bar use it).
    Never raises for endpoint failures; those are `failed` results.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    results: list[TurnResult | None] = [None] * len(tasks)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(tasks)):
        queue.put_nowait(index)

    async def worker(http) -> None:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            task = tasks[index]
            try:
                endpoint = config.model(task.model).endpoint()
            except KeyError:
                result = not_configured(task, config)
            else:
                start = time.perf_counter()
                record = await complete_chat(endpoint, task.logged.messages, task.logged.params,
                                             timeouts=timeouts, http=http)
                result = compare(task, record, time.perf_counter() - start)
            results[index] = result
            if on_result is not None:
                on_result(result)

    async with make_http_client(max_connections=max(concurrency, 1)) as http:
        await asyncio.gather(*(worker(http) for _ in range(min(concurrency, len(tasks)) or 1)))
    return [r for r in results if r is not None]


async def _until_interrupted(work: Coroutine[Any, Any, T]) -> T | None:
    """Await `work`; None if SIGINT (Ctrl-C) stopped it.

    `asyncio.run`'s own SIGINT handler is a plain `signal.signal` handler: when the kernel
    hands the signal to another thread (tqdm's monitor thread, an executor thread), nothing
    wakes the main thread, which sleeps in epoll until the loop's next timer, up to a
    first-token timeout later. `loop.add_signal_handler` writes the signal to the loop's
    wake-up pipe, so the loop wakes whichever thread received it.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
    except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or Windows
        return await task
    try:
        return await task
    except asyncio.CancelledError:
        if interrupted:
            return None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _progress_bar(total: int, done: int, enabled: bool | None):
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, initial=done, disable=not show, unit="gen", desc="replaying",
                file=sys.stderr)


def run_drift_check(
    log_path: Path,
    config: ServingConfig,
    out_dir: Path,
    *,
    models: set[str] | None = None,
    limit: int | None = None,
    concurrency: int = 4,
    timeouts: StreamTimeouts = DEFAULT_TIMEOUTS,
    worst: int = 3,
    progress: bool | None = None,
) -> DriftReport:
    """Re-generate the selected battles of `log_path`, resuming from `out_dir`, and write
    `out_dir/drift.json` and `out_dir/drift.md`; returns the report.

    `progress=None` shows a bar only when stderr is a terminal. Raises DriftInputError for an
    unreadable log or an out dir that holds another log's progress. KeyboardInterrupt leaves
    the finished results in `out_dir/progress.jsonl`; the same call resumes.
    """
    started = datetime.now(UTC)
    tasks, skipped = collect_tasks(read_battle_log(log_path), models, limit)
    log_sha256 = file_sha256(log_path)
    store = ProgressStore(out_dir, log_path, log_sha256)
    done = store.load()
    resumed = {t.key: TurnResult.from_dict(done[t.key]) for t in tasks if t.key in done}
    pending = [t for t in tasks if t.key not in resumed]
    bar = _progress_bar(len(tasks), len(resumed), progress)

    def record(result: TurnResult) -> None:
        store.append(result.to_dict())
        bar.update(1)

    try:
        fresh = asyncio.run(_until_interrupted(regenerate(
            pending, config, concurrency=concurrency, timeouts=timeouts, on_result=record)))
    finally:
        bar.close()
        store.close()
    if fresh is None:
        raise KeyboardInterrupt
    by_key = {**resumed, **{r.key: r for r in fresh}}
    results = [by_key[t.key] for t in tasks] + [skipped_result(s) for s in skipped]
    report = summarise(results, worst=worst)
    report.meta = {
        "log": str(log_path), "log_sha256": log_sha256,
        "config": str(config.path) if config.path is not None else None,
        "models_selected": sorted(models) if models else None, "limit": limit,
        "concurrency": concurrency, "resumed": len(resumed), "attempted_now": len(fresh),
        "started_at": started.isoformat(), "finished_at": datetime.now(UTC).isoformat(),
        "similarity": "token-level difflib ratio (arena.drift.similarity)",
    }
    report.write(out_dir)
    return report
