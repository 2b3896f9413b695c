"""The leaderboard job on a real SQLite log and a real Redis: snapshot, cache, reproduction."""

from __future__ import annotations

import json
import random

import pytest
from factories import make_battle

from arena.jobs.leaderboard import LeaderboardJob
from arena.live import LiveState
from arena.store import BattleLog
from ratings.manifest import rerun_manifest

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


async def test_no_votes_means_no_board_and_no_snapshot(job):
    assert await job.refresh() is None
    assert await job.live.get_leaderboard() is None
    assert not job.out_dir.exists() or not any(job.out_dir.iterdir())


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

    cached = await job.live.get_leaderboard()
    assert cached.table == board and cached.votes == 120

    folder = job.out_dir / board["snapshot"]
    manifest = folder / "leaderboard.json.manifest.json"
    assert (folder / "battles.jsonl").exists() and manifest.exists()
    assert board["manifest_url"].endswith(f"{board['snapshot']}/leaderboard.json.manifest.json")
    assert json.loads(manifest.read_text())["rows_used"] == 120
    reproduction = rerun_manifest(manifest)
    assert reproduction.identical


async def test_votes_wake_the_job_after_every_votes(job):
    assert not job._wake.is_set()
    for _ in range(2):
        job.note_vote()
    assert not job._wake.is_set()
    job.note_vote()
    assert job._wake.is_set()
