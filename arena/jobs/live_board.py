"""The live leaderboard from counts kept current in memory: each refresh reads only the votes
committed since the last one, with one indexed query (`vote.commit_key` range).

`LiveCounts` holds the aggregated votes (model pair, winner, mode, flags, labels and the
rater's category, with a count) and every generation's stored speed, below a watermark
(arena.store.aggregate). `update` reads the window [watermark, new watermark), which no later
commit can fall into on SQLite or PostgreSQL, so a vote is counted once and never missed
however the writers' commits interleave; it merges the new rows into the counts. The SQL work
of a refresh is proportional to the votes since the last one, not to the log.

`board_from_counts` rates those counts as `arena ratings --db` rates the database below the
same watermark (`arena.jobs.db_ratings.rate_source`), so every board the job publishes is
re-derived byte for byte by `arena ratings --from-manifest <snapshot>/leaderboard.json.
manifest.json` from the live database, however many votes came after: the overall board with
robustness (leaderboard.json), one board per category (leaderboard-categories.json) and,
when due, the style-controlled board (leaderboard-style.json; it reads the stored style
features battle by battle, so it runs every `style_every_s` seconds, not on every refresh).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from arena.jobs.db_ratings import (
    BASE_COLUMNS,
    DbSource,
    rate_database,
    rate_source,
    write_db_run,
)
from arena.jobs.speeds import SpeedTable
from arena.store import BattleLog
from arena.store.aggregate import Window, read_frame, speeds_query, vote_counts_query, watermark
from arena.store.engine import describe_url
from ratings.counted import COUNT
from ratings.errors import BattleDataError, ConstantStyleFeature, DisconnectedGraphError
from ratings.leaderboard import Leaderboard
from ratings.manifest import RatingRun
from ratings.options import STYLE_FEATURES, RatingOptions

log = logging.getLogger(__name__)

COUNT_COLUMNS = (*BASE_COLUMNS, "labels", "category")
FILTER_COLUMNS = tuple(c for c in COUNT_COLUMNS if c not in ("model_a", "model_b"))


@dataclass
class LiveCounts:
    """Aggregated votes below `below`, kept current by `update` (module docstring)."""

    withheld: frozenset[str] = frozenset()
    below: int | None = None
    rows: pd.DataFrame | None = None
    speeds: SpeedTable | None = None
    url: str = ""

    def update(self, battle_log: BattleLog) -> DbSource:
        """Add the votes committed since the last update; the source below the new mark."""
        self.url = describe_url(battle_log.url)
        with battle_log.connections.read() as connection:
            below = watermark(connection)
            if self.below is None or below != self.below:
                window = Window(below, self.below, self.withheld)
                rows = read_frame(connection, vote_counts_query(COUNT_COLUMNS, window))
                speeds = SpeedTable.from_frame(
                    read_frame(connection, speeds_query(FILTER_COLUMNS, window)))
                self._merge(rows, speeds)
                self.below = below
        return self.source()

    def _merge(self, rows: pd.DataFrame, speeds: SpeedTable) -> None:
        if self.rows is None or self.speeds is None:
            self.rows, self.speeds = rows, speeds
            return
        if len(rows):
            merged = pd.concat([self.rows, rows], ignore_index=True)
            self.rows = (merged.groupby(list(COUNT_COLUMNS), dropna=False, sort=True)[COUNT]
                         .sum().reset_index())
        self.speeds = self.speeds.extend(speeds)

    def source(self) -> DbSource:
        assert self.below is not None and self.rows is not None and self.speeds is not None
        return DbSource(self.url, Window(self.below, None, self.withheld), self.rows,
                        self.speeds)


@dataclass
class LiveBoards:
    """What one refresh published: the board in the cached shape, and the style board's
    parts (kept for the refreshes between two style fits)."""

    board: dict[str, Any] | None
    style: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)


def overall_options(common: dict[str, Any], robustness: bool = True) -> RatingOptions:
    """The overall board: Bradley–Terry, sandwich intervals, robustness when asked (its
    refits cost 11 s at 130 models: the job runs it with the style fit, not every time)."""
    return RatingOptions(ci="sandwich", robustness=robustness, **common)


def rate_overall(source: DbSource, common: dict[str, Any], folder: Path, table: str,
                 robustness: bool = True) -> tuple[Any, RatingOptions]:
    """The overall board (rated in pieces when the graph is), written with its manifest."""
    options = overall_options(common, robustness)
    try:
        run = rate_source(source, options, None)
    except DisconnectedGraphError:
        options = RatingOptions(ci="sandwich", robustness=robustness,
                                allow_disconnected=True, **common)
        run = rate_source(source, options, None)
    write_db_run(run, source, folder / table, portable=True)
    return run, options


def rate_categories(source: DbSource, common: dict[str, Any], min_votes: int,
                    output: Path) -> dict[str, Any] | None:
    """One board per label, written with its manifest; None when none can be rated."""
    options = RatingOptions(ci="sandwich", allow_disconnected=True, min_votes=min_votes,
                            **common)
    try:
        run = rate_source(source, options, "category")
    except BattleDataError as none:
        log.info("no category boards: %s", none)
        return None
    write_db_run(run, source, output, portable=True)
    return run


def rate_style(battle_log: BattleLog, below: int, withheld: Collection[str],
               common: dict[str, Any], output: Path) -> Any | None:
    """The style-controlled board below `below`, leaving out style features that do not vary
    (as the release path did); None when style control cannot be fitted."""
    features = list(STYLE_FEATURES)
    while features:
        options = RatingOptions(ci="sandwich", style=True, style_features=tuple(features),
                                **common)
        try:
            run, source = rate_database(battle_log, options, None, below=below,
                                        withheld=withheld)
        except ConstantStyleFeature as constant:
            features.remove(constant.feature)
            continue
        except BattleDataError as unfit:
            log.info("leaderboard without style control: %s", unfit)
            return None
        write_db_run(run, source, output, portable=True)
        return run
    return None


def live_board_dict(run: RatingRun, categories: RatingRun | None, style: dict[str, Any],
                    provisional_votes: int, category_min_votes: int) -> dict[str, Any]:
    """The cached board's shape (see `rate_snapshot`) from the live boards."""
    board = run.boards[None]
    data = board.to_dict()
    rows = data["leaderboard"] or []
    dropped = board.dropped
    entries = {} if categories is None else {
        str(label): category_entry(b, categories.options.min_votes)
        for label, b in categories.boards.items()}
    return {
        "computed_at": datetime.now(UTC).isoformat(),
        "votes": board.rows_used,
        "rows": [{key: row.get(key) for key in ROW_KEYS} for row in rows],
        "style_rows": style.get("style_rows"),
        "style_coefficients": style.get("style_coefficients"),
        "style_watermark": style.get("style_watermark"),
        "dropped": dropped,
        "robustness": data.get("robustness"),
        "sampling_correction": False,
        "sampling": None,
        "provisional_votes": provisional_votes,
        "category_min_votes": category_min_votes,
        "categories": entries,
        "left_out": {"named": dropped.get("mode_named", 0),
                     "flagged": dropped.get("flagged_battle", 0), "in_revote_pool": None},
    }


def style_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The style-controlled board's rows (None when the table has no style columns)."""
    if not rows or "style_rating" not in rows[0]:
        return None
    return [{"rank": row.get("style_rank"), "model": row["model"],
             "rating": row.get("style_rating"), "lower": row.get("style_lower"),
             "upper": row.get("style_upper"), "battles": row["battles"],
             "win_rate": row["win_rate"]} for row in rows]


def category_entry(board: Leaderboard, min_votes: int) -> dict[str, Any]:
    rows = board.to_dict()["leaderboard"] or []
    return {"votes": board.rows_used, "too_few": board.too_few, "min_votes": min_votes,
            "rows": [{key: row.get(key) for key in (*ROW_KEYS, "rank_change")}
                     for row in rows]}


# Every row of the cached board (overall and per category) has these keys.
ROW_KEYS = ("rank", "rank_ub", "model", "rating", "lower", "upper", "battles", "win_rate",
            "votes", "tie_share", "bothbad_share", "median_ttft_s", "tokens_per_s",
            "provisional", "state")
