"""What lockstep streaming costs: time to the first visible text and to both full answers, with
`[arena] lockstep_streaming` off and on, in the same run.

    .venv/bin/python benchmarks/lockstep_cost.py [--battles 5]

Two scripted models stand in for the serving client: `fast` (first token after 0.10 s, then 100
tokens/s) and `slow` (first token after 0.40 s, then 30 tokens/s); a token is 4 characters and
one delta. Each battle goes through the real `BattleService` (an `EmbeddedRedis`, a SQLite log
in a temporary folder) in named mode, fast on the left. Three answer-length cases: the fast
model writes the longer answer (600 vs 200 characters), the slow one does, both write 400. The
modes alternate battle by battle. Prints a Markdown table of medians (seconds from `start` to
the first `delta` event of either side, to the first of the other side, and to `ready`) and
the on/off ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from arena.battles import BattleService, Contender
from arena.battles.sampling import PairSampler
from arena.config import ArenaSettings
from arena.live import LiveState
from arena.live.embedded import EmbeddedRedis
from arena.store import BattleLog
from serving.records import GenerationRecord

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Speed:
    first_token_s: float
    tokens_per_s: float


SPEEDS = {"fast": Speed(0.10, 100.0), "slow": Speed(0.40, 30.0)}
CASES = {  # case -> characters each model writes
    "fast model longer (600 vs 200 chars)": {"fast": 600, "slow": 200},
    "slow model longer (200 vs 600 chars)": {"fast": 200, "slow": 600},
    "equal (400 chars each)": {"fast": 400, "slow": 400},
}


class ScriptedSpeeds:
    """A GenerateFn: each model writes `lengths[model]` characters at its `SPEEDS` pace."""

    def __init__(self) -> None:
        self.lengths = {"fast": 400, "slow": 400}

    async def __call__(self, model: str, messages: list[dict[str, str]]
                       ) -> AsyncIterator[str | GenerationRecord]:
        speed = SPEEDS[model]
        record = GenerationRecord(endpoint="", served_model=model, messages=list(messages),
                                  params={}, started_at=datetime.now(UTC))
        yield record
        started = time.monotonic()
        await asyncio.sleep(speed.first_token_s)
        for index in range(self.lengths[model] // CHARS_PER_TOKEN):
            # Sleep to the token's due time, not by a fixed step: no drift under load.
            due = started + speed.first_token_s + index / speed.tokens_per_s
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            token = "word"[:CHARS_PER_TOKEN]
            record.output += token
            yield token
        record.finished_at = datetime.now(UTC)
        record.finish_reason = "stop"
        yield record


async def one_battle(service: BattleService, session: str) -> tuple[float, float, float]:
    """Seconds from `start` to the first delta of either side, to the first of the second
    side, and to `ready`, of one battle."""
    started = time.monotonic()
    first: dict[str, float] = {}
    _, stream = await service.start(session, "Say something.", mode="named",
                                    models=("fast", "slow"))
    async for event in stream:
        if event.kind == "delta" and event.side is not None:
            first.setdefault(event.side, time.monotonic() - started)
        if event.kind == "ready":
            return min(first.values()), max(first.values()), time.monotonic() - started
    raise RuntimeError(f"battle of {session} did not end ready")


def build(settings: ArenaSettings, url: str, scripted: ScriptedSpeeds, prefix: str
          ) -> BattleService:
    return BattleService(
        contenders={name: Contender(name) for name in SPEEDS}, generate=scripted,
        log=BattleLog(settings.db_url), live=LiveState.from_url(url, prefix=prefix),
        sampler=PairSampler("uniform"), settings=settings, salt="bench",
    )


async def bench(url: str, folder: Path, battles: int) -> None:
    base = replace(ArenaSettings(), db_url=f"sqlite:///{folder / 'bench.db'}",
                   data_dir=str(folder), battles_per_minute=10**6)
    scripted = ScriptedSpeeds()
    services = {mode: build(replace(base, lockstep_streaming=mode == "on"), url, scripted,
                            f"bench-lockstep-{mode}:") for mode in ("off", "on")}
    print("| case | lockstep | first text | both sides showing | full answers |")
    print("|---|---|---:|---:|---:|")
    try:
        for case, lengths in CASES.items():
            scripted.lengths = lengths
            times: dict[str, list[tuple[float, float, float]]] = {"off": [], "on": []}
            for index in range(battles):
                for mode in ("off", "on") if index % 2 == 0 else ("on", "off"):
                    times[mode].append(await one_battle(services[mode], f"{mode}-{index}"))
            medians = {mode: [statistics.median(t[column] for t in times[mode])
                              for column in range(3)] for mode in times}
            for mode in ("off", "on"):
                print(f"| {case} | {mode} | "
                      + " | ".join(f"{value:.2f} s" for value in medians[mode]) + " |")
            ratios = [on / off for on, off in zip(medians["on"], medians["off"], strict=True)]
            print(f"| {case} | on / off | " + " | ".join(f"{r:.2f}" for r in ratios) + " |")
    finally:
        for service in services.values():
            await service.aclose()
            await service.live.aclose()
            service.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=5, help="battles per mode and case")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs\n")
    with tempfile.TemporaryDirectory() as folder, EmbeddedRedis(data_dir=Path(folder)) as server:
        asyncio.run(bench(server.url, Path(folder), args.battles))


if __name__ == "__main__":
    main()
