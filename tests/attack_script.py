"""A scripted vote attack on a running `arena serve`, and honest raters beside it
(tests/test_attack.py runs it; docs/attack.md has its figures).

The attacker wants `target` up. It assumes the worst case for the arena: the attacker
recognises the target perfectly. Here that is an oracle no real client has: after a battle's
answers are in, it reads the battle's sides from the arena's own Redis (``battle:<id>``). It
votes for the target's side when the target is in the battle and "tie (bothbad)" otherwise
(so the target's rivals gain nothing), and it mints a new session for every battle, which
dodges every per-session limit. Honest raters use the same oracle to stand in for taste: each
prefers `favourite` with a fixed probability, from one session and one address of its own.

Every request goes through the real REST API over HTTP; every refusal is counted by stage
(session, battle, vote), status and error, with one sample of each message.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import redis

from arena.live.connection import DEFAULT_PREFIX
from arena.live.encoding import decode_state

SESSION_HEADER = "X-Arena-Session"
BOTH_BAD = "tie (bothbad)"
PROMPT = "Say something nice about the sea."
# What the SSE stream says once a battle can be voted on, or never will.
VOTABLE, UNVOTABLE = "ready", "failed"

Chooser = Callable[[str, str], str]  # (model_a, model_b) -> the winner to send


@dataclass(frozen=True)
class Origin:
    """Where a rater's requests come from, as the arena sees them.

    `address`: the address the per-address limits count. `local`: the socket's own source
    address for a client that talks to the arena directly (None: through the trusted proxy,
    127.0.0.1, which names `address` in X-Forwarded-For). `spoof`: a direct client that also
    sends a made-up X-Forwarded-For on every request (which the arena must ignore)."""

    address: str
    local: str | None = None
    spoof: bool = False

    def headers(self, draw: random.Random) -> dict[str, str]:
        if self.local is None:
            return {"X-Forwarded-For": self.address}
        if self.spoof:
            return {"X-Forwarded-For": f"192.0.2.{draw.randrange(1, 255)}"}
        return {}


@dataclass
class Tally:
    """What one rater (one origin) tried and what the arena let through."""

    group: str
    origin: Origin
    sessions: int = 0
    battles_tried: int = 0
    battles_started: int = 0
    votes_tried: int = 0
    votes_accepted: int = 0
    # (stage, status, error) -> count; stage is "session", "battle", "stream" or "vote".
    refused: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    messages: dict[tuple[str, int, str], str] = field(default_factory=dict)
    voted_ids: list[str] = field(default_factory=list)
    first_request: float | None = None  # time.monotonic()
    last_request: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def refuse(self, stage: str, reply: httpx.Response) -> None:
        try:
            body = reply.json()
        except ValueError:
            body = {"error": "", "detail": reply.text[:200]}
        key = (stage, reply.status_code, str(body.get("error", "")))
        with self.lock:
            self.refused[key] += 1
            self.messages.setdefault(key, str(body.get("detail", "")))

    def stamp(self) -> None:
        now = time.monotonic()
        with self.lock:
            self.first_request = self.first_request or now
            self.last_request = now


class SideOracle:
    """Which model sits on which side of a battle, read from the arena's Redis: the
    attacker's perfect recognition of the target (and the honest raters' taste)."""

    def __init__(self, redis_url: str) -> None:
        self.client = redis.Redis.from_url(redis_url)

    def sides(self, battle_id: str) -> tuple[str, str]:
        raw = self.client.get(f"{DEFAULT_PREFIX}battle:{battle_id}")
        assert raw is not None, f"battle {battle_id} has no live state"
        state = decode_state(raw)
        return state["model_a"], state["model_b"]

    def close(self) -> None:
        self.client.close()


def attacker_choice(target: str) -> Chooser:
    """Vote for `target` whenever it is in the battle, "tie (bothbad)" otherwise."""
    def choose(model_a: str, model_b: str) -> str:
        if target in (model_a, model_b):
            return "model_a" if model_a == target else "model_b"
        return BOTH_BAD
    return choose


def honest_choice(favourite: str, loyalty: float, draw: random.Random) -> Chooser:
    """Prefer `favourite` with probability `loyalty`, the other side otherwise."""
    def choose(model_a: str, model_b: str) -> str:
        likes_favourite = draw.random() < loyalty
        if favourite not in (model_a, model_b):
            return draw.choice(["model_a", "model_b"])
        on_a = model_a == favourite
        return "model_a" if on_a == likes_favourite else "model_b"
    return choose


class Rater:
    """One origin's REST client: sessions, battles (read to their end) and votes."""

    def __init__(self, url: str, tally: Tally, oracle: SideOracle, choose: Chooser,
                 seed: int) -> None:
        self.url = url
        self.tally = tally
        self.oracle = oracle
        self.choose = choose
        self.draw = random.Random(seed)
        local = tally.origin.local
        transport = httpx.HTTPTransport(local_address=local) if local else None
        self.http = httpx.Client(timeout=120, transport=transport)

    def close(self) -> None:
        self.http.close()

    def session(self) -> str | None:
        """A new session from POST /api/sessions (None, counted, when refused)."""
        self.tally.stamp()
        reply = self.http.post(f"{self.url}/api/sessions",
                               headers=self.tally.origin.headers(self.draw))
        if reply.status_code != 201:
            self.tally.refuse("session", reply)
            return None
        with self.tally.lock:
            self.tally.sessions += 1
        return reply.json()["session"]

    def battle_and_vote(self, session: str) -> None:
        """Start one anonymous battle, read it to the end, vote as `choose` says."""
        headers = {SESSION_HEADER: session, **self.tally.origin.headers(self.draw)}
        with self.tally.lock:
            self.tally.battles_tried += 1
        self.tally.stamp()
        battle_id, end = self._stream(headers)
        if battle_id is None:
            return
        with self.tally.lock:
            self.tally.battles_started += 1
        if end != VOTABLE:
            with self.tally.lock:
                self.tally.refused[("stream", 200, end or "cut")] += 1
            return
        winner = self.choose(*self.oracle.sides(battle_id))
        with self.tally.lock:
            self.tally.votes_tried += 1
        self.tally.stamp()
        reply = self.http.post(f"{self.url}/api/battles/{battle_id}/vote",
                               headers={SESSION_HEADER: session,
                                        **self.tally.origin.headers(self.draw)},
                               json={"winner": winner})
        if reply.status_code != 200:
            self.tally.refuse("vote", reply)
            return
        with self.tally.lock:
            self.tally.votes_accepted += 1
            self.tally.voted_ids.append(battle_id)

    def _stream(self, headers: dict[str, str]) -> tuple[str | None, str | None]:
        """(battle id, the last event kind) of a battle read to its end; (None, None) when
        the start is refused (counted)."""
        with self.http.stream("POST", f"{self.url}/api/battles", headers=headers,
                              json={"prompt": PROMPT}) as reply:
            if reply.status_code != 200:
                reply.read()
                self.tally.refuse("battle", reply)
                return None, None
            battle_id, kind = None, None
            for line in reply.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                kind = event["kind"]
                battle_id = battle_id or event.get("battle_id")
                if kind in (VOTABLE, UNVOTABLE):
                    break
            return battle_id, kind


@dataclass(frozen=True)
class Plan:
    """Who takes part. `tries`: battle starts per rater; `threads`: how many of them one
    origin runs at once; `fresh_sessions`: a new session for every battle (the attacker) or
    one for all (an honest rater)."""

    group: str
    origins: list[Origin]
    tries: int
    threads: int
    fresh_sessions: bool
    chooser: Callable[[random.Random], Chooser]


def run_plans(url: str, redis_url: str, plans: list[Plan], seed: int = 7) -> list[Tally]:
    """Run every plan at once (their battle starts interleaved); a tally per origin."""
    oracle = SideOracle(redis_url)
    tallies: list[Tally] = []
    jobs: list[list[Callable[[], None]]] = []
    for plan in plans:
        for index, origin in enumerate(plan.origins):
            tally = Tally(plan.group, origin)
            tallies.append(tally)
            jobs.append(_origin_jobs(url, tally, oracle, plan, seed * 1000 + len(tallies),
                                     index))
    # Round robin: the attackers' requests and the honest ones arrive mixed, as they would.
    order = [job for round_ in _zip_longest(jobs) for job in round_]
    try:
        with ThreadPoolExecutor(max_workers=sum(p.threads * len(p.origins) for p in plans)
                                ) as pool:
            for future in [pool.submit(job) for job in order]:
                future.result()
    finally:
        oracle.close()
    return tallies


def _origin_jobs(url: str, tally: Tally, oracle: SideOracle, plan: Plan, seed: int,
                 index: int) -> list[Callable[[], None]]:
    """The plan's work for one origin, as `threads` jobs that share its tries."""
    draw = random.Random(seed)
    choose = plan.chooser(draw)
    shares = [plan.tries // plan.threads + (t < plan.tries % plan.threads)
              for t in range(plan.threads)]

    def worker(tries: int, thread_seed: int) -> None:
        rater = Rater(url, tally, oracle, choose, thread_seed)
        try:
            session = None if plan.fresh_sessions else rater.session()
            for _ in range(tries):
                if plan.fresh_sessions:
                    session = rater.session()
                if session is not None:
                    rater.battle_and_vote(session)
        finally:
            rater.close()

    return [lambda n=n, t=t: worker(n, seed * 10 + t) for t, n in enumerate(shares) if n]


def _zip_longest(lists: list[list[Callable[[], None]]]) -> list[list[Callable[[], None]]]:
    depth = max((len(x) for x in lists), default=0)
    return [[x[i] for x in lists if i < len(x)] for i in range(depth)]
