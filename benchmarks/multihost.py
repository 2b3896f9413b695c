"""Votes/s and latency through a load balancer: two arena hosts on PostgreSQL and Redis.

The deployment of tests/test_multihost.py (examples/deploy/'s files; tests/fixtures/
deployment.py starts it), here on one machine: a PostgreSQL cluster of its own (fsync on, as
in production, unless `--no-fsync`), Debian's redis-server, two `arena serve --workers W
--no-ui` hosts and Debian's nginx and HAProxy in front (examples/deploy/nginx.conf,
haproxy.cfg; nginx, or both in turn with `--balancer both`). The battles are already
generated: each rater session (issued by the arena through nginx) gets one ready battle
written into Redis as the battle service leaves it after two turns
(benchmarks/vote_throughput.py's `ready_state`), so
what is measured is the vote: the balancer, a worker (session check, limits, the Redis admission),
its SQL writer's commit to PostgreSQL, the settle in Redis.

The peer, in the same run and on the same deployment: the same votes sent straight to the
workers (round robin, no balancer). Rounds alternate, each balancer then direct, each on its
own fresh battles, so that a slow stretch of the shared machine hits all; reported per round
and as medians, with the ratio balancer / direct.

- open loop (`--rate R`, default): votes arrive as a Poisson process of R per second;
  latency counts from each vote's scheduled arrival (the test of "R votes/s, p99 < X ms");
- closed loop (`--concurrency C`): C raters vote again as soon as their vote returns (the
  ceiling; latency is then C / throughput by construction).

CPU per vote is reported by part (the hosts' web workers, their SQL writer children,
PostgreSQL, Redis, the balancers, the raters): on a shared machine it says what the votes/s cannot,
how many votes/s the cores would carry (1000 ms x cores / total ms per vote). Afterwards every
acknowledged vote must be in PostgreSQL once (else the script exits 1).

    .venv/bin/python benchmarks/multihost.py --rate 500 --votes 3000 --rounds 3 --workers 1
    .venv/bin/python benchmarks/multihost.py --concurrency 32 --votes 3000 --rounds 2 --workers 1

(`--workers 1` on a 2-core machine: two hosts of two workers each are eight arena processes
on two cores, which cost about a third more CPU per vote.)
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from fixtures.balancers import HAProxy, Nginx  # noqa: E402
from fixtures.deployment import ArenaHost, DebianRedis, LocalPostgres, descendants  # noqa: E402
from fixtures.scripted_models import ScriptedModelServer  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from vote_throughput import (  # noqa: E402
    SALT,
    cast_votes_at_rate,
    cast_votes_raw,
    issue_sessions,
    percentile,
    seed_battles,
)

MODELS = ("model-x", "model-y")  # the names ready_state's battles carry
KEYS = {
    "rater_salt": SALT, "trusted_proxies": ["127.0.0.1"],
    "votes_per_hour": 1000000, "votes_per_day": 1000000, "votes_per_day_per_address": 10000000,
    "leaderboard_every_votes": 1000000, "leaderboard_interval_s": 86400,
}


def write_secret(path: Path) -> str:
    path.touch(mode=0o600)
    path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
    return str(path)


def start_deployment(root: Path, db_url: str, workers: int, started: list) -> tuple:
    """Redis, the scripted models (only probed: no battle is generated), two hosts, nginx
    and HAProxy; each part is appended to `started` as it starts (the caller stops them)."""
    for name in ("redis", "host-a", "host-b", "nginx", "haproxy"):
        (root / name).mkdir()
    redis = DebianRedis(root / "redis", secrets.token_hex(24)).start()
    started.append(redis)
    models = ScriptedModelServer(MODELS).start()
    started.append(models)
    keys = {**KEYS, "session_secret_file": write_secret(root / "session_secret"),
            "operator_token_file": write_secret(root / "operator_token")}
    env = {"ARENA_DB_URL": db_url, "ARENA_REDIS_URL": redis.url, "ARENA_LOG_LEVEL": "WARNING"}
    hosts = []
    for name in ("a", "b"):
        hosts.append(ArenaHost(name, root / f"host-{name}", example=f"host-{name}.toml",
                               env=env, models_toml=models.models_toml(), keys=keys,
                               workers=workers).start())
        started.append(hosts[-1])
    for host in hosts:
        host.wait_ready()
    upstreams = [a for h in hosts for a in h.addresses]
    balancers = {}
    for name, kind in (("nginx", Nginx), ("haproxy", HAProxy)):
        balancers[name] = kind(root / name, upstreams, tag_upstream=False).start()
        started.append(balancers[name])
    return redis, hosts, balancers


async def cast_direct(urls: list[str], battles: list, cast) -> tuple[list, list, float]:
    """The peer: the battles dealt round robin to the workers, cast at once on each (a
    `rate` is split evenly, so the whole arrives at the same rate)."""
    shares = [battles[i::len(urls)] for i in range(len(urls))]
    results = await asyncio.gather(*(cast(url, share) for url, share in zip(urls, shares,
                                                                           strict=True)))
    latencies = [ms for result in results for ms in result[0]]
    codes = [code for result in results for code in result[1]]
    return latencies, codes, max(result[2] for result in results)


def own_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_part(parts: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each part's process trees; the arena hosts' split into their
    web workers and their SQL writer children (multiprocessing's spawned processes)."""
    seconds: dict[str, float] = {}
    for name, roots in parts.items():
        for pid in (p for root in roots for p in descendants(root)):
            kind = name
            if name == "hosts":
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                kind = "writers" if b"multiprocessing" in command else "workers"
            seconds[kind] = seconds.get(kind, 0.0) + own_cpu_s(pid)
    return seconds


def one_round(mode: str, targets: dict, battles: list, args: argparse.Namespace,
              pids: dict[str, list[int]]) -> dict:
    """Cast `battles`' votes through the balancer or straight to the workers; the figures."""
    if args.rate is not None:
        share = args.rate if mode != "direct" else args.rate / len(targets["direct"])
        cast = functools.partial(cast_votes_at_rate, rate=share)
    else:
        share = args.concurrency if mode != "direct" else \
            max(1, args.concurrency // len(targets["direct"]))
        cast = functools.partial(cast_votes_raw, concurrency=share)
    cpu_before = cpu_by_part(pids)
    raters_before = time.process_time()
    gc.collect()
    gc.freeze()
    gc.disable()  # a collection of the raters' process would count as server latency
    try:
        if mode != "direct":
            latencies, codes, elapsed = asyncio.run(cast(targets[mode], battles))
        else:
            latencies, codes, elapsed = asyncio.run(cast_direct(targets["direct"], battles,
                                                                cast))
    finally:
        gc.enable()
    cpu_after = cpu_by_part(pids)
    cpu_after["raters"] = time.process_time() - raters_before
    cpu = {name: (cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / len(codes)
           for name in ("workers", "writers", "postgres", "redis", "nginx", "haproxy",
                        "raters")}
    return {"mode": mode, "votes": len(codes), "accepted": codes.count(200),
            "rate": len(codes) / elapsed, "p50": statistics.median(latencies),
            "p90": percentile(latencies, 90), "p99": percentile(latencies, 99),
            "max": max(latencies), "cpu": cpu,
            "refused": {c: codes.count(c) for c in set(codes) if c != 200}}


def print_rounds(rounds: list[dict]) -> None:
    per_round = len({r["mode"] for r in rounds})
    names = list(rounds[0]["cpu"])
    print("| round | path | votes | accepted | votes/s | p50 ms | p90 ms | p99 ms | max ms | "
          f"CPU ms/vote: {' / '.join(names)} |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for index, r in enumerate(rounds):
        cpu = " / ".join(f"{r['cpu'][n]:.2f}" for n in names)
        print(f"| {index // per_round + 1} | {r['mode']} | {r['votes']} | {r['accepted']} "
              f"| {r['rate']:.0f} | {r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} "
              f"| {r['max']:.1f} | {cpu} |" + (f" refused {r['refused']}" if r["refused"]
                                              else ""))
    for key in ("rate", "p50", "p99"):
        direct = statistics.median(r[key] for r in rounds if r["mode"] == "direct")
        for mode in dict.fromkeys(r["mode"] for r in rounds if r["mode"] != "direct"):
            lb = statistics.median(r[key] for r in rounds if r["mode"] == mode)
            print(f"median {key}: {mode} {lb:.1f}, direct {direct:.1f}, "
                  f"{mode} / direct {lb / direct:.2f}")


def voted_in_sql(db_url: str) -> int:
    engine = create_engine(db_url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM vote")).scalar_one()
    engine.dispose()
    return int(count)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=3000, help="votes per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each path")
    parser.add_argument("--rate", type=float, default=None, help="open loop: votes/s")
    parser.add_argument("--concurrency", type=int, default=32, help="closed loop raters")
    parser.add_argument("--workers", type=int, default=2, help="workers per host")
    parser.add_argument("--balancer", choices=("nginx", "haproxy", "both"), default="nginx")
    parser.add_argument("--no-fsync", action="store_true", help="PostgreSQL with fsync off")
    parser.add_argument("--root", type=Path, default=Path("/tmp/arena-scale"))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.root, prefix="multihost-") as tmp, \
            LocalPostgres(args.root, fsync=not args.no_fsync) as postgres:
        root = Path(tmp)
        db_url = postgres.create_database("arena")
        started: list = []
        try:
            redis, hosts, balancers = start_deployment(root, db_url, args.workers, started)
            modes = [*(balancers if args.balancer == "both" else [args.balancer]), "direct"]
            targets = {**{name: b.url for name, b in balancers.items()},
                       "direct": [url for host in hosts for url in host.urls]}
            pids = {"hosts": [h.process.pid for h in hosts],
                    **{name: [b.process.pid] for name, b in balancers.items()},
                    "redis": [redis.process.pid], "postgres": [postgres.pid()]}
            load_before = os.getloadavg()[0]
            rounds = []
            for _ in range(args.rounds):
                for mode in modes:
                    tokens = asyncio.run(issue_sessions(targets["nginx"], args.votes))
                    battles = asyncio.run(seed_battles(redis.url, tokens))
                    rounds.append(one_round(mode, targets, battles, args, pids))
            stored = voted_in_sql(db_url)
        finally:
            for part in reversed(started):
                part.stop()
    load = (f"open loop at {args.rate:g} votes/s (Poisson)" if args.rate is not None
            else f"closed loop, {args.concurrency} raters")
    fsync = "off" if args.no_fsync else "on"
    print(f"two hosts x {args.workers} workers, PostgreSQL (fsync {fsync}), Debian "
          f"redis-server, {' and '.join(modes[:-1])}; {load}; "
          f"load average before: {load_before:.1f}, "
          f"after: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print_rounds(rounds)
    accepted = sum(r["accepted"] for r in rounds)
    print(f"votes in PostgreSQL: {stored}, acknowledged: {accepted}")
    if stored != accepted:
        sys.exit(f"LOST OR EXTRA VOTES: acknowledged {accepted}, in PostgreSQL {stored}")


if __name__ == "__main__":
    main()
