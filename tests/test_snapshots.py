"""Leaderboard snapshots: written whole, pruned to the newest `keep`, bounded on disk, and each
one re-derives its board from its public release alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from factories import make_battle
from typer.testing import CliRunner

from arena.cli import app
from arena.jobs.leaderboard import LeaderboardJob
from arena.jobs.snapshots import SnapshotStore
from arena.live import LiveState
from arena.store import BattleLog

asynchronous = pytest.mark.asyncio(loop_scope="session")

MODELS = ["alpha", "beta", "gamma", "delta"]
# The disk bound (docs/release.md): a one-turn release row without text or labels is at most
# ROW_BYTES for model names up to 25 characters and counts below 10^6; the tables, manifests
# and file-system blocks take at most SNAPSHOT_OVERHEAD_BYTES for a handful of models and
# labels. At rest the job keeps `keep` snapshots plus, at most, the older one the cached board
# still points to.
ROW_BYTES = 760
SNAPSHOT_OVERHEAD_BYTES = 64 * 1024


def disk_bound(votes: int, keep: int) -> int:
    return (keep + 1) * (votes * ROW_BYTES + SNAPSHOT_OVERHEAD_BYTES)


def disk_used(root: Path) -> int:
    """Bytes of disk the tree under `root` occupies (allocated blocks, like `du`)."""
    return sum(path.lstat().st_blocks * 512 for path in [root, *root.rglob("*")])


def battles(count: int, offset: int = 0) -> list:
    """`count` voted one-turn battles among MODELS with answers of varied length."""
    made = []
    for index in range(offset, offset + count):
        a, b = MODELS[index % 4], MODELS[(index // 4 + index + 1) % 4]
        if a == b:
            b = MODELS[(MODELS.index(a) + 1) % 4]
        battle = make_battle(model_a=a, model_b=b, turn_count=1,
                             winner="model_a" if (index * 7) % 5 < 3 else "model_b",
                             outputs=["word " * (5 + index % 37)])
        # Side b answers at another length, so style control has a length to control for.
        generation = battle.turns[0].generation_b
        generation.output = "- item\n" * (1 + index % 11)
        generation.completion_tokens = 2 * (1 + index % 11)
        battle.conversation_b[-1]["content"] = generation.output
        made.append(battle)
    return made


@pytest.fixture
async def job(tmp_path, redis_url, live_prefix):
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    live = LiveState.from_url(redis_url, prefix=live_prefix)
    # A release in every snapshot (release_every_s=0), as these tests check what it holds.
    job = LeaderboardJob(log=log, live=live, out_dir=tmp_path / "leaderboards",
                         every_votes=50, keep=2, release_every_s=0.0)
    yield job
    await live.aclose()
    log.close()


# ------------------------------------------------------------------------------ the store


def make_finished(store: SnapshotStore, files: dict[str, str] | None = None) -> str:
    with store.new_snapshot() as pending:
        for name, text in (files or {"leaderboard.json": "{}"}).items():
            (pending.path / name).write_text(text)
        pending.publish()
    return pending.stamp


def test_prune_keeps_the_newest_and_the_protected_and_nothing_else_is_touched(tmp_path):
    store = SnapshotStore(tmp_path / "boards", keep=2)
    stamps = [make_finished(store) for _ in range(5)]
    (store.root / "README.txt").write_text("the operator's own file")
    (store.root / "notes").mkdir()
    removed = store.prune(protect={stamps[0]})
    assert sorted(removed) == stamps[1:3]
    assert store.finished() == [stamps[0], *stamps[3:]]
    assert (store.root / "README.txt").exists() and (store.root / "notes").is_dir()


def test_snapshots_of_the_old_layout_holding_the_log_are_removed_even_when_recent(tmp_path):
    store = SnapshotStore(tmp_path / "boards", keep=5)
    current = make_finished(store)
    legacy = make_finished(store, {"battles.jsonl": '{"rater_hash": "r"}\n'})
    assert store.prune(protect={legacy}) == [legacy]
    assert store.finished() == [current]


def test_an_unpublished_snapshot_leaves_nothing_and_a_dead_writers_part_is_swept(tmp_path):
    store = SnapshotStore(tmp_path / "boards", keep=1)
    with store.new_snapshot() as pending:
        (pending.path / "release.jsonl").write_text("")
    assert not pending.path.exists() and store.finished() == []
    stale = store.root / ".20260301T120000000000Z.part"
    stale.mkdir()
    assert store.prune() == [stale.name] and not stale.exists()


def test_prune_waits_for_a_snapshot_being_written(tmp_path):
    """A prune that starts while a snapshot is written (here by another thread; the lock is a
    file lock, so another process alike) waits for it, and then leaves it whole."""
    store = SnapshotStore(tmp_path / "boards", keep=1)
    older = make_finished(store)
    pruned: list[str] = []
    with store.new_snapshot() as pending:
        (pending.path / "release.jsonl").write_text("half")
        pruner = threading.Thread(target=lambda: pruned.extend(store.prune()))
        pruner.start()
        pruner.join(timeout=0.5)
        assert pruner.is_alive(), "prune ran while a snapshot was being written"
        assert pending.path.is_dir()
        (pending.path / "release.jsonl").write_text("whole")
        pending.publish()
    pruner.join(timeout=30)
    assert not pruner.is_alive()
    assert pruned == [older]
    assert (store.root / pending.stamp / "release.jsonl").read_text() == "whole"


def test_keep_must_leave_the_served_snapshot(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        SnapshotStore(tmp_path, keep=0)


# ---------------------------------------------------------------------------- through the job


@asynchronous
async def test_the_job_keeps_the_newest_snapshots_and_the_cached_boards(job):
    """Each refresh adds a snapshot and prunes to `keep` (2); the one the cached board names is
    always among those kept."""
    seen = []
    for round_ in range(4):
        job.log.record_battles(battles(40, offset=40 * round_))
        board = await job.refresh()
        seen.append(board["snapshot"])
        cached = await job.live.get_leaderboard()
        assert cached.table["snapshot"] == board["snapshot"]
        assert job.snapshots.finished() == seen[-2:]
    assert board["votes"] == 160


@asynchronous
async def test_ten_thousand_votes_with_refreshes_stay_within_the_stated_disk_bound(job):
    """10,000 votes logged in steps of 2,500 with a refresh after each: the snapshot folder
    never holds more than `keep` (+1) snapshots and its disk use stays under
    (keep + 1) x (votes x ROW_BYTES + SNAPSHOT_OVERHEAD_BYTES)."""
    step = 2_500
    for round_ in range(4):
        for start in range(0, step, 500):
            outcomes = job.log.record_battles(battles(500, offset=round_ * step + start))
            assert outcomes == [None] * 500
        board = await job.refresh()
        votes = (round_ + 1) * step
        assert board["votes"] == votes
        assert len(job.snapshots.finished()) <= job.snapshots.keep + 1
        used = disk_used(job.out_dir)
        assert used <= disk_bound(votes, job.snapshots.keep), (used, votes)
    release = job.out_dir / board["snapshot"] / "release.jsonl"
    longest = max(len(line) for line in release.read_bytes().splitlines())
    assert longest <= ROW_BYTES
    # Without pruning, four snapshots of 2,500 to 10,000 votes would hold 25,000 rows.
    assert len(job.snapshots.finished()) == 2


@asynchronous
async def test_a_downloaded_snapshot_re_derives_from_the_live_log_byte_for_byte(job, tmp_path):
    """Copy one snapshot folder elsewhere (as a visitor downloading it would), record more
    votes, and run `arena ratings --from-manifest` on it against the live database: the same
    tables, byte for byte, with and without style control, from the battles below the
    snapshot's watermark."""
    job.log.record_battles(battles(300))
    board = await job.refresh()
    assert board["style_rows"], "the stored style features must reach the style board"
    downloaded = tmp_path / "download"
    shutil.copytree(job.out_dir / board["snapshot"], downloaded)
    job.log.record_battles(battles(50, offset=300))  # votes after the snapshot
    for name in ("leaderboard.json", "leaderboard-style.json"):
        manifest = downloaded / f"{name}.manifest.json"
        result = CliRunner().invoke(app, ["ratings", "--from-manifest", str(manifest),
                                          "--db", job.log.url])
        assert result.exit_code == 0, result.output
        assert "identical to the recorded output" in result.output
    style = json.loads((downloaded / "leaderboard-style.json.manifest.json").read_text())
    assert style["options"]["style"] is True


@asynchronous
async def test_arena_export_public_writes_the_very_release_the_snapshot_holds(job, tmp_path):
    """The leaderboard job and `arena export --public` (a real process, reading the same log
    and the same data directory) write the same bytes, and the same manifest."""
    job.log.record_battles(battles(120))
    job.log.record_battle(make_battle(model_a="alpha", model_b="beta", mode="named"))
    board = await job.refresh()
    config = tmp_path / "arena.toml"
    config.write_text(f'[arena]\ndb_url = "sqlite:///{tmp_path / "arena.db"}"\n'
                      f'data_dir = "{tmp_path}"\n')
    out = tmp_path / "public" / "release.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "arena", "export", "--public", "--config", str(config),
         "--out", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    snapshot = job.out_dir / board["snapshot"]
    assert out.read_bytes() == (snapshot / "release.jsonl").read_bytes()
    assert (Path(f"{out}.manifest.json").read_bytes()
            == (snapshot / "release.jsonl.manifest.json").read_bytes())
