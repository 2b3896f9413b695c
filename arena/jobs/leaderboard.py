"""The background leaderboard job: recompute ratings from the SQL log, cache them, snapshot them.

Runs on one worker. It wakes every `interval_s` seconds, or sooner once `every_votes` new votes
were cast in this process, and then, in a new snapshot folder `<out_dir>/<UTC stamp>/`
(`arena.jobs.snapshots`: written whole or not at all):

1. writes the public data release of the log (`arena.transfer.public`, the same file
   `arena export --public` writes): `release.jsonl` and `release.jsonl.manifest.json`;
2. rates that release exactly as `arena ratings release.jsonl --style --robustness` would
   (Bradley–Terry with sandwich CIs, plus the fewest votes whose removal would change #1 and
   each adjacent pair; the release holds only the battles the default board rates), writing
   `leaderboard.json` and its manifest `leaderboard.json.manifest.json` beside it, with paths
   relative to the folder;
3. stores the board in Redis for every worker's `/api/leaderboard` and Leaderboard tab;
4. prunes old snapshots, keeping the newest `keep` and the one the cached board points to.

Everything under out_dir is public (served at /snapshots): no snapshot holds anything the
public release does not. Anyone can re-derive the published board from a downloaded snapshot
folder with `arena ratings --from-manifest <folder>/leaderboard.json.manifest.json`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arena.jobs.snapshots import SnapshotStore
from arena.live import LiveState, LiveStateUnavailable
from arena.store import BattleLog
from arena.transfer.public import (
    LEFT_OUT_REASONS,
    RELEASE_FILE,
    export_public,
    load_release_key,
    manifest_path,
)
from ratings.errors import BattleDataError, ConstantStyleFeature
from ratings.manifest import rate_file, write_run
from ratings.options import STYLE_FEATURES, RatingOptions

log = logging.getLogger(__name__)

TABLE_FILE = "leaderboard.json"
DEFAULT_KEEP = 5


class LeaderboardJob:
    """Recomputes the cached leaderboard; see the module docstring for the steps.

    `release_key` is the HMAC key of public battle ids (default: the one kept in the data
    directory, taken to be out_dir's parent); `withheld` holds the battle ids of a re-voting
    pool being served, whose battles (and re-votes) the release leaves out.
    """

    def __init__(
        self, *, log: BattleLog, live: LiveState, out_dir: Path, every_votes: int,
        keep: int = DEFAULT_KEEP, release_key: bytes | None = None,
        withheld: Collection[str] = (),
    ) -> None:
        self.log = log
        self.live = live
        self.out_dir = out_dir
        self.every_votes = every_votes
        self.snapshots = SnapshotStore(out_dir, keep)
        self.release_key = release_key or load_release_key(out_dir.parent)
        self.withheld = frozenset(withheld)
        self.last_board: dict[str, Any] | None = None
        self._votes_since = 0
        self._wake = asyncio.Event()

    def note_vote(self) -> None:
        """Called after each durable vote; wakes the job once enough votes accumulated."""
        self._votes_since += 1
        if self._votes_since >= self.every_votes:
            self._wake.set()

    async def run_forever(self, interval_s: float) -> None:
        while True:
            # Cleared before the refresh, so a vote noted during it wakes the next round.
            self._wake.clear()
            try:
                await self.refresh()
            except Exception:  # the next round tries again
                log.exception("leaderboard job failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=interval_s)
            except TimeoutError:
                pass

    async def refresh(self) -> dict[str, Any] | None:
        """Recompute now. Returns the board, or None when there are no votes to rate yet."""
        self._votes_since = 0
        board = await asyncio.to_thread(self._compute)
        if board is not None:
            self.last_board = board
        try:
            if board is not None:
                await self.live.put_leaderboard(board, votes=board["votes"])
            cached = await self.live.get_leaderboard()
        except LiveStateUnavailable:
            # Redis may still serve an older board when it is back: keep every snapshot
            # until it can be asked which one.
            log.warning("leaderboard %s: live state unavailable; old snapshots kept",
                        "computed but not cached" if board is not None else "not checked")
            return board
        protect = {b["snapshot"] for b in (self.last_board, cached and cached.table)
                   if isinstance(b, dict) and isinstance(b.get("snapshot"), str)}
        await asyncio.to_thread(self.snapshots.prune, protect)
        return board

    def _compute(self) -> dict[str, Any] | None:
        with self.snapshots.new_snapshot() as pending:
            release = export_public(self.log, pending.path / RELEASE_FILE,
                                    key=self.release_key, withheld=self.withheld)
            if release.rows == 0:
                log.info("no leaderboard yet: no vote the public board may rate (left out: %s)",
                         dict(release.left_out))
                return None
            try:
                board = rate_snapshot(release.path, pending.path / TABLE_FILE)
            except BattleDataError as nothing_to_rate:
                log.info("no leaderboard yet: %s", nothing_to_rate)
                return None
            pending.publish()
        stamp = pending.stamp
        board["snapshot"] = stamp
        board["left_out"] = {reason: release.left_out[reason] for reason in LEFT_OUT_REASONS}
        board["manifest_url"] = f"/snapshots/{stamp}/{TABLE_FILE}.manifest.json"
        board["export_url"] = f"/snapshots/{stamp}/{RELEASE_FILE}"
        board["release_manifest_url"] = (
            f"/snapshots/{stamp}/{manifest_path(Path(RELEASE_FILE)).name}")
        return board


def rate_snapshot(export_path: Path, output: Path) -> dict[str, Any]:
    """Rate one release (or export) as `arena ratings FILE --style --robustness --out OUTPUT`
    would.

    Style features that do not vary are left out; without any (or with a comparison graph in
    pieces) it falls back to `--allow-disconnected` without style control. Writes the table and its
    manifest; returns the board in the shape the UI and `/api/leaderboard` serve: rows,
    style-controlled rows, when, from how many votes, and `robustness`
    (`ratings.robustness.BoardRobustness.to_dict()`: headline, leader, adjacent pairs).
    """
    features = list(STYLE_FEATURES)
    while True:
        options = RatingOptions(ci="sandwich", style=bool(features),
                                style_features=tuple(features),
                                allow_disconnected=not features, robustness=True)
        try:
            run = rate_file(export_path, options)
            break
        except ConstantStyleFeature as constant:
            # A feature no answer varies in (e.g. no markdown headers yet) cannot be
            # estimated: leave it out, as `--style-features` would, and try again.
            features.remove(constant.feature)
        except BattleDataError as unfit:
            if features:
                log.info("leaderboard without style control: %s", unfit)
                features = []
            else:
                raise
    write_run(run, output, portable=True)
    board = run.boards[None]
    data = board.to_dict()
    rows = data["leaderboard"] or []
    style_rows = None
    if options.style and rows and "style_rating" in rows[0]:
        style_rows = [
            {
                "rank": row.get("style_rank"),
                "model": row["model"],
                "rating": row.get("style_rating"),
                "lower": row.get("style_lower"),
                "upper": row.get("style_upper"),
                "battles": row["battles"],
                "win_rate": row["win_rate"],
            }
            for row in rows
        ]
    return {
        "computed_at": datetime.now(UTC).isoformat(),
        "votes": board.rows_used,
        "rows": [{key: row.get(key) for key in _ROW_KEYS} for row in rows],
        "style_rows": style_rows,
        "style_coefficients": data["style_coefficients"],
        "dropped": board.dropped,
        "robustness": data.get("robustness"),
    }


_ROW_KEYS = ("rank", "rank_ub", "model", "rating", "lower", "upper", "battles", "win_rate")
