"""The leaderboard job's per-category boards, readable rows and sampling correction, on a real
SQLite log and a real Redis.

The log: three models; `alpha` leads overall, `gamma` is best at code (labels `code`, a
third of the battles) and below alpha overall.
`math` is on too few battles to be ranked. The boards are checked against what `arena
ratings` computes from the snapshot's own release, and re-derived from their manifests.
"""

from __future__ import annotations

import json
import random

import pytest
from factories import make_battle

from arena.jobs.db_ratings import rerun_db_manifest
from arena.jobs.leaderboard import CATEGORIES_FILE, ROW_KEYS, LeaderboardJob
from arena.live import LiveState
from arena.store import BattleLog
from ratings.manifest import rerun_manifest

pytestmark = pytest.mark.asyncio(loop_scope="session")

MODELS = ["alpha", "beta", "gamma"]
STRENGTH = {"alpha": 1.5, "beta": 0.5, "gamma": 0.0}
CODE_STRENGTH = {"alpha": 0.0, "beta": 0.2, "gamma": 2.5}


def battles(count: int, seed: int = 3) -> list:
    rng = random.Random(seed)
    made = []
    for number in range(count):
        a, b = rng.sample(MODELS, 2)
        code = number % 3 == 0
        strength = CODE_STRENGTH if code else STRENGTH
        p_a = 1 / (1 + 10 ** ((strength[b] - strength[a]) / 2))
        winner = "model_a" if rng.random() < p_a else "model_b"
        if number % 17 == 5:
            winner = "tie"
        labels = ["code", "lang:en"] if code else ["lang:en"]
        if number < 5:
            labels = sorted([*labels, "math"])
        battle = make_battle(model_a=a, model_b=b, winner=winner, turn_count=1,
                             labels=labels, pair_probability=1 / 3)
        for side in ("a", "b"):  # answers of different lengths, so style control can be fitted
            length = rng.randint(5, 60)
            generation = getattr(battle.turns[0], f"generation_{side}")
            generation.output = "word " * length
            generation.completion_tokens = length
            getattr(battle, f"conversation_{side}")[-1]["content"] = generation.output
        made.append(battle)
    return made


@pytest.fixture
async def job(tmp_path, redis_url, live_prefix):
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    live = LiveState.from_url(redis_url, prefix=live_prefix)
    job = LeaderboardJob(log=log, live=live, out_dir=tmp_path / "boards", every_votes=3,
                         provisional_votes=100, category_min_votes=20)
    yield job
    await live.aclose()
    log.close()


async def test_the_cached_board_has_a_board_per_category_that_re_derives(job):
    for battle in battles(240):
        job.log.record_battle(battle)
    await job.live.set_model_states({"alpha": "active", "beta": "retired",
                                     "gamma": "preview"})
    board = await job.refresh()
    assert board["provisional_votes"] == 100 and board["sampling_correction"] is False
    overall_rank = {row["model"]: row["rank"] for row in board["rows"]}
    assert overall_rank["alpha"] == 1 and overall_rank["gamma"] > 1
    for row in board["rows"]:
        assert set(row) == set(ROW_KEYS)
        assert row["provisional"] == (row["votes"] < 100)
        assert row["median_ttft_s"] == pytest.approx(0.087, abs=1e-6)  # 87 ms, unrounded
        assert row["tokens_per_s"] > 0 and 0 < row["tie_share"] < 0.2
    assert {row["model"]: row["state"] for row in board["rows"]} == {
        "alpha": "active", "beta": "retired", "gamma": "preview"}

    categories = board["categories"]
    assert sorted(categories) == ["code", "lang:en", "math"]
    assert categories["math"] == {"votes": 5, "too_few": True, "min_votes": 20, "rows": []}
    code = categories["code"]
    assert code["votes"] == 80 and code["too_few"] is False
    assert code["rows"][0]["model"] == "gamma"
    assert code["rows"][0]["rank_change"] == overall_rank["gamma"] - 1 > 0
    assert all(row["rank_change"] == 0 for row in categories["lang:en"]["rows"])
    assert {row["model"]: row["state"] for row in code["rows"]}["beta"] == "retired"

    cached = await job.live.get_leaderboard()
    assert cached.table["categories"] == categories

    folder = job.out_dir / board["snapshot"]
    stamp = board["snapshot"]
    assert board["categories_manifest_url"] == (
        f"/snapshots/{stamp}/{CATEGORIES_FILE}.manifest.json")
    manifest = folder / f"{CATEGORIES_FILE}.manifest.json"
    recorded = json.loads(manifest.read_text())
    assert recorded["by"] == "category" and recorded["options"]["min_votes"] == 20
    assert recorded["input"]["watermark"] == board["watermark"]
    assert recorded["options"]["model_states"] == [
        ["alpha", "active"], ["beta", "retired"], ["gamma", "preview"]]
    published = json.loads((folder / CATEGORIES_FILE).read_text())
    assert [row["model"] for row in published["groups"]["code"]["leaderboard"]] == [
        row["model"] for row in code["rows"]]
    for path in (manifest, folder / "leaderboard.json.manifest.json"):  # from the live log
        assert rerun_db_manifest(path, json.loads(path.read_text()), job.log.url).identical


async def test_a_sampling_corrected_board_reports_its_effective_sample_size(job):
    job.sampling_correction = True
    for battle in battles(120, seed=5):
        job.log.record_battle(battle)
    board = await job.refresh()
    assert board["sampling_correction"] is True
    # Every pair was drawn with probability 1/3: equal weights, nothing lost.
    assert board["sampling"]["effective_sample_size"] == pytest.approx(120)
    # Style control is weighted too; robustness counts votes, so it is left out.
    assert board["style_rows"] and board["robustness"] is None
    folder = job.out_dir / board["snapshot"]
    for name in ("leaderboard.json", CATEGORIES_FILE):
        manifest = folder / f"{name}.manifest.json"
        assert json.loads(manifest.read_text())["options"]["sampling_correction"] is True
        assert rerun_manifest(manifest).identical


async def test_a_log_without_labels_has_no_category_boards(job):
    for battle in battles(60):
        battle.labels = []
        job.log.record_battle(battle)
    board = await job.refresh()
    assert board["categories"] == {} and board["categories_manifest_url"] is None
    assert not (job.out_dir / board["snapshot"] / CATEGORIES_FILE).exists()
