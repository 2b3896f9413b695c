"""The background leaderboard job: recompute ratings from the SQL log, cache them, snapshot them.

Runs on one worker. It wakes every `interval_s` seconds, or sooner once `every_votes` new votes
were cast in this process, and then:

1. exports the voted battles (our JSONL format) into a new snapshot folder
   `<out_dir>/<UTC stamp>/battles.jsonl`;
2. runs the ratings engine on that file exactly as `arena ratings` would (anonymous battles,
   flagged battles excluded, Bradley–Terry with sandwich CIs), writing `leaderboard.json` and its
   manifest `leaderboard.json.manifest.json` beside it;
3. stores the board in Redis for every worker's `/api/leaderboard` and Leaderboard tab.

Because the snapshot holds the export and the manifest, anyone can re-derive the published
board with `arena ratings --from-manifest <snapshot>/leaderboard.json.manifest.json`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arena.live import LiveState, LiveStateUnavailable
from arena.store import BattleLog
from arena.transfer.export import export_battles
from ratings.errors import BattleDataError, ConstantStyleFeature
from ratings.manifest import rate_file, write_run
from ratings.options import STYLE_FEATURES, RatingOptions

log = logging.getLogger(__name__)


class LeaderboardJob:
    """Recomputes the cached leaderboard; see the module docstring for the steps."""

    def __init__(
        self, *, log: BattleLog, live: LiveState, out_dir: Path, every_votes: int
    ) -> None:
        self.log = log
        self.live = live
        self.out_dir = out_dir
        self.every_votes = every_votes
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
        if board is None:
            return None
        self.last_board = board
        try:
            await self.live.put_leaderboard(board, votes=board["votes"])
        except LiveStateUnavailable:
            log.warning("leaderboard computed but not cached: live state unavailable")
        return board

    def _compute(self) -> dict[str, Any] | None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        folder = self.out_dir / stamp
        folder.mkdir(parents=True, exist_ok=True)
        export_path = folder / "battles.jsonl"
        written = export_battles(self.log, "jsonl", export_path, status="voted", progress=False)
        try:
            board = rate_snapshot(export_path, folder / "leaderboard.json") if written else None
        except BattleDataError as nothing_to_rate:
            # e.g. every vote so far is named or flagged: no anonymous board yet.
            log.info("no leaderboard yet: %s", nothing_to_rate)
            board = None
        if board is None:
            shutil.rmtree(folder)
            return None
        board["snapshot"] = stamp
        board["manifest_url"] = f"/snapshots/{stamp}/leaderboard.json.manifest.json"
        board["export_url"] = f"/snapshots/{stamp}/battles.jsonl"
        return board


def rate_snapshot(export_path: Path, output: Path) -> dict[str, Any]:
    """Rate one export as `arena ratings EXPORT --style --out OUTPUT` would.

    Style features that do not vary are left out; without any (or with a comparison graph in
    pieces) it falls back to `--allow-disconnected` without style control. Writes the table and its
    manifest; returns the board in the shape the UI and `/api/leaderboard` serve: rows,
    style-controlled rows, when, and from how many votes.
    """
    features = list(STYLE_FEATURES)
    while True:
        options = RatingOptions(ci="sandwich", style=bool(features),
                                style_features=tuple(features),
                                allow_disconnected=not features)
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
    write_run(run, output)
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
    }


_ROW_KEYS = ("rank", "rank_ub", "model", "rating", "lower", "upper", "battles", "win_rate")
