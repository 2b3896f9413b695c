"""Battles that outlive a dead host: a vote claimed by a worker that died before its commit,
and a battle that was streaming on a worker that died.

Two `BattleService` instances on one Redis and one SQLite file stand for two hosts (`make_arena`
and `like=`). A host "dies" as a killed process would: its presence key is no longer renewed
(and lapses after its TTL), nothing of it cleans up, and what it was doing never finishes. The
presence timings are shortened (TTL 1 s, renewed every 0.25 s) so the tests take seconds.
Run alone: about 12 tests in 15 s on an idle machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from fixtures.battle_service import RuleArena, drain

from arena.battles import BattleEvent
from arena.battles.lost_streams import HOST_LOST, StreamLost
from arena.battles.vote_claims import VotePending, parse_claim
from arena.errors import VoteConflict
from arena.record import BattleRecord
from arena.store import BattleLog
from arena.store.group_writer import GroupWriter

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER = "owner-session"
PAIR = frozenset(("alpha", "bravo"))


class HeldWriter:
    """The real group-commit writer whose writes wait until `go` is set: before their commit
    (a host that dies before it commits) or, with `commit_first`, after it (one that dies
    between its commit and its answer). `entered` is set once a write is waiting."""

    def __init__(self, log: BattleLog, *, commit_first: bool = False) -> None:
        self.inner = GroupWriter(log)
        self.commit_first = commit_first
        self.go = asyncio.Event()
        self.entered = asyncio.Event()

    async def write(self, record: BattleRecord) -> None:
        if self.commit_first:
            await self.inner.write(record)
        self.entered.set()
        await self.go.wait()
        if not self.commit_first:
            await self.inner.write(record)

    async def aclose(self) -> None:
        self.go.set()
        await self.inner.aclose()


def two_hosts(make_arena, *, commit_first: bool = False, **limits
              ) -> tuple[RuleArena, RuleArena, HeldWriter]:
    """Host A (its writes held by the returned writer) and host B, one arena, fast presence."""
    writers: list[HeldWriter] = []

    def held(log: BattleLog) -> HeldWriter:
        writers.append(HeldWriter(log, commit_first=commit_first))
        return writers[-1]

    host_a = make_arena(writer=held, **limits)
    host_b = make_arena(like=host_a, **limits)
    for host in (host_a, host_b):
        host.service.presence.ttl_s, host.service.presence.renew_s = 1.0, 0.25
        # Ample for a dead claimer's key to lapse on a loaded machine (1.5 s needed).
        host.service.admission.claim_wait_s = 10.0
    return host_a, host_b, writers[0]


def die(host: RuleArena) -> None:
    """The host is killed: its presence is no longer renewed (the key lapses after its TTL);
    nothing else of it runs any cleanup."""
    renewer, stop = host.service.presence._renewer, host.service.presence._stop
    assert renewer is not None and stop is not None, "the host never started its presence"
    # Stopped between renewals, not cancelled: a cancel inside a Redis command can leave the
    # client the two hosts share waiting (arena/live/presence.py, aclose).
    stop.set()


async def lapsed(host: RuleArena) -> None:
    """Wait until the dead host's presence key has lapsed (its TTL after the last renewal):
    until then, another host still takes it for alive."""
    presence = host.service.presence
    async with asyncio.timeout(10):
        while await presence.client.exists(presence.worker_key(presence.worker_id)):
            await asyncio.sleep(0.05)  # allowed sleep: poll until the key's TTL ran out


async def vote_held_on(host: RuleArena, writer: HeldWriter, battle_id: str, winner: str,
                       key: str) -> asyncio.Task:
    """Start a vote on `host` and return its task once the vote holds its claim and its
    write waits."""
    task = asyncio.create_task(host.service.vote(battle_id, OWNER, winner, idempotency_key=key))
    async with asyncio.timeout(10):
        await writer.entered.wait()
    return task


async def end_task(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# ------------------------------------------------------------------------------ vote claims
async def test_a_vote_whose_host_died_before_the_commit_is_recorded_once_on_retry(make_arena):
    host_a, host_b, writer = two_hosts(make_arena)
    battle_id, _ = await host_b.battle(OWNER)
    lost = await vote_held_on(host_a, writer, battle_id, "model_b", "click-1")
    claim = await host_a.live.vote_claim(battle_id)
    assert claim is not None and parse_claim(claim)[0] == host_a.service.presence.worker_id
    die(host_a)
    # The rater's answer was lost with host A; the balancer sends the retry to host B.
    reveal = await host_b.service.vote(battle_id, OWNER, "model_b", idempotency_key="click-1")
    assert (reveal.battle_id, reveal.winner) == (battle_id, "model_b")
    assert host_b.log.count_battles() == 1 and host_b.logged(battle_id).winner == "model_b"
    assert (await host_b.live.pair_counts())[PAIR] == 1
    # Now answered from Redis, and any other vote is refused.
    again = await host_b.service.vote(battle_id, OWNER, "model_b", idempotency_key="click-1")
    assert again == reveal
    with pytest.raises(VoteConflict, match="already has a vote"):
        await host_b.service.vote(battle_id, OWNER, "model_a", idempotency_key="click-2")
    await end_task(lost)


async def test_a_dead_hosts_committed_vote_is_answered_from_sql(make_arena):
    host_a, host_b, writer = two_hosts(make_arena, commit_first=True)
    battle_id, _ = await host_b.battle(OWNER)
    lost = await vote_held_on(host_a, writer, battle_id, "tie", "click-1")  # committed
    die(host_a)
    with pytest.raises(VoteConflict, match="already has a vote"):  # not the same vote
        await host_b.service.vote(battle_id, OWNER, "model_a", idempotency_key="click-2")
    reveal = await host_b.service.vote(battle_id, OWNER, "tie", idempotency_key="click-1")
    assert reveal.winner == "tie" and host_b.log.count_battles() == 1
    assert (await host_b.live.pair_counts())[PAIR] == 1  # settled once, counted once
    await end_task(lost)


async def test_a_live_claimer_is_waited_for_and_wins(make_arena):
    host_a, host_b, writer = two_hosts(make_arena)
    battle_id, _ = await host_b.battle(OWNER)
    first = await vote_held_on(host_a, writer, battle_id, "model_a", "click-1")
    same = asyncio.create_task(
        host_b.service.vote(battle_id, OWNER, "model_a", idempotency_key="click-1"))
    other = asyncio.create_task(
        host_b.service.vote(battle_id, OWNER, "model_b", idempotency_key="click-2"))
    await asyncio.sleep(0.3)  # allowed sleep: both wait on host A's claim, which is alive
    assert not same.done() and not other.done()
    writer.go.set()
    reveal = await first
    assert await same == reveal and reveal.winner == "model_a"
    with pytest.raises(VoteConflict, match="already has a vote"):
        await other
    assert host_b.log.count_battles() == 1 and host_b.logged(battle_id).winner == "model_a"


async def test_a_live_claimer_that_takes_too_long_leaves_the_vote_pending(make_arena):
    host_a, host_b, writer = two_hosts(make_arena)
    battle_id, _ = await host_b.battle(OWNER)
    first = await vote_held_on(host_a, writer, battle_id, "model_a", "click-1")
    host_b.service.admission.claim_wait_s = 1.5
    with pytest.raises(VotePending, match="still being recorded") as pending:
        await host_b.service.vote(battle_id, OWNER, "model_a", idempotency_key="click-1")
    assert (pending.value.status, pending.value.code) == (409, "vote_pending")
    assert host_b.logged(battle_id) is None
    writer.go.set()
    assert (await first).winner == "model_a" and host_b.log.count_battles() == 1


async def test_a_claimer_back_from_the_dead_cannot_vote_twice(make_arena):
    host_a, host_b, writer = two_hosts(make_arena)
    battle_id, _ = await host_b.battle(OWNER)
    stale = await vote_held_on(host_a, writer, battle_id, "model_a", "click-1")
    die(host_a)
    taken = await host_b.service.vote(battle_id, OWNER, "model_b", idempotency_key="click-2")
    assert taken.winner == "model_b"
    writer.go.set()  # host A was only frozen: its write goes on, and SQL refuses it
    with pytest.raises(VoteConflict, match="already has a vote"):
        await stale
    assert host_b.log.count_battles() == 1 and host_b.logged(battle_id).winner == "model_b"


async def test_the_vote_claim_lasts_as_long_as_the_battle(make_arena):
    arena = make_arena(battle_ttl_s=120)
    battle_id, _ = await arena.battle(OWNER)
    await arena.service.vote(battle_id, OWNER, "tie", idempotency_key="k")
    ttl_ms = await arena.live.client.pttl(arena.live.key("vote", battle_id))
    assert 110_000 < ttl_ms <= 120_000


# ---------------------------------------------------------------------------- lost streams
async def streaming_on(host: RuleArena, prompt: str = "Tell me a story."
                       ) -> tuple[str, AsyncIterator[BattleEvent]]:
    """A battle on `host` whose two models stall mid-answer: (id, its stream, begun)."""
    for model in ("alpha", "bravo"):
        host.models.script(model, deltas=("Once", " upon"), ending="stall", after=1)
    battle_id, stream = await host.service.start(OWNER, prompt)
    async with asyncio.timeout(10):
        async for event in stream:
            if event.kind == "delta":
                break
    return battle_id, stream


async def close_stream(host: RuleArena, writer: HeldWriter,
                       stream: AsyncIterator[BattleEvent]) -> None:
    """End the dead host's stream as its process's end would (what it logs is refused: the
    battle is in SQL already)."""
    host.models.release()
    writer.go.set()
    await stream.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("action", ["vote", "follow_up", "regenerate", "stop"])
async def test_a_battle_whose_streaming_host_died_is_ended_as_host_lost(make_arena, action):
    host_a, host_b, writer = two_hosts(make_arena, max_regenerations=2)
    battle_id, stream = await streaming_on(host_a)
    die(host_a)
    await lapsed(host_a)
    service = host_b.service
    act = {
        "vote": lambda: service.vote(battle_id, OWNER, "tie"),
        "follow_up": lambda: service.continue_battle(battle_id, OWNER, "And then?"),
        "regenerate": lambda: service.regenerate(battle_id, OWNER),
        "stop": lambda: service.stop(battle_id, OWNER),
    }[action]
    with pytest.raises(StreamLost, match="stopped before both answers finished") as lost:
        await act()
    assert (lost.value.status, lost.value.code) == (409, "stream_lost")
    record = host_b.logged(battle_id)
    assert record is not None and (record.status, record.end_reason) == ("abandoned", HOST_LOST)
    assert [turn.prompt for turn in record.turns] == ["Tell me a story."]
    assert all("stopped before the answer finished" in (generation.error or "")
               for generation in (record.turns[0].generation_a, record.turns[0].generation_b))
    # Once ended it says so, and nothing is logged twice.
    with pytest.raises(VoteConflict, match="has ended"):
        await service.vote(battle_id, OWNER, "tie")
    await close_stream(host_a, writer, stream)
    assert host_b.log.count_battles() == 1


async def test_a_lost_follow_up_keeps_the_turns_before_it(make_arena):
    host_a, host_b, writer = two_hosts(make_arena)
    battle_id, _ = await host_a.battle(OWNER, "First question")
    host_a.models.script("alpha", deltas=("Well",), ending="stall", after=1)
    stream = await host_a.service.continue_battle(battle_id, OWNER, "Second question")
    async with asyncio.timeout(10):
        async for event in stream:
            if event.kind == "delta":
                break
    die(host_a)
    await lapsed(host_a)
    with pytest.raises(StreamLost):
        await host_b.service.vote(battle_id, OWNER, "model_a")
    record = host_b.logged(battle_id)
    assert [turn.prompt for turn in record.turns] == ["First question", "Second question"]
    assert record.turns[0].generation_a.error is None and record.end_reason == HOST_LOST
    await close_stream(host_a, writer, stream)


async def test_a_battle_streaming_on_a_live_host_is_only_told_to_wait(make_arena):
    host_a, host_b, _ = two_hosts(make_arena)
    battle_id, stream = await streaming_on(host_a)
    await asyncio.sleep(1.5)  # allowed sleep: past the presence TTL, which host A renews
    with pytest.raises(VoteConflict, match="both answers must finish"):
        await host_b.service.vote(battle_id, OWNER, "tie")
    host_a.models.release()
    events = await drain(stream)
    assert events[-1].kind == "ready"
    assert (await host_b.service.vote(battle_id, OWNER, "tie")).winner == "tie"
    assert host_b.logged(battle_id).status == "voted"


# -------------------------------------------------------------------------------- presence
async def test_a_presence_key_lost_by_redis_is_not_taken_for_a_dead_worker(make_arena):
    host_a, host_b, _ = two_hosts(make_arena)
    presence = host_a.service.presence
    await presence.ensure_running()
    # A Redis restarted from an older snapshot lost the key; host A sets it again in 0.25 s.
    await presence.client.delete(presence.worker_key(presence.worker_id))
    assert not await host_b.service.presence.gone(presence.worker_id)
    await presence.aclose()  # a worker that closes leaves at once, with no TTL to wait for
    assert not await presence.client.exists(presence.worker_key(presence.worker_id))
    assert await host_b.service.presence.gone(presence.worker_id)
