"""Vote throughput and latency of one arena process over REST, on SQLite.

Setup: an embedded Redis, one `arena serve --no-ui --no-models` worker with a SQLite file, and
N battles "already generated": their ready state (two turns of realistic length, both sides,
every generation field) is written into Redis exactly as the battle service leaves it after a
turn. Each battle belongs to its own rater session, issued by the server (`POST
/api/sessions`, signed), and every vote carries it in `X-Arena-Session`, so each vote pays for
checking the signature and for the limits (votes per hour and per day per session, per day per
address: all on, set high enough that this one-address benchmark stays under them). Then the
scripted raters vote on all of them, either

- open loop (`--rate R`): votes arrive as a Poisson process of R per second whatever the
  server does, and latency counts from each vote's scheduled arrival: the test of "sustains
  R votes/s with p99 under X ms"; or
- closed loop (`--concurrency C`): C raters each vote again as soon as the last vote returns:
  the server's maximum throughput (latency is then C / throughput by construction).

Reported: votes/s over the whole run, latency percentiles (ms), CPU per vote of the server,
the raters and Redis (all share this machine's cores), and the votes in SQL afterwards (every
acknowledged vote present once, nothing else).

    .venv/bin/python benchmarks/vote_throughput.py --battles 6000 --rate 300
    .venv/bin/python benchmarks/vote_throughput.py --battles 3000 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from arena.battles.state import READY, rater_hash
from arena.ids import new_battle_id
from arena.live import LiveState
from arena.live.embedded import EmbeddedRedis, free_port
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
votes_per_day = 1000000
votes_per_day_per_address = 1000000
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


async def issue_sessions(url: str, count: int, concurrency: int = 16) -> list[str]:
    """`count` session tokens from the server (`POST /api/sessions`)."""
    tokens: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        async def issue(share: int) -> None:
            for _ in range(share):
                reply = await client.post("/api/sessions")
                reply.raise_for_status()
                tokens.append(reply.json()["session"])

        shares = [count // concurrency + (i < count % concurrency) for i in range(concurrency)]
        await asyncio.gather(*(issue(share) for share in shares))
    return tokens


async def seed_battles(redis_url: str, tokens: list[str]) -> list[tuple[str, str]]:
    """A ready battle per session token, owned by that session: (battle id, token)."""
    live = LiveState.from_url(redis_url)
    battles = []
    for index, token in enumerate(tokens):
        battle_id, session = new_battle_id(), token.rsplit(".", 2)[0]
        await live.put_battle(battle_id, ready_state(battle_id, session, index), 3600)
        battles.append((battle_id, token))
    await live.aclose()
    return battles


def _queued(battles: list[tuple[str, str]]) -> asyncio.Queue[tuple[str, str]]:
    """The battles to vote on, for closed-loop raters to take one at a time."""
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for battle in battles:
        queue.put_nowait(battle)
    return queue


async def cast_votes_httpx(url: str, battles: list[tuple[str, str]], concurrency: int
                           ) -> tuple[list[float], list[int], float]:
    """The raters as httpx clients (about 5 ms of client CPU per request here)."""
    queue = _queued(battles)
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


class RawConnection:
    """One keep-alive HTTP/1.1 connection of a scripted rater, over asyncio streams.

    It writes the request a browser's fetch would (POST, JSON body, the session header) and
    reads the status line, the headers and the Content-Length body. The raters share the 2
    cores with the server, so a client that costs less CPU leaves more to the server under
    test (httpx cost about 5 ms of CPU per vote here, as much as the server); `--client httpx`
    measures with httpx instead.
    """

    BODY = json.dumps({"winner": "model_a"}).encode()

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def vote(self, battle_id: str, session: str) -> int:
        reused = self.writer is not None
        try:
            return await self._vote(battle_id, session)
        except (asyncio.IncompleteReadError, ConnectionError):
            if not reused:
                raise
            # The server closed this connection while it was idle (its keep-alive timeout),
            # before the request: send it again on a new one.
            self.close()
            self.writer = None
            return await self._vote(battle_id, session)

    async def _vote(self, battle_id: str, session: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write((
            f"POST /api/battles/{battle_id}/vote HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"X-Arena-Session: {session}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.BODY)}\r\n\r\n"
        ).encode() + self.BODY)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in header_lines
                      if line.lower().startswith("content-length:"))
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


async def cast_votes_raw(url: str, battles: list[tuple[str, str]], concurrency: int
                         ) -> tuple[list[float], list[int], float]:
    """Closed loop: `concurrency` raters, each voting again as soon as its vote returns."""
    queue = _queued(battles)
    latencies: list[float] = []
    codes: list[int] = []

    async def rater() -> None:
        connection = RawConnection(*_address(url))
        try:
            while not queue.empty():
                battle_id, session = queue.get_nowait()
                started = time.perf_counter()
                codes.append(await connection.vote(battle_id, session))
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(rater() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return latencies, codes, elapsed


async def cast_votes_at_rate(url: str, battles: list[tuple[str, str]], rate: float,
                             seed: int = 0, trace: list[tuple[float, float]] | None = None,
                             ) -> tuple[list[float], list[int], float]:
    """Open loop: votes arrive as a Poisson process of `rate` per second, whatever the server's
    speed, each on an idle keep-alive connection (a new one when none is idle). Latency counts
    from the scheduled arrival, so time spent waiting behind a slow server is included.
    `trace`, if given, receives (scheduled arrival as Unix time, latency ms) per vote."""
    arrivals = random.Random(seed)
    idle: list[RawConnection] = []
    opened: list[RawConnection] = []
    latencies: list[float] = []
    codes: list[int] = []

    async def one(battle_id: str, session: str, scheduled: float) -> None:
        if idle:
            connection = idle.pop()
        else:
            connection = RawConnection(*_address(url))
            opened.append(connection)
        codes.append(await connection.vote(battle_id, session))
        latencies.append((time.perf_counter() - scheduled) * 1000)
        if trace is not None:
            trace.append((time.time() - (time.perf_counter() - scheduled), latencies[-1]))
        idle.append(connection)

    began = time.perf_counter()
    scheduled = began
    tasks = []
    for battle_id, session in battles:
        scheduled += arrivals.expovariate(rate)
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(battle_id, session, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    for connection in opened:
        connection.close()
    return latencies, codes, elapsed


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds so far of a process and its live descendants (Linux /proc;
    the server's SQL writer is a child process)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="the raters' HTTP client (default: minimal keep-alive HTTP/1.1)")
    parser.add_argument("--rate", type=float, default=None,
                        help="open loop: votes arrive at this many per second (Poisson); "
                             "without it, --concurrency raters vote as fast as they can")
    parser.add_argument("--trace", type=Path, default=None,
                        help="open loop: write each vote's arrival (Unix s) and latency (ms) "
                             "to this CSV, and the server's log beside it (to find what the "
                             "slow votes have in common)")
    args = parser.parse_args()
    trace: list[tuple[float, float]] | None = [] if args.trace is not None else None

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
            env={**os.environ,
                 "ARENA_LOG_LEVEL": "INFO" if args.trace is not None else "WARNING"},
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
            tokens = asyncio.run(issue_sessions(url, args.battles))
            battles = asyncio.run(seed_battles(redis.url, tokens))
            if args.rate is not None:
                if args.client != "raw":
                    sys.exit("--rate uses the raw client")
                cast_votes = functools.partial(cast_votes_at_rate, rate=args.rate, trace=trace)
            else:
                client = cast_votes_raw if args.client == "raw" else cast_votes_httpx
                cast_votes = functools.partial(client, concurrency=args.concurrency)
            cpu_before = process_cpu_s(server.pid)
            redis_cpu_before = process_cpu_s(redis.pid)
            client_cpu_before = time.process_time()
            # The raters keep every vote's task and latency until the end: a full collection
            # of this process paused them for ~50 ms mid-run, which the latencies then
            # counted as the server's. Their garbage is acyclic; collect it afterwards.
            gc.collect()
            gc.freeze()
            gc.disable()
            try:
                latencies, codes, elapsed = asyncio.run(cast_votes(url, battles))
            finally:
                gc.enable()
            client_cpu_s = time.process_time() - client_cpu_before
            server_cpu_s = process_cpu_s(server.pid) - cpu_before
            redis_cpu_s = process_cpu_s(redis.pid) - redis_cpu_before
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
            if os.environ.get("BENCH_SHOW_LOG"):
                print((root / "serve.log").read_text()[-5000:])
            if args.trace is not None:
                args.trace.with_suffix(".log").write_bytes((root / "serve.log").read_bytes())
        log = BattleLog(db_url)
        stored = log.count_battles(status="voted")
        distinct = sum(1 for _ in log.iter_battles(status="voted"))
        log.close()

    accepted = codes.count(200)
    per_vote = 1000 / len(codes)
    load = (f"open loop at {args.rate:g} votes/s (Poisson)" if args.rate is not None
            else f"closed loop, {args.concurrency} raters")
    print(f"battles {args.battles}, {load}, client {args.client}, SQLite")
    print("| votes | accepted | votes/s | p50 ms | p90 ms | p99 ms | max ms "
          "| CPU ms/vote: server | raters | redis | in SQL |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {len(codes)} | {accepted} | {len(codes) / elapsed:.0f} "
          f"| {statistics.median(latencies):.1f} | {percentile(latencies, 90):.1f} "
          f"| {percentile(latencies, 99):.1f} | {max(latencies):.1f} "
          f"| {server_cpu_s * per_vote:.2f} | {client_cpu_s * per_vote:.2f} "
          f"| {redis_cpu_s * per_vote:.2f} | {stored} |")
    if trace is not None:
        args.trace.write_text("arrival_unix_s,latency_ms\n" + "".join(
            f"{arrival:.6f},{latency:.3f}\n" for arrival, latency in trace))
    others = {code: codes.count(code) for code in sorted(set(codes)) if code != 200}
    if others:
        print(f"refused (HTTP status: votes): {others}")
    if not (accepted == args.battles == stored == distinct):
        sys.exit(f"LOST OR DUPLICATED VOTES: accepted {accepted}, in SQL {stored}")


if __name__ == "__main__":
    main()
