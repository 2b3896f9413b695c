"""The arena on two hosts, run for real: examples/deploy/'s files, one PostgreSQL, one Debian
redis-server, two `arena serve --workers 2` hosts
(two process groups on this machine, with their own ports and data directories), and scripted
streaming models (tests/fixtures/scripted_models.py; the only test where models are scripted),
and both shipped load balancers with sticky sessions in front of the same four workers: half
the raters come through nginx, half through HAProxy.

Under a bounded load of full battles and votes from scripted raters (tests/fixtures/raters.py):

1. one host is killed with SIGKILL (its whole process group: a power loss): the raters it
   served get an error (a broken stream, the balancer's 502, or the arena's own message) and
   their next battle succeeds on the other host; the leaderboard keeps updating;
2. then Redis is restarted (empty): raters see errors while it is away and go on after;
3. every acknowledged vote is in PostgreSQL exactly once with the winner the rater sent, and
   nothing is there that no rater sent.

A second, smaller deployment (one worker per host, nginx) checks a vote whose host died after
admitting it and before committing it: the rater's retry must be recorded (expected to fail
until the vote claim of a dead host stops blocking the battle).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from fixtures.balancers import HAProxy, Nginx
from fixtures.deployment import ArenaHost, DebianRedis, MissingBinary
from fixtures.raters import Rater, Tally
from fixtures.scripted_models import ScriptedModelServer
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.postgres

RATERS = 12  # half through each balancer
WORKERS = 2
# Votes acknowledged in each phase before the next step; bounds the test's length.
VOTES_PER_PHASE = 25
PHASE_TIMEOUT_S = 120
MODELS = ("scripted-one", "scripted-two", "scripted-three")
# Raised so that the raters' own pace never meets them; everything else is the shipped file.
LOAD_KEYS = {
    "battles_per_minute": 1000, "votes_per_hour": 100000, "votes_per_day": 100000,
    "battles_per_minute_per_address": 1000, "votes_per_day_per_address": 100000,
    "streams_per_address": 64, "leaderboard_every_votes": 5, "leaderboard_interval_s": 3,
    "generation_timeout_s": 30, "first_token_timeout_s": 15,
}


@dataclass
class Deployment:
    db_url: str
    redis: DebianRedis
    hosts: list[ArenaHost]
    balancers: dict[str, Nginx | HAProxy]


def write_secret(path: Path) -> Path:
    """A secret shared by every host (the session secret, the operator token, the rater
    salt), mode 0600."""
    path.touch(mode=0o600)
    path.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def deploy(db_url: str, root: Path, *, workers: int, balancers: tuple[str, ...]
           ) -> Iterator[Deployment]:
    """Redis, the scripted models, hosts A and B (`workers` each) and `balancers` in front."""
    shared = {"session_secret_file": str(write_secret(root / "session_secret")),
              "operator_token_file": str(write_secret(root / "operator_token")),
              "rater_salt_file": str(write_secret(root / "rater_salt")),
              "trusted_proxies": ["127.0.0.1"], **LOAD_KEYS}
    started: list = []
    try:
        for name in ("redis", "host-a", "host-b", *balancers):
            (root / name).mkdir()
        live = DebianRedis(root / "redis", secrets.token_hex(24)).start()
        started.append(live)
        models = ScriptedModelServer(MODELS).start()
        started.append(models)
        env = {"ARENA_DB_URL": db_url, "ARENA_REDIS_URL": live.url,
               "ARENA_LOG_LEVEL": "WARNING"}
        hosts = [ArenaHost(name, root / f"host-{name}", example=f"host-{name}.toml",
                           env=env, models_toml=models.models_toml(), keys=shared,
                           workers=workers) for name in ("a", "b")]
        for host in hosts:
            started.append(host.start())
        for host in hosts:
            host.wait_ready()
        upstreams = [a for h in hosts for a in h.addresses]
        running = {}
        for name in balancers:
            kind = {"nginx": Nginx, "haproxy": HAProxy}[name]
            running[name] = kind(root / name, upstreams).start()
            started.append(running[name])
        yield Deployment(db_url, live, hosts, running)
    except MissingBinary as missing:
        pytest.fail(str(missing), pytrace=False)
    finally:
        for part in reversed(started):
            part.stop()


@pytest.fixture
def deployment(postgres_server, tmp_path: Path) -> Iterator[Deployment]:
    """Two hosts of WORKERS workers behind nginx and HAProxy."""
    with deploy(postgres_server.create_database(), tmp_path, workers=WORKERS,
                balancers=("nginx", "haproxy")) as running:
        yield running


async def board_votes(client: httpx.AsyncClient) -> int:
    """The number of votes behind the leaderboard the balancer serves now (0 before one)."""
    reply = await client.get("/api/leaderboard")
    return int(reply.json().get("votes") or 0) if reply.status_code == 200 else 0


async def wait_for(condition, what: str, tally: Tally) -> None:
    deadline = time.monotonic() + PHASE_TIMEOUT_S
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {PHASE_TIMEOUT_S} s; "
                                 f"{len(tally.acknowledged)} votes, incidents "
                                 f"{tally.incidents[-5:]}")
        await asyncio.sleep(0.2)  # allowed sleep: poll interval of a condition with a deadline


async def join_all(deployment: Deployment, tally: Tally) -> list[Rater]:
    """RATERS raters, alternately through each balancer, each with its own client; through
    each balancer at least one starts on the host the test will kill (a new session moves a
    rater elsewhere: nginx hashes it), so that every balancer's failover is tested."""
    raters, dead = [], set(deployment.hosts[0].addresses)
    names = list(deployment.balancers)
    for index in range(RATERS):
        name = names[index % len(names)]
        client = httpx.AsyncClient(base_url=deployment.balancers[name].url, timeout=60)
        raters.append(Rater(index, client, tally))
        tally.balancer[index] = name
        tally.home[index] = await raters[-1].join()
    for name in names:
        mine = [r for r in raters if tally.balancer[r.index] == name]
        for _ in range(20):
            if any(tally.home[r.index] in dead for r in mine):
                break
            tally.home[mine[0].index] = await mine[0].join()
    return raters


def on_dead_host(tally: Tally, killed_at: float, dead: set[str]) -> set[int]:
    """The raters whose last vote before the kill was on the killed host."""
    before = {r: [w for t, w in s if t < killed_at] for r, s in tally.served.items()}
    return {r for r, workers in before.items() if workers and workers[-1] in dead}


async def moved_on(tally: Tally, killed_at: float, dead: set[str]) -> bool:
    """Whether every rater of the killed host has voted since the kill."""
    return all(any(t > killed_at for t, _ in tally.served[r])
               for r in on_dead_host(tally, killed_at, dead))


async def run_scenario(deployment: Deployment) -> tuple[Tally, dict[str, float]]:
    """The load, the kill and the restart; returns the tally and when each step happened."""
    tally, marks = Tally(), {}
    dead = set(deployment.hosts[0].addresses)
    raters = await join_all(deployment, tally)
    board = raters[0].client
    stop = asyncio.Event()
    running = [asyncio.create_task(rater.run(stop)) for rater in raters]

    async def votes_past(count: int) -> bool:
        return len(tally.acknowledged) >= count

    async def board_past(count: int) -> bool:
        return await board_votes(board) >= count

    try:
        await wait_for(lambda: votes_past(VOTES_PER_PHASE), "votes before the kill", tally)
        await wait_for(lambda: board_past(1), "a first leaderboard", tally)
        marks["killed"] = time.time()
        deployment.hosts[0].kill()
        at_kill = len(tally.acknowledged)
        await wait_for(lambda: votes_past(at_kill + VOTES_PER_PHASE), "votes after the kill",
                       tally)
        await wait_for(lambda: board_past(at_kill + 1), "a board with later votes", tally)
        marks["board_updated"] = time.time()
        await wait_for(lambda: moved_on(tally, marks["killed"], dead),
                       "every rater of the killed host voting again", tally)
        marks["raters_moved"] = time.time()
        marks["board_after_kill"] = await board_votes(board)
        marks["redis_restart"] = time.time()
        await asyncio.to_thread(deployment.redis.restart)
        marks["redis_back"] = time.time()
        at_restart = len(tally.acknowledged)
        await wait_for(lambda: votes_past(at_restart + VOTES_PER_PHASE),
                       "votes after the Redis restart", tally)
        await wait_for(lambda: board_past(at_restart + 1), "a board after Redis", tally)
        marks["board_after_redis"] = time.time()
    finally:
        stop.set()
        await asyncio.gather(*running, return_exceptions=True)
        for rater in raters:
            await rater.client.aclose()
    return tally, marks


def voted_in_sql(db_url: str) -> dict[str, list[str]]:
    """battle id -> the winners of every voted row with that id (one each, if all is well)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT vote.battle_id, vote.winner FROM vote JOIN battle"
                " ON battle.battle_id = vote.battle_id WHERE battle.status = 'voted'")).all()
    finally:
        engine.dispose()
    found: dict[str, list[str]] = {}
    for battle_id, winner in rows:
        found.setdefault(battle_id, []).append(winner)
    return found


def test_host_killed_and_redis_restarted_lose_no_acknowledged_vote(deployment):
    tally, marks = asyncio.run(run_scenario(deployment))
    dead = set(deployment.hosts[0].addresses)
    in_sql = voted_in_sql(deployment.db_url)
    report(tally, marks, in_sql)

    missing = {b: w for b, w in tally.acknowledged.items() if in_sql.get(b) != [w]}
    assert not missing, f"acknowledged votes not in PostgreSQL exactly once: {missing}"
    strangers = set(in_sql) - set(tally.acknowledged) - tally.unknown
    assert not strangers, f"votes in PostgreSQL that no rater sent: {strangers}"

    # Through each balancer, the raters the dead host served before the kill vote again,
    # on the other host, soon after it.
    for balancer in deployment.balancers:
        on_dead = {r for r in on_dead_host(tally, marks["killed"], dead)
                   if tally.balancer[r] == balancer}
        assert on_dead, f"no {balancer} rater was on the killed host {dead}: {tally.served}"
        for rater in on_dead:
            later = [w for t, w in tally.served[rater] if t > marks["killed"]]
            assert later and not set(later) & dead, f"{balancer} rater {rater}: {later}"
    # What a rater saw go wrong says what: a broken stream, the balancer's 502/503, or the
    # arena's own error with its message.
    for incident in tally.incidents:
        assert incident.detail, f"an error without a message: {incident}"
        if incident.status == 200:  # the stream itself said the battle failed, in its words
            event = json.loads(incident.detail)
            assert event["kind"] in ("failed", "refused") and (event.get("text")
                                                                or event.get("detail")), incident
            continue
        assert incident.status in (0, 409, 404, 502, 503, 504), incident
    assert marks["board_after_kill"] > 0


def report(tally: Tally, marks: dict[str, float], in_sql: dict[str, list[str]]) -> None:
    """What happened, for the log of the run (pytest -s shows it)."""
    print(f"\n{len(tally.acknowledged)} votes acknowledged in {tally.battles} battles; "
          f"{len(tally.unknown)} votes whose answer was lost "
          f"({len(tally.unknown & set(in_sql))} of them in SQL)")
    since = {name: f"{at - marks['killed']:+.2f} s" for name, at in marks.items()
             if name != "board_after_kill"}
    print(f"  times from the kill: {since}")
    for incident in tally.incidents:
        print(f"  {incident.at - marks['killed']:+.2f}s {tally.balancer[incident.rater]} "
              f"rater {incident.rater} {incident.step} {incident.worker or '-'} "
              f"{incident.status} {incident.detail[:150]}")


@pytest.fixture
def small_deployment(postgres_server, tmp_path: Path) -> Iterator[Deployment]:
    """Two hosts of one worker each behind nginx."""
    with deploy(postgres_server.create_database(), tmp_path, workers=1,
                balancers=("nginx",)) as running:
        yield running


async def vote_lost_with_its_host(deployment: Deployment) -> tuple[str, httpx.Response]:
    """A rater on host A votes; host A admits the vote (its claim is in Redis) but dies
    before its SQL writer commits (the writers are stopped, then the host is killed). The
    rater, whose answer was lost, sends the vote again with the same idempotency key; the
    balancer takes it to host B. Returns the battle id and host B's answer."""
    host_a = deployment.hosts[0]
    claims = redis.Redis.from_url(deployment.redis.url)
    async with httpx.AsyncClient(base_url=deployment.balancers["nginx"].url,
                                 timeout=30) as client:
        rater = Rater(0, client, Tally())
        for _ in range(30):
            if await rater.join() in host_a.addresses:
                break
        battle_id, worker = await rater.battle()
        if worker not in host_a.addresses:
            raise RuntimeError(f"the battle ran on {worker}, not on host A")
        for pid in host_a.writer_pids():
            os.kill(pid, signal.SIGSTOP)
        body = {"winner": "model_b", "idempotency_key": uuid.uuid4().hex}
        url = f"/api/battles/{battle_id}/vote"
        first = asyncio.create_task(client.post(url, json=body, headers=rater.headers))
        deadline = time.monotonic() + 30
        while not claims.exists(f"arena:vote:{battle_id}") and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # allowed sleep: poll until host A has claimed the vote
        host_a.kill()
        lost = await asyncio.gather(first, return_exceptions=True)
        if not (isinstance(lost[0], httpx.TransportError) or lost[0].status_code == 502):
            raise RuntimeError(f"the vote on the dying host was answered: {lost}")
        retry = await client.post(url, json=body, headers=rater.headers)
    claims.close()
    return battle_id, retry


def test_vote_retried_after_its_host_died_before_the_commit_is_recorded(small_deployment):
    battle_id, retry = asyncio.run(vote_lost_with_its_host(small_deployment))
    in_sql = voted_in_sql(small_deployment.db_url).get(battle_id)
    # What the rater is told and what SQL holds agree: recorded now, once, as sent.
    assert (retry.status_code, in_sql) == (200, ["model_b"]), (retry.text, in_sql)
