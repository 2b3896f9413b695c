"""The background leaderboard job: recompute ratings from the SQL log, cache them, snapshot them.

Runs on one worker. It wakes every `interval_s` seconds, or sooner once `every_votes` new votes
were cast in this process. By default it rates counts kept current in memory
(`arena.jobs.live_board`: each refresh reads only the votes committed since the last one, with
one indexed query, and rates them as `arena ratings --db` would below the same watermark),
writing in a new snapshot folder `<out_dir>/<UTC stamp>/` (written whole or not at all):
`leaderboard.json` (Bradley–Terry, sandwich CIs, robustness), `leaderboard-categories.json`
(one board per label) and, every `style_every_s` seconds, `leaderboard-style.json` (style
control) and robustness in `leaderboard.json` (between two such refreshes the board keeps the
last style rows and robustness, with `style_watermark` and `robustness_watermark`; at 130
models they cost seconds, the rest of a refresh does not), each with a manifest
that records the watermark: `arena ratings --from-manifest <folder>/leaderboard.json.manifest
.json --db URL` re-derives it byte for byte from the live database, however many votes came
after. With `release_every_s` the folder also holds the public release (at most that often: it
writes the whole log). Then steps 4 and 5 below.

With `sampling_correction` (weights normalised battle by battle: not in SQL) it runs the
release path instead: in the snapshot folder it

1. writes the public data release of the log (`arena.transfer.public`, the same file
   `arena export --public` writes): `release.jsonl` and `release.jsonl.manifest.json`;
2. rates that release exactly as `arena ratings release.jsonl --style --robustness` would
   (Bradley–Terry with sandwich CIs, plus the fewest votes whose removal would change #1 and
   each adjacent pair; the release holds only the battles the default board rates), writing
   `leaderboard.json` and its manifest `leaderboard.json.manifest.json` beside it, with paths
   relative to the folder; with `sampling_correction`, as `arena ratings release.jsonl
   --style --correct-sampling` instead (robustness counts votes, not weights);
3. rates it per category as `arena ratings release.jsonl --by category --min-votes
   <category_min_votes> --allow-disconnected` would (one board per label, each model's
   `rank_change` against the overall board; a category with too few votes is counted, not
   ranked), writing `leaderboard-categories.json` and its manifest;
4. stores the board, with the category boards, in Redis for every worker's
   `/api/leaderboard` and Leaderboard tab (rows marked `provisional` below
   `provisional_votes` votes, and with each model's lifecycle `state` as
   `LiveState.model_states()` last published it);
5. prunes old snapshots, keeping the newest `keep` and the one the cached board points to.

Everything under out_dir is public (served at /snapshots): no snapshot holds anything the
public release does not. Anyone can re-derive the published board from a downloaded snapshot
folder with `arena ratings --from-manifest <folder>/leaderboard.json.manifest.json`, and
every category board with `... --from-manifest <folder>/leaderboard-categories.json.manifest.json`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arena.jobs.live_board import (
    ROW_KEYS,
    LiveCounts,
    category_entry,
    live_board_dict,
    rate_categories,
    rate_overall,
    rate_style,
    style_rows,
)
from arena.jobs.snapshots import SnapshotStore
from arena.live import LiveState, LiveStateUnavailable
from arena.live.connection import stop_if_cancelled
from arena.store import BattleLog
from arena.transfer.public import (
    LEFT_OUT_REASONS,
    RELEASE_FILE,
    export_public,
    load_release_key,
    manifest_path,
)
from ratings.errors import BattleDataError, ConstantStyleFeature
from ratings.io import read_battles
from ratings.manifest import RatingRun, rate_read_frame, write_run
from ratings.options import DEFAULT_PROVISIONAL_VOTES, STYLE_FEATURES, RatingOptions

log = logging.getLogger(__name__)

TABLE_FILE = "leaderboard.json"
CATEGORIES_FILE = "leaderboard-categories.json"
STYLE_FILE = "leaderboard-style.json"
DEFAULT_STYLE_EVERY_S = 300.0
DEFAULT_KEEP = 5
DEFAULT_CATEGORY_MIN_VOTES = 50


class LeaderboardJob:
    """Recomputes the cached leaderboard; see the module docstring for the steps.

    `release_key` is the HMAC key of public battle ids (default: the one kept in the data
    directory, taken to be out_dir's parent); `withheld` holds the battle ids of a re-voting
    pool being served, whose battles (and re-votes) the release leaves out.
    `provisional_votes`, `category_min_votes` and `sampling_correction` are the `[arena]`
    settings of the same names.
    """

    def __init__(
        self, *, log: BattleLog, live: LiveState, out_dir: Path, every_votes: int,
        keep: int = DEFAULT_KEEP, release_key: bytes | None = None,
        withheld: Collection[str] = (),
        provisional_votes: int = DEFAULT_PROVISIONAL_VOTES,
        category_min_votes: int = DEFAULT_CATEGORY_MIN_VOTES,
        sampling_correction: bool = False,
        style_every_s: float = DEFAULT_STYLE_EVERY_S,
        release_every_s: float | None = None,
    ) -> None:
        self.log = log
        self.live = live
        self.out_dir = out_dir
        self.every_votes = every_votes
        self.snapshots = SnapshotStore(out_dir, keep)
        self.release_key = release_key or load_release_key(out_dir.parent)
        self.withheld = frozenset(withheld)
        self.provisional_votes = provisional_votes
        self.category_min_votes = category_min_votes
        self.sampling_correction = sampling_correction
        self.style_every_s = style_every_s
        self.release_every_s = release_every_s
        self.counts = LiveCounts(withheld=self.withheld)
        self._style: tuple[float, int, dict[str, Any]] | None = None  # (when, watermark, parts)
        self._release_at: float | None = None
        self._robustness: tuple[dict[str, Any] | None, int | None] = (None, None)
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
            stop_if_cancelled()  # a cancel an exception stood in for still stops the job
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=interval_s)
            except TimeoutError:
                pass

    async def refresh(self) -> dict[str, Any] | None:
        """Recompute now. Returns the board, or None when there are no votes to rate yet."""
        self._votes_since = 0
        states = await self._model_states()
        board = await asyncio.to_thread(self._compute, states)
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

    async def _model_states(self) -> dict[str, str]:
        """Each model's lifecycle state as last published; {} when Redis cannot say (the
        board is still computed, without states)."""
        published = getattr(self.live, "model_states", None)
        if published is None:
            return {}
        try:
            return dict(await published())
        except LiveStateUnavailable:
            log.warning("leaderboard: live state unavailable; model states left out")
            return {}

    def _compute(self, states: dict[str, str]) -> dict[str, Any] | None:
        if self.sampling_correction:
            return self._compute_from_release(states)
        source = self.counts.update(self.log)
        common = {"provisional_votes": self.provisional_votes,
                  "model_states": tuple(sorted(states.items()))}
        # The style fit and robustness's refits are the costly parts: at most every
        # style_every_s; between them the board keeps the last ones (with their watermark).
        slow = self._style is None or time.monotonic() - self._style[0] >= self.style_every_s
        with self.snapshots.new_snapshot() as pending:
            try:
                run, _ = rate_overall(source, common, pending.path, TABLE_FILE, slow)
            except BattleDataError as nothing_to_rate:
                log.info("no leaderboard yet: %s", nothing_to_rate)
                return None
            categories = rate_categories(source, common, self.category_min_votes,
                                         pending.path / CATEGORIES_FILE)
            style = self._style_parts(source.window.below, common, pending.path, slow)
            release = self._maybe_release(pending.path)
            pending.publish()
        board = live_board_dict(run, categories, style, self.provisional_votes,
                                self.category_min_votes)
        board["watermark"] = source.window.below
        if slow:
            self._robustness = (board["robustness"], source.window.below)
        board["robustness"], board["robustness_watermark"] = self._robustness
        return self._with_urls(board, pending.stamp, release, categories is not None,
                               style.get("style_watermark") == source.window.below)

    def _style_parts(self, below: int, common: dict[str, Any], folder: Path, due: bool
                     ) -> dict[str, Any]:
        """The style board's rows and coefficients: fitted now when `due` (written as
        STYLE_FILE), else those of the last fit."""
        now = time.monotonic()
        if due or self._style is None:
            run = rate_style(self.log, below, self.withheld, common, folder / STYLE_FILE)
            parts: dict[str, Any] = {"style_rows": None, "style_coefficients": None}
            if run is not None:
                data = run.boards[None].to_dict()
                parts = {"style_rows": style_rows(data["leaderboard"] or []),
                         "style_coefficients": data["style_coefficients"],
                         "style_watermark": below}
            self._style = (now, below, parts)
        return self._style[2]

    def _maybe_release(self, folder: Path) -> Any:
        """The public release in the snapshot, when `release_every_s` says it is due."""
        now = time.monotonic()
        if self.release_every_s is None or (
                self._release_at is not None and now - self._release_at < self.release_every_s):
            return None
        self._release_at = now
        return export_public(self.log, folder / RELEASE_FILE, key=self.release_key,
                             withheld=self.withheld)

    @staticmethod
    def _with_urls(board: dict[str, Any], stamp: str, release: Any, categories: bool,
                   style: bool) -> dict[str, Any]:
        board["snapshot"] = stamp
        board["manifest_url"] = f"/snapshots/{stamp}/{TABLE_FILE}.manifest.json"
        board["categories_manifest_url"] = (
            f"/snapshots/{stamp}/{CATEGORIES_FILE}.manifest.json" if categories else None)
        board["style_manifest_url"] = (
            f"/snapshots/{stamp}/{STYLE_FILE}.manifest.json" if style else None)
        board["export_url"] = f"/snapshots/{stamp}/{RELEASE_FILE}" if release else None
        board["release_manifest_url"] = (
            f"/snapshots/{stamp}/{manifest_path(Path(RELEASE_FILE)).name}" if release else None)
        return board

    def _compute_from_release(self, states: dict[str, str]) -> dict[str, Any] | None:
        with self.snapshots.new_snapshot() as pending:
            release = export_public(self.log, pending.path / RELEASE_FILE,
                                    key=self.release_key, withheld=self.withheld)
            if release.rows == 0:
                log.info("no leaderboard yet: no vote the public board may rate (left out: %s)",
                         dict(release.left_out))
                return None
            try:
                board = rate_snapshot(
                    release.path, pending.path / TABLE_FILE, model_states=states,
                    provisional_votes=self.provisional_votes,
                    category_min_votes=self.category_min_votes,
                    sampling_correction=self.sampling_correction)
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
        if board.get("categories_manifest_url"):
            board["categories_manifest_url"] = (
                f"/snapshots/{stamp}/{CATEGORIES_FILE}.manifest.json")
        return board


def rate_snapshot(export_path: Path, output: Path, *,
                  model_states: dict[str, str] | None = None,
                  provisional_votes: int = DEFAULT_PROVISIONAL_VOTES,
                  category_min_votes: int = DEFAULT_CATEGORY_MIN_VOTES,
                  sampling_correction: bool = False) -> dict[str, Any]:
    """Rate one release (or export) as `arena ratings FILE --style --robustness --out OUTPUT`
    would (`--style --correct-sampling` with `sampling_correction`), and per category as
    `arena ratings FILE --by category --min-votes N --allow-disconnected` would, into
    `CATEGORIES_FILE` beside OUTPUT.

    Style features that do not vary are left out; without any (or with a comparison graph in
    pieces) it falls back to `--allow-disconnected` without style control. Writes the tables and
    their manifests; returns the board in the shape the UI and `/api/leaderboard` serve: rows,
    style-controlled rows, when, from how many votes, `robustness`
    (`ratings.robustness.BoardRobustness.to_dict()`: headline, leader, adjacent pairs),
    `categories` ({label: {votes, too_few, min_votes, rows}}; rows with `rank_change`),
    `sampling_correction` (bool; `sampling`: the weights' effective sample size) and
    `provisional_votes`.
    """
    frame = read_battles(export_path)
    common = {"provisional_votes": provisional_votes,
              "model_states": tuple(sorted((model_states or {}).items())),
              "sampling_correction": sampling_correction}
    run, options = _rate_overall(export_path, frame, common)
    write_run(run, output, portable=True)
    board = run.boards[None]
    data = board.to_dict()
    rows = data["leaderboard"] or []
    styled = style_rows(rows) if options.style else None
    categories = _rate_categories(export_path, frame, output.with_name(CATEGORIES_FILE),
                                  RatingOptions(ci="sandwich", allow_disconnected=True,
                                                min_votes=category_min_votes, **common))
    return {
        "computed_at": datetime.now(UTC).isoformat(),
        "votes": board.rows_used,
        "rows": [{key: row.get(key) for key in ROW_KEYS} for row in rows],
        "style_rows": styled,
        "style_coefficients": data["style_coefficients"],
        "dropped": board.dropped,
        "robustness": data.get("robustness"),
        "sampling_correction": sampling_correction,
        "sampling": data.get("sampling_correction"),
        "provisional_votes": provisional_votes,
        "category_min_votes": category_min_votes,
        "categories": categories,
        # Rewritten to the snapshot's URL by the job; None when no category board was made.
        "categories_manifest_url": CATEGORIES_FILE if categories else None,
    }


def _rate_overall(export_path: Path, frame: Any, common: dict[str, Any]
                  ) -> tuple[RatingRun, RatingOptions]:
    """The main board: style control and robustness (not when sampling-corrected: it counts
    votes, not weights), leaving out style features that do not vary, then style altogether
    if it cannot be fitted."""
    features = list(STYLE_FEATURES)
    while True:
        options = RatingOptions(ci="sandwich", style=bool(features),
                                style_features=tuple(features),
                                allow_disconnected=not features,
                                robustness=not common["sampling_correction"], **common)
        try:
            return rate_read_frame(export_path, frame, options, None), options
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


def _rate_categories(export_path: Path, frame: Any, output: Path, options: RatingOptions
                     ) -> dict[str, dict[str, Any]]:
    """One board per label (`--by category`), written with its manifest; {} when the release
    has no category or none can be rated."""
    try:
        run = rate_read_frame(export_path, frame, options, "category")
    except BattleDataError as none:
        log.info("no category boards: %s", none)
        return {}
    write_run(run, output, portable=True)
    return {str(label): category_entry(board, options.min_votes)
            for label, board in run.boards.items()}
