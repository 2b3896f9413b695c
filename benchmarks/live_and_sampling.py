"""Per-battle cost of pair sampling and of the live-state calls, against a real redis-server.

    .venv/bin/python benchmarks/live_and_sampling.py [--calls 2000]

Prints two Markdown tables: microseconds per `PairSampler.sample` draw by policy and number of
models (one model in outage, random vote counts on every pair), and latency percentiles of the
`LiveState` calls a battle makes, each called sequentially against an `EmbeddedRedis`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time

from arena.battles.sampling import POLICIES, PairSampler
from arena.live import LiveState
from arena.live.embedded import EmbeddedRedis


def bench_sampler(draws: int) -> None:
    print("| models | " + " | ".join(POLICIES) + " |")
    print("|---:|" + "---:|" * len(POLICIES))
    for m in (5, 20, 50):
        models = [f"model-{i}" for i in range(m)]
        rng = random.Random(0)
        counts = {
            (a, b): rng.randint(1, 500) for i, a in enumerate(models) for b in models[i + 1 :]
        }
        cells = []
        for policy in POLICIES:
            sampler = PairSampler(policy, weights={x: 1 + i for i, x in enumerate(models)})
            started = time.perf_counter()
            for _ in range(draws):
                sampler.sample(models, counts, rng, excluded={"model-0"})
            cells.append(f"{1e6 * (time.perf_counter() - started) / draws:.0f} µs")
        print(f"| {m} | " + " | ".join(cells) + " |")


async def bench_live(url: str, calls: int) -> None:
    async with LiveState.from_url(url, prefix="bench:") as live:
        await live.ping()
        await live.rebuild_pair_counts(
            {(f"m{a}", f"m{b}"): 3 for a in range(50) for b in range(a + 1, 50)}
        )
        battle = {"status": "ready", "turns": [{"prompt": "x" * 200}] * 4}
        cases = {
            "claim_vote": lambda i: live.claim_vote(f"b{i}", "rater"),
            "hit_rate_limit": lambda i: live.hit_rate_limit(
                "vote", "rater", limit=10**9, window_s=60
            ),
            "put_battle (1 kB)": lambda i: live.put_battle(f"b{i}", battle, 60),
            "get_battle (1 kB)": lambda i: live.get_battle(f"b{i}"),
            "down_models": lambda i: live.down_models(),
            "pair_counts (1225 pairs)": lambda i: live.pair_counts(),
        }
        print("| call | p50 | p99 |")
        print("|---|---:|---:|")
        for name, call in cases.items():
            latencies = []
            for i in range(calls):
                started = time.perf_counter()
                await call(i)
                latencies.append(time.perf_counter() - started)
            latencies.sort()
            p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
            print(f"| {name} | {1e6 * p50:.0f} µs | {1e6 * p99:.0f} µs |")
        await live.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per measurement")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    bench_sampler(args.calls)
    print()
    started = time.perf_counter()
    with EmbeddedRedis() as server:
        startup_ms = 1e3 * (time.perf_counter() - started)
        print(f"EmbeddedRedis start until it answers: {startup_ms:.0f} ms\n")
        asyncio.run(bench_live(server.url, args.calls))


if __name__ == "__main__":
    main()
