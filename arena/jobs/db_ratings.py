"""Ratings straight from the SQL log: counts aggregated in the database, no export.

`rate_database` asks the database (arena.store.aggregate) for the voted battles below a
watermark, grouped by what the options need: model pair, winner, mode and flags always; the
`--where`/`--by` columns (category: the labels and the rater's category); with style control
the stored style features battle by battle, in export order, because the z-scores sum in that
order. The aggregated rows become a battles frame (`ratings.counted.expand_counts`) that
`ratings` rates exactly as it rates our JSONL export of the same log, and the speed columns
(median time to first token, tokens per second) are the medians of the stored speeds of the
generations of the battles each board uses (arena.jobs.speeds): computed by the database for
one board, from every generation's speed read into Python for `--by`. The board is
byte-identical to `arena ratings EXPORT.jsonl` with the same options
(tests/test_ratings_sql.py).

Options the database cannot answer fall back to the export path, with the reason
(`sql_unsupported`): online Elo (order of the votes), the rater test and vote filters (each
rater's votes, times and prompts), sampling correction (weights normalised over the battles),
judge boards (the judge's name), and `--where`/`--by` on a column the SQL path does not read.

The manifest (`write_db_run`) records the database (password hidden), the watermark, a digest
of the aggregated rows and every option; `rerun_db_manifest` reads the same votes (below the
watermark: later votes never change them) and says whether the table came out byte-identical.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from arena.jobs.speeds import MEDIAN_COLUMNS, SpeedTable, SqlMedians, kept_combinations
from arena.store import BattleLog
from arena.store.aggregate import (
    COLUMNS,
    Window,
    battle_rows_query,
    read_frame,
    speed_medians_query,
    speeds_query,
    vote_counts_query,
    watermark,
)
from arena.store.derived import STYLE_COLUMNS
from arena.store.engine import describe_url
from ratings.categories import with_category_sets
from ratings.counted import COUNT, expand_counts
from ratings.errors import BattleDataError
from ratings.io import normalise_frame
from ratings.leaderboard import Leaderboard, compute_leaderboard
from ratings.manifest import (
    RatingRun,
    file_sha256,
    rate_frame,
    with_rank_change,
    write_with_manifest,
)
from ratings.options import RatingOptions
from ratings.prepare import select_battles

BASE_COLUMNS = ("model_a", "model_b", "winner", "mode", "flags")
# Kept (or dropped) combinations of the filter columns sent to the database as one IN list
# (SQLite allows 32,766 parameters in a statement); past that, every generation is read.
MAX_LISTED_VALUES = 20_000


class NotInSql(BattleDataError):
    """These options need the battles one by one: rate an export instead (the reason says
    why)."""


def sql_unsupported(options: RatingOptions, by: str | None) -> str | None:
    """Why the SQL path cannot rate with these options (None: it can)."""
    if options.method == "elo":
        return "online Elo depends on the order of the votes"
    if options.raters or options.exclude_flagged:
        return "the rater test needs every rater's votes"
    if options.max_votes_per_rater_per_day is not None or options.dedupe_prompts:
        return "vote filters need each rater's votes, times and prompts"
    if options.sampling_correction:
        return "sampling correction normalises weights over the battles one by one"
    if options.judge is not None:
        return "judge boards need the judge's name of every verdict"
    for column in [c for c, _ in options.where] + ([by] if by else []):
        if column != "category" and column not in COLUMNS:
            return f"--where/--by {column}: not a column the SQL path reads"
    return None


def needed_columns(options: RatingOptions, by: str | None) -> list[str]:
    """The columns to group by: the base ones, the filter columns, the style features."""
    columns = list(BASE_COLUMNS)
    for column in [c for c, _ in options.where] + ([by] if by else []):
        extra = ("labels", "category") if column == "category" else (column,)
        columns += [c for c in extra if c not in columns]
    if options.style:
        columns += [c for c in STYLE_COLUMNS if c not in columns]
    return columns


@dataclass
class DbSource:
    """What a rating read from the database: the aggregated rows, the generations' speeds
    (every one, or the medians of the one board asked for) and the window they cover."""

    url: str  # password hidden
    window: Window
    rows: pd.DataFrame
    speeds: SpeedTable | SqlMedians

    @property
    def digest(self) -> str:
        """SHA-256 of the aggregated rows, whatever their order and however they were read
        (at once, or window by window): the sorted 64-bit hashes of the rows, numbers as
        floats and everything else as text, with the column names."""
        canonical = pd.DataFrame({
            name: (pd.to_numeric(column, errors="coerce").astype(float)
                   if name in STYLE_COLUMNS or name == COUNT else column.astype(str))
            for name, column in self.rows.items()})
        hashes = np.sort(pd.util.hash_pandas_object(canonical, index=False).to_numpy())
        digest = hashlib.sha256(json.dumps(list(map(str, self.rows.columns))).encode())
        digest.update(hashes.tobytes())
        return digest.hexdigest()


def read_source(log: BattleLog, options: RatingOptions, by: str | None,
                below: int | None = None, withheld: Collection[str] = ()) -> DbSource:
    """The aggregated votes below `below` (default: the current watermark), except the
    `withheld` battles and their re-votes, in one read transaction (SQLite: one snapshot;
    PostgreSQL: every vote below it has committed). One board (no `by`): its speed medians
    computed in the database; otherwise every generation's speed."""
    columns = needed_columns(options, by)
    filters = [c for c in columns if c not in STYLE_COLUMNS and c not in ("model_a", "model_b")]
    with log.connections.read() as connection:
        window = Window(watermark(connection) if below is None else below, None,
                        frozenset(withheld))
        query = battle_rows_query if options.style else vote_counts_query
        rows = read_frame(connection, query(columns, window))
        speeds = None
        if by is None:
            speeds = read_medians(connection, rows[filters], window, options)
        if speeds is None:
            speeds = SpeedTable.from_frame(read_frame(connection, speeds_query(filters, window)))
    return DbSource(describe_url(log.url), window, rows, speeds)


def read_medians(connection: Connection, filter_rows: pd.DataFrame, window: Window,
                 options: RatingOptions) -> SqlMedians | None:
    """The speed medians of the board with `options`, computed in the database over the
    generations of the battles it keeps: those whose filter columns are one of the kept
    combinations of `filter_rows`' values (or are none of the dropped ones, whichever list is
    shorter). None when that list is too long for one statement's parameters."""
    combinations = filter_rows.drop_duplicates().reset_index(drop=True)
    kept = kept_combinations(combinations, options)
    listed, exclude = (combinations[~kept], True) if (~kept).sum() <= kept.sum() else (
        combinations[kept], False)
    if listed.size > MAX_LISTED_VALUES:
        return None
    values = None if exclude and len(listed) == 0 else [
        tuple(None if pd.isna(v) else str(v) for v in row)
        for row in listed.itertuples(index=False, name=None)]
    table = {}
    for column, source in MEDIAN_COLUMNS.items():
        if values == [] and not exclude:
            middle = pd.DataFrame({"model": [], "value": []})
        else:
            middle = read_frame(connection, speed_medians_query(
                source, window, list(filter_rows.columns), values, exclude))
        table[column] = middle.astype({"value": float}).groupby("model")["value"].median()
    return SqlMedians(options, pd.DataFrame(table).rename_axis("model"))


def battles_frame(rows: pd.DataFrame, options: RatingOptions) -> pd.DataFrame:
    """The battles frame of aggregated rows, as `ratings.io` reads our JSONL export."""
    if len(rows) == 0:
        raise BattleDataError("the database holds no voted battles below the watermark; "
                              "there is nothing to rate")
    rows = rows.assign(status="voted")
    if "labels" in rows.columns or "category" in rows.columns:
        rows = with_category_sets(rows.copy())
    if options.style:
        rows = _tokens_or_words(rows, options)
    return expand_counts(rows, COUNT)


def _tokens_or_words(rows: pd.DataFrame, options: RatingOptions) -> pd.DataFrame:
    """`ratings.style` uses completion tokens when every battle it rates has them, and words
    otherwise: decide on the battles the board uses, as it does."""
    words = {f"words_{side}" for side in ("a", "b")}
    tokens = rows[["tokens_a", "tokens_b"]]
    if tokens.notna().all().all():
        return rows.drop(columns=list(words))
    probe = expand_counts(rows.assign(**{c: 0 for c in ("tokens_a", "tokens_b")}), COUNT)
    used = select_battles(normalise_frame(probe), options).battles.index
    if tokens.iloc[np.asarray(used)].notna().all().all():
        return rows.drop(columns=list(words))
    return rows.assign(tokens_a=rows["words_a"], tokens_b=rows["words_b"]).drop(
        columns=list(words))


def rate_source(source: DbSource, options: RatingOptions, by: str | None) -> RatingRun:
    """The boards of `source`, as `ratings.manifest.rate_file` rates an export."""
    if by is not None and options.style and source.rows[["tokens_a", "tokens_b"]].isna().any(
            axis=None):
        raise NotInSql("style control with --by on battles lacking completion tokens")
    frame = battles_frame(source.rows, options)
    boards = rate_frame(frame, options, by)
    overall = None
    if by is not None:
        overall = compute_leaderboard(frame, options)
        with_rank_change(boards, overall)
    for key, board in boards.items():
        scoped = options if key is None else RatingOptions.from_dict(
            {**options.to_dict(), "where": [*map(list, options.where), [by, key]]})
        set_speeds(board, source.speeds, scoped)
    if overall is not None:
        set_speeds(overall, source.speeds, options)
    return RatingRun(Path(source.url), source.digest, "database", options, by, boards,
                     len(frame), overall)


def set_speeds(board: Leaderboard, speeds: SpeedTable | SqlMedians,
               options: RatingOptions) -> None:
    """Fill the board's median_ttft_s and tokens_per_s from the generations of the battles
    its selection keeps (arena.jobs.speeds)."""
    if board.table.empty:
        return
    medians = speeds.medians(options)
    models = board.table["model"].astype(str)
    for column in MEDIAN_COLUMNS:
        board.table[column] = medians[column].reindex(models).to_numpy(dtype=float)


def rate_database(log: BattleLog, options: RatingOptions, by: str | None = None,
                  below: int | None = None, withheld: Collection[str] = ()
                  ) -> tuple[RatingRun, DbSource]:
    """Rate the log's voted battles below `below` (default: all visible now) but the
    `withheld` ones; raises NotInSql when the options need the export path."""
    reason = sql_unsupported(options, by)
    if reason is not None:
        raise NotInSql(reason)
    source = read_source(log, options, by, below, withheld)
    return rate_source(source, options, by), source


def write_db_run(run: RatingRun, source: DbSource, output: Path, *,
                 portable: bool = False) -> Path:
    """Write the table to `output` and its manifest beside it; returns the manifest path.

    `portable` (the live board's public snapshots): the output's path relative to the
    manifest and no database URL (re-run it with --db or --config); a withheld re-voting
    pool is recorded by its size and digest, never its battle ids."""
    database = {"database": None if portable else source.url,
                "watermark": source.window.below, "aggregate_sha256": source.digest,
                "aggregated_rows": len(source.rows), "format": "database",
                "withheld": _withheld_summary(source.window.withheld)}
    return write_with_manifest(run, output, database,
                               output.name if portable else str(output.resolve()))


def _withheld_summary(withheld: frozenset[str]) -> dict[str, Any] | None:
    if not withheld:
        return None
    digest = hashlib.sha256("\n".join(sorted(withheld)).encode("utf-8")).hexdigest()
    return {"battles": len(withheld), "sha256": digest}


def is_db_manifest(data: dict[str, Any]) -> bool:
    return isinstance(data.get("input"), dict) and "database" in data["input"]


@dataclass
class DbReproduction:
    run: RatingRun
    output: Path
    manifest: Path
    expected_sha256: str
    actual_sha256: str
    same_votes: bool

    @property
    def identical(self) -> bool:
        return self.expected_sha256 == self.actual_sha256


def rerun_db_manifest(path: Path, data: dict[str, Any], url: str | None,
                      output: Path | None = None) -> DbReproduction:
    """Re-derive a database manifest's table from the log at `url` (default: the recorded
    database, which names no password), reading only the votes below its watermark."""
    recorded = data["input"]
    if recorded.get("withheld"):
        raise NotInSql(f"{path} left out a re-voting pool of {recorded['withheld']['battles']} "
                       "battles, whose ids it does not record: it cannot be re-derived")
    if not (url or recorded.get("database")):
        raise NotInSql(f"{path} does not name its database: give --db or --config")
    options = RatingOptions.from_dict(data["options"])
    by = data.get("by")
    with BattleLog(url or recorded["database"]) as log:
        run, source = rate_database(log, options, by, below=int(recorded["watermark"]))
    same_votes = source.digest == recorded.get("aggregate_sha256")
    recorded_output = Path(data["output"]["path"])
    if not recorded_output.is_absolute():
        recorded_output = path.resolve().parent / recorded_output
    target = output or recorded_output.with_name(
        f"{recorded_output.stem}.rerun{recorded_output.suffix}")
    new_manifest = write_db_run(run, source, target)
    return DbReproduction(run, target, new_manifest, data["output"]["sha256"],
                          file_sha256(target), same_votes)
