"""How fast the vote log records battles and exports them.

    .venv/bin/python benchmarks/store_votes.py [--url URL] [--threads 16] [--rate 300]
                                               [--seconds 10]

Writes: `threads` worker threads share one BattleLog (as the battle service's threadpool does)
and record two-turn battles at a target rate (votes per second, paced open-loop so the
latency includes queueing); prints the achieved rate and latency percentiles in milliseconds.
Then exports everything to JSONL and Parquet and prints battles/s and the peak RSS growth.
Goal (issue 2): 300 votes/s with p99 < 50 ms on SQLite.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from factories import make_battle

from arena.store import BattleLog
from arena.transfer.export import export_battles


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a SQLite file in a temp dir)")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rate", type=float, default=300.0, help="target votes per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="arena-bench-"))
    url = args.url or f"sqlite:///{workdir / 'arena.db'}"
    total = int(args.rate * args.seconds)
    battles = [make_battle(turn_count=2) for _ in range(total)]  # built before timing

    log = BattleLog(url)
    latencies: list[float] = []

    def record(index: int, due: float) -> None:
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        log.record_battle(battles[index])
        latencies.append(time.perf_counter() - due)

    cpu_began = time.process_time()
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        for future in [pool.submit(record, i, began + i / args.rate) for i in range(total)]:
            future.result()
    elapsed = time.perf_counter() - began
    cpu_ms = 1000 * (time.process_time() - cpu_began) / total
    ms = [1000 * value for value in latencies]
    print(f"backend: {url.split(':', 1)[0]}, {args.threads} threads, target {args.rate:.0f}/s")
    print(f"recorded {total} battles in {elapsed:.2f} s = {total / elapsed:.0f} votes/s")
    print(
        f"latency ms: p50 {percentile(ms, 0.5):.1f}  p95 {percentile(ms, 0.95):.1f}  "
        f"p99 {percentile(ms, 0.99):.1f}  max {max(ms):.1f}"
    )

    print(
        f"CPU per vote: {cpu_ms:.2f} ms (all threads), so one free core records about "
        f"{1000 / cpu_ms:.0f} votes/s; load average now {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for fmt in ("jsonl", "parquet"):
        began = time.perf_counter()
        count = export_battles(log, fmt, workdir / f"out.{fmt}", status="all", progress=False)
        took = time.perf_counter() - began
        print(f"export {fmt}: {count} battles in {took:.2f} s = {count / took:.0f} battles/s")
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS grew by {(rss_after - rss_before) / 1024:.0f} MiB during the exports")
    log.close()


if __name__ == "__main__":
    main()
