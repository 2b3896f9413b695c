"""The leaderboard job on a real SQLite log and a real Redis: snapshot, cache, reproduction.

The job rates counts kept current in SQL (arena.jobs.live_board); its watermark under
out-of-order commits is in test_leaderboard_job_watermark.py. Pruning and the disk bound of
the snapshots are in test_snapshots.py; the release's own rules in test_public_release.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random

import pytest
from factories import make_battle

from arena.jobs.db_ratings import rerun_db_manifest
from arena.jobs.leaderboard import LeaderboardJob
from arena.live import LiveState, LiveStateUnavailable
from arena.live.connection import CALL_DEADLINE_S
from arena.live.embedded import EmbeddedRedis
from arena.store import BattleLog

pytestmark = pytest.mark.asyncio(loop_scope="session")

MODELS = ["alpha", "beta", "gamma"]
# Planted strengths: alpha beats beta beats gamma most of the time.
STRENGTH = {"alpha": 2.0, "beta": 1.0, "gamma": 0.0}


def planted_battles(count: int, seed: int = 7) -> list:
    rng = random.Random(seed)
    battles = []
    for _ in range(count):
        a, b = rng.sample(MODELS, 2)
        p_a = 1 / (1 + 10 ** ((STRENGTH[b] - STRENGTH[a]) / 2))
        outcome = "model_a" if rng.random() < p_a else "model_b"
        battle = make_battle(model_a=a, model_b=b, winner=outcome, turn_count=1)
        for side in ("a", "b"):  # answers of different lengths, so style control can be fitted
            length = rng.randint(5, 60)
            generation = getattr(battle.turns[0], f"generation_{side}")
            generation.output = "word " * length
            generation.completion_tokens = length
            getattr(battle, f"conversation_{side}")[-1]["content"] = generation.output
        battles.append(battle)
    return battles


@pytest.fixture
async def job(tmp_path, redis_url, live_prefix):
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    live = LiveState.from_url(redis_url, prefix=live_prefix)
    job = LeaderboardJob(log=log, live=live, out_dir=tmp_path / "boards", every_votes=3)
    yield job
    await live.aclose()
    log.close()


def rerun(job: LeaderboardJob, manifest):
    """`arena ratings --from-manifest MANIFEST --db URL`: re-derive from the live log."""
    return rerun_db_manifest(manifest, json.loads(manifest.read_text()), job.log.url)


def snapshot_folders(job: LeaderboardJob) -> list[str]:
    """Every folder under the job's out_dir, finished or being written."""
    if not job.out_dir.is_dir():
        return []
    return sorted(entry.name for entry in job.out_dir.iterdir() if entry.is_dir())


async def test_no_votes_means_no_board_and_no_snapshot(job):
    assert await job.refresh() is None
    assert await job.live.get_leaderboard() is None
    assert snapshot_folders(job) == []


async def test_the_board_is_cached_snapshotted_and_reproducible(job):
    for battle in planted_battles(120):
        job.log.record_battle(battle)
    # Named and flagged battles are logged but never rated.
    job.log.record_battle(make_battle(model_a="alpha", model_b="gamma", winner="model_b",
                                      mode="named", status="voted"))
    job.log.record_battle(make_battle(model_a="alpha", model_b="gamma", winner="model_b",
                                      flags=["identity_leak"], status="voted"))
    board = await job.refresh()
    assert [row["model"] for row in board["rows"]] == ["alpha", "beta", "gamma"]
    assert board["votes"] == 120
    assert board["style_rows"] and {r["model"] for r in board["style_rows"]} == set(MODELS)
    for row in board["rows"]:
        assert row["lower"] < row["rating"] < row["upper"]

    # Robustness of the board's order, on every refresh: #1 and each adjacent pair.
    robustness = board["robustness"]
    assert robustness["leader"]["upper"] == "alpha" and robustness["leader"]["votes"] >= 1
    assert robustness["headline"].startswith(
        f"#1 would change if {robustness['leader']['votes']} votes were removed")
    assert [(p["upper"], p["lower"]) for p in robustness["adjacent"]] == [
        ("alpha", "beta"), ("beta", "gamma")]

    cached = await job.live.get_leaderboard()
    assert cached.table == board and cached.votes == 120

    assert board["left_out"] == {"named": 1, "flagged": 1, "in_revote_pool": None}
    assert board["dropped"] == {"status_not_voted": 0, "mode_named": 1, "flagged_battle": 1}

    # The snapshot: the tables and their manifests; no copy of the log, no release (not asked).
    folder = job.out_dir / board["snapshot"]
    assert sorted(path.name for path in folder.iterdir()) == [
        "leaderboard-style.json", "leaderboard-style.json.manifest.json",
        "leaderboard.json", "leaderboard.json.manifest.json"]
    stamp = board["snapshot"]
    assert board["manifest_url"] == f"/snapshots/{stamp}/leaderboard.json.manifest.json"
    assert board["style_manifest_url"] == (
        f"/snapshots/{stamp}/leaderboard-style.json.manifest.json")
    assert board["export_url"] is None and board["release_manifest_url"] is None
    manifest = folder / "leaderboard.json.manifest.json"
    recorded = json.loads(manifest.read_text())
    assert recorded["rows_used"] == 120 and recorded["options"]["robustness"] is True
    assert recorded["input"]["watermark"] == board["watermark"]
    published = json.loads((folder / "leaderboard.json").read_text())
    assert published["robustness"] == robustness
    # Nothing of this machine's layout nor the database's address is published.
    assert (recorded["input"]["database"], recorded["output"]["path"]) == (
        None, "leaderboard.json")
    # Re-derived from the live log below the watermark, however many votes came after.
    record(job, planted_battles(30, seed=8))
    assert rerun(job, manifest).identical
    assert rerun(job, folder / "leaderboard-style.json.manifest.json").identical
    later = await job.refresh()
    assert later["votes"] == 150 and later["watermark"] > board["watermark"]
    # Robustness and style are refitted every style_every_s (300 s): kept, with their mark.
    assert later["robustness"] == robustness
    assert later["robustness_watermark"] == later["style_watermark"] == board["watermark"]
    fast = job.out_dir / later["snapshot"] / "leaderboard.json.manifest.json"
    assert json.loads(fast.read_text())["options"]["robustness"] is False
    assert rerun(job, fast).identical


async def test_a_release_is_published_when_asked(job):
    job.release_every_s = 0.0
    record(job, planted_battles(30))
    board = await job.refresh()
    stamp = board["snapshot"]
    assert board["export_url"] == f"/snapshots/{stamp}/release.jsonl"
    assert board["release_manifest_url"] == f"/snapshots/{stamp}/release.jsonl.manifest.json"
    folder = job.out_dir / stamp
    rows = [json.loads(line) for line in (folder / "release.jsonl").read_text().splitlines()]
    assert len(rows) == 30 and not any("rater_hash" in row or "battle_id" in row for row in rows)


# ---------------------------------------------------------------------------- the job's loop
# `run_forever` runs as a task on the test's event loop; the tests watch what it leaves in Redis
# (and in `last_board` while Redis is down), never its private state.

LOOP_DEADLINE_S = 60.0  # generous: a refresh fits a model on a loaded 2-core machine


async def eventually(condition, what: str, within_s: float = LOOP_DEADLINE_S):
    """Poll the async `condition` until it returns a true value; fail with `what` on timeout."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        value = await condition()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not within {within_s:.0f} s: {what}")
        await asyncio.sleep(0.05)  # allowed sleep: poll interval, with a deadline


def cached_votes(job: LeaderboardJob, votes: int):
    """A condition: the board cached in Redis was computed from exactly `votes` votes."""

    async def condition():
        cached = await job.live.get_leaderboard()
        return cached if cached is not None and cached.votes == votes else None

    return condition


@contextlib.asynccontextmanager
async def running(job: LeaderboardJob, interval_s: float):
    task = asyncio.create_task(job.run_forever(interval_s))
    try:
        yield task
        assert not task.done(), "the job's loop ended"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def without_refresh(board: dict) -> dict:
    """A board without what names the refresh that computed it: its time, its snapshot and
    the URLs into that snapshot."""
    return {key: value for key, value in board.items()
            if key not in ("computed_at", "snapshot") and not key.endswith("_url")}


def record(job: LeaderboardJob, battles: list) -> None:
    for battle in battles:
        job.log.record_battle(battle)


async def test_the_job_refreshes_at_once_and_then_every_interval(job):
    """No vote is noted (`every_votes` is out of reach), so only the interval can bring the
    later votes onto the cached board."""
    job.every_votes = 10_000
    battles = planted_battles(60)
    record(job, battles[:30])
    async with running(job, interval_s=0.5):
        first = await eventually(cached_votes(job, 30), "the first board, from 30 votes")
        record(job, battles[30:])
        second = await eventually(cached_votes(job, 60), "a board with the 30 new votes")
    assert second.table["snapshot"] != first.table["snapshot"]
    assert sum(row["battles"] for row in second.table["rows"]) == 2 * 60


async def test_votes_wake_the_job_long_before_its_interval(job):
    """With an hour's interval, only `note_vote` (called by the service after each durable vote)
    can bring the new votes onto the board while the test waits."""
    battles = planted_battles(33)
    record(job, battles[:30])
    async with running(job, interval_s=3600):
        await eventually(cached_votes(job, 30), "the board the job computes when it starts")
        record(job, battles[30:])
        for _ in range(job.every_votes):
            job.note_vote()
        cached = await eventually(cached_votes(job, 33), "a board woken by 3 votes")
    assert sum(row["battles"] for row in cached.table["rows"]) == 2 * 33


async def test_a_failed_refresh_does_not_stop_the_job(job, caplog):
    """A file where the snapshot folder belongs makes a refresh raise; the loop logs it, and the
    next refresh (woken by votes) succeeds once the way is clear."""
    record(job, planted_battles(30))
    job.out_dir.write_text("in the way")
    with caplog.at_level(logging.ERROR, logger="arena.jobs.leaderboard"):
        async with running(job, interval_s=3600):
            async def failed():
                return any(r.getMessage() == "leaderboard job failed" and r.exc_info
                           for r in caplog.records)

            await eventually(failed, "the failed refresh logged with its traceback")
            assert await job.live.get_leaderboard() is None
            job.out_dir.unlink()
            for _ in range(job.every_votes):
                job.note_vote()
            await eventually(cached_votes(job, 30), "a board after the failed refresh")


@pytest.mark.parametrize("stand_in", [LiveStateUnavailable, RuntimeError])
async def test_a_cancel_that_comes_out_as_another_error_still_stops_the_job(job, stand_in):
    """A cancel landing inside a Redis command can come out of redis-py as another exception
    (its clean-up replaced the CancelledError; seen in a loaded run, where the job went on
    refreshing and the test waited for it for good). The loop catches that exception like any
    failed refresh, and must still end, cancelled."""
    inside = asyncio.Event()

    async def refresh_replacing_the_cancel():
        inside.set()
        try:
            await asyncio.Event().wait()  # the Redis command the cancel lands in
        except asyncio.CancelledError:
            raise stand_in("what redis-py's clean-up raised instead") from None

    job.refresh = refresh_replacing_the_cancel
    task = asyncio.create_task(job.run_forever(interval_s=0.01))
    await asyncio.wait_for(inside.wait(), LOOP_DEADLINE_S)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=LOOP_DEADLINE_S)
    assert done == {task}, "the job went on after task.cancel()"
    assert task.cancelled()


async def test_votes_noted_during_a_refresh_start_the_next_one(job):
    """The wake-up is cleared before a refresh, not after: votes noted while a refresh runs
    (on a loaded arena, refreshes take seconds) bring the next one at once, not an interval
    (an hour here) later."""
    refreshes: list[asyncio.Event] = []
    release_first = asyncio.Event()

    async def refresh_held_on_cue():
        started = asyncio.Event()
        refreshes.append(started)
        started.set()
        if len(refreshes) == 1:
            await release_first.wait()

    job.refresh = refresh_held_on_cue
    async with running(job, interval_s=3600):
        await eventually(lambda: _true(len(refreshes) == 1), "the first refresh")
        for _ in range(job.every_votes):
            job.note_vote()
        release_first.set()
        await eventually(lambda: _true(len(refreshes) == 2),
                         "a second refresh brought by the votes noted during the first")


async def _true(value: bool) -> bool:
    return value


async def test_only_named_or_flagged_votes_mean_no_board(job):
    """Named and flagged votes are logged but never rated nor published: the job caches
    nothing, keeps no snapshot folder and serves nothing (`last_board` stays None), until an
    anonymous vote."""
    record(job, [
        make_battle(model_a="alpha", model_b="gamma", mode="named", turn_count=1),
        make_battle(model_a="alpha", model_b="gamma", flags=["identity_leak"], turn_count=1),
        make_battle(model_a="alpha", model_b="beta", status="abandoned", turn_count=1),
    ])
    assert await job.refresh() is None
    assert await job.live.get_leaderboard() is None
    assert job.last_board is None
    assert snapshot_folders(job) == []

    record(job, [make_battle(model_a="beta", model_b="gamma", winner="model_b", turn_count=1)])
    board = await job.refresh()
    assert [(row["model"], row["battles"]) for row in board["rows"]] == [("gamma", 1), ("beta", 1)]
    assert board["dropped"] == {"status_not_voted": 0, "mode_named": 1, "flagged_battle": 1}
    assert board["left_out"] == {"named": 1, "flagged": 1, "in_revote_pool": None}
    assert (await job.live.get_leaderboard()).table == board
    assert snapshot_folders(job) == [board["snapshot"]]


async def test_a_disconnected_graph_gets_a_board_without_style_control(job):
    """Two pairs that never met cannot share one style-controlled scale: the job falls back to
    rating each piece (`--allow-disconnected`) without style control, and says so in the
    manifest, so `--from-manifest` reproduces it."""
    rng = random.Random(3)
    for index in range(40):
        a, b = ("alpha", "beta") if index % 2 else ("gamma", "delta")
        battle = make_battle(model_a=a, model_b=b, turn_count=1,
                             winner="model_a" if rng.random() < 0.7 else "model_b")
        for side in ("a", "b"):  # varied lengths: style control would be fitted if it could
            length = rng.randint(5, 60)
            generation = getattr(battle.turns[0], f"generation_{side}")
            generation.output = "word " * length
            generation.completion_tokens = length
            getattr(battle, f"conversation_{side}")[-1]["content"] = generation.output
        job.log.record_battle(battle)
    board = await job.refresh()
    assert board["votes"] == 40
    assert {row["model"] for row in board["rows"]} == {"alpha", "beta", "gamma", "delta"}
    assert all(row["battles"] == 20 for row in board["rows"])
    assert board["style_rows"] is None and board["style_coefficients"] is None
    manifest = job.out_dir / board["snapshot"] / "leaderboard.json.manifest.json"
    options = json.loads(manifest.read_text())["options"]
    assert options["allow_disconnected"] is True and options["style"] is False
    assert rerun(job, manifest).identical


async def test_the_job_keeps_running_while_redis_is_down(tmp_path, own_redis, caplog):
    """With Redis gone the job still computes (workers fall back to `last_board`); once Redis is
    back on its port, the next refresh caches the board with every vote."""
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    live = LiveState.from_url(own_redis.url, prefix="test:")
    job = LeaderboardJob(log=log, live=live, out_dir=tmp_path / "boards", every_votes=3)
    battles = planted_battles(36)
    record(job, battles[:30])
    port = own_redis.port
    revived = None
    try:
        with caplog.at_level(logging.WARNING, logger="arena.jobs.leaderboard"):
            async with running(job, interval_s=3600):
                await eventually(cached_votes(job, 30), "the first board")
                own_redis.stop()
                record(job, battles[30:33])
                for _ in range(3):
                    job.note_vote()

                async def computed_uncached():
                    return job.last_board is not None and job.last_board["votes"] == 33

                await eventually(computed_uncached, "a board computed while Redis is down")

                async def said_uncached():
                    # `last_board` is set before the put that gives up and says so.
                    return any("not cached: live state unavailable" in r.getMessage()
                               for r in caplog.records)

                await eventually(said_uncached, "the warning that the board was not cached")
                revived = EmbeddedRedis(port=port).start()
                record(job, battles[33:])
                cached_36 = cached_votes(job, 36)

                async def cached_after_revival():
                    # A call that meets the pool the outage left behind may give up at its
                    # deadline (LiveState replaces the pool then): not yet. Votes keep coming,
                    # so a refresh that failed that way is followed by another.
                    try:
                        found = await cached_36()
                    except LiveStateUnavailable:
                        found = None
                    if found is None:
                        for _ in range(3):
                            job.note_vote()
                    return found

                cached = await eventually(cached_after_revival, "a board cached after Redis",
                                          within_s=LOOP_DEADLINE_S + 2 * CALL_DEADLINE_S)
        # The same board as the job's last, up to the refresh it came from: the votes noted
        # while waiting may have started one more refresh (of the same 36 votes) since.
        assert without_refresh(cached.table) == without_refresh(job.last_board)
        assert cached.votes == job.last_board["votes"] == 36
    finally:
        await live.aclose()
        log.close()
        if revived is not None:
            revived.stop()
