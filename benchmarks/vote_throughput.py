"""Vote throughput of one arena process over REST, on SQLite.

Setup: an embedded Redis, one `arena serve --no-ui --no-models` worker with a SQLite file, and
N battles "already generated": their ready state (two turns of realistic length, both sides,
every generation field) is written into Redis exactly as the battle service leaves it after a
turn. Then C concurrent scripted raters (async httpx, one session each) vote on all of them.

Reported: votes/s over the whole run, latency percentiles of the vote request (ms), and the
counts in SQL afterwards (every acknowledged vote present once, nothing else).

    .venv/bin/python benchmarks/vote_throughput.py --battles 3000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from arena.battles import READY, rater_hash
from arena.live import LiveState
from arena.redis_server import EmbeddedRedis, free_port
from arena.store import BattleLog

SALT = "bench-salt"


def write_config(path: Path, data_dir: Path, db_url: str, redis_url: str) -> None:
    path.write_text(
        f'''[arena]
db_url = "{db_url}"
data_dir = "{data_dir}"
redis_url = "{redis_url}"
rater_salt = "{SALT}"
votes_per_hour = 100000
leaderboard_every_votes = 1000000
leaderboard_interval_s = 86400

[[models]]
name = "model-x"
base_url = "http://127.0.0.1:9"

[[models]]
name = "model-y"
base_url = "http://127.0.0.1:9"
''',
        encoding="utf-8",
    )


def generation(model: str, messages: list[dict], output: str, seed: int) -> dict:
    now = datetime.now(UTC).isoformat()
    return {
        "endpoint": "http://127.0.0.1:9", "served_model": model, "messages": messages,
        "params": {"temperature": 0.7, "top_p": 0.95, "top_k": 0, "min_p": 0.0,
                   "max_tokens": 256, "seed": seed, "repetition_penalty": 1.0,
                   "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": []},
        "seed": seed, "output": output, "started_at": now, "first_token_at": now,
        "finished_at": now, "prompt_tokens": 40, "completion_tokens": 200,
        "finish_reason": "stop", "system_fingerprint": "bench", "response_model": model,
        "error": None, "extra": {},
    }


def ready_state(battle_id: str, session: str, index: int) -> dict:
    """A battle as the service stores it after two finished turns."""
    answer = "word " * 200
    conversation: dict[str, list[dict]] = {"a": [], "b": []}
    turns = []
    for turn in range(2):
        prompt = f"Question {turn} of battle {index}?"
        gens = {}
        for side, model in (("a", "model-x"), ("b", "model-y")):
            messages = [*conversation[side], {"role": "user", "content": prompt}]
            gens[side] = generation(model, messages, answer, index * 10 + turn)
            conversation[side] = [*messages, {"role": "assistant", "content": answer}]
        turns.append({"index": turn, "prompt": prompt, "generation_a": gens["a"],
                      "generation_b": gens["b"]})
    return {
        "battle_id": battle_id, "owner": rater_hash(SALT, session), "mode": "anonymous",
        "model_a": "model-x", "model_b": "model-y", "system_prompt_a": "",
        "system_prompt_b": "", "conversation_a": conversation["a"],
        "conversation_b": conversation["b"], "turns": turns, "status": READY, "flags": [],
        "pair_policy": "uniform", "pair_probability": 1.0, "side_seed": index,
        "category": None, "started_at": datetime.now(UTC).isoformat(), "touched": time.time(),
    }


async def seed_battles(redis_url: str, count: int) -> list[tuple[str, str]]:
    live = LiveState.from_url(redis_url)
    battles = []
    for index in range(count):
        battle_id, session = uuid.uuid4().hex, uuid.uuid4().hex
        await live.put_battle(battle_id, ready_state(battle_id, session, index), 3600)
        battles.append((battle_id, session))
    await live.aclose()
    return battles


async def cast_votes(url: str, battles: list[tuple[str, str]], concurrency: int
                     ) -> tuple[list[float], list[int], float]:
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for battle in battles:
        queue.put_nowait(battle)
    latencies: list[float] = []
    codes: list[int] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        async def rater() -> None:
            while not queue.empty():
                battle_id, session = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(
                    f"{url}/api/battles/{battle_id}/vote", json={"winner": "model_a"},
                    headers={"X-Arena-Session": session})
                latencies.append((time.perf_counter() - started) * 1000)
                codes.append(response.status_code)

        began = time.perf_counter()
        await asyncio.gather(*(rater() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return latencies, codes, elapsed


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        root = Path(tmp)
        db_url = f"sqlite:///{root / 'bench.db'}"
        config = root / "arena.toml"
        write_config(config, root / "data", db_url, redis.url)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "arena", "serve", "--config", str(config), "--no-ui",
             "--no-models", "--port", str(port)],
            stdout=open(root / "serve.log", "wb"), stderr=subprocess.STDOUT,
            env={**os.environ, "ARENA_LOG_LEVEL": "WARNING"},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    httpx.get(f"{url}/openapi.json", timeout=2).raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        sys.exit("arena serve did not start:\n"
                                 + (root / "serve.log").read_text()[-3000:])
                    time.sleep(0.2)
            battles = asyncio.run(seed_battles(redis.url, args.battles))
            cpu_before = process_cpu_s(server.pid)
            latencies, codes, elapsed = asyncio.run(
                cast_votes(url, battles, args.concurrency))
            server_cpu_s = process_cpu_s(server.pid) - cpu_before
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
            if os.environ.get("BENCH_SHOW_LOG"):
                print((root / "serve.log").read_text()[-5000:])
        log = BattleLog(db_url)
        stored = log.count_battles(status="voted")
        distinct = sum(1 for _ in log.iter_battles(status="voted"))
        log.close()

    accepted = codes.count(200)
    print(f"battles {args.battles}, concurrency {args.concurrency}, SQLite")
    print("| votes | accepted | votes/s | p50 ms | p90 ms | p99 ms | max ms | server CPU ms/vote "
          "| in SQL |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {len(codes)} | {accepted} | {len(codes) / elapsed:.0f} "
          f"| {statistics.median(latencies):.1f} | {percentile(latencies, 90):.1f} "
          f"| {percentile(latencies, 99):.1f} | {max(latencies):.1f} "
          f"| {server_cpu_s / len(codes) * 1000:.2f} | {stored} |")
    if not (accepted == args.battles == stored == distinct):
        sys.exit(f"LOST OR DUPLICATED VOTES: accepted {accepted}, in SQL {stored}")


if __name__ == "__main__":
    main()
