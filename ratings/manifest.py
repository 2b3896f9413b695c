"""Reproducible runs: rate a file, write the table and a manifest, re-run from a manifest.

The manifest (`FILE.manifest.json` beside the output `FILE`) records the input's path and
SHA-256, rows read and used with the count dropped per reason, the vote filters with the
votes each removed, every option (seed included), the grouping column, package versions and
the output's SHA-256. `rerun_manifest` checks the input's SHA-256 first, recomputes with the
recorded options and reports whether the new table is byte-identical to the recorded one.
Every computation is deterministic given the options (bootstrap draws depend only on the seed
and the number of rounds; the robustness search has no randomness), so it is. Paths are
absolute, or (a portable manifest, as the live leaderboard's snapshots write) relative to the
manifest's folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ratings.categories import is_set_valued, lacks, members, rank_change
from ratings.errors import BattleDataError
from ratings.io import normalise_frame, read_battles
from ratings.leaderboard import Leaderboard, compute_leaderboard
from ratings.options import RatingOptions
from ratings.report import write_output
from ratings.screening import DUPLICATE_PROMPT, RATER_DAILY_CAP

MANIFEST_VERSION = 1


class ManifestError(ValueError):
    """The manifest cannot be used: unreadable, or its input file changed."""


@dataclass
class RatingRun:
    """A rated file: its boards (one, or one per `by` group) and, with `by`, the `overall`
    board the groups' `rank_change` is counted against."""

    input_path: Path
    input_sha256: str
    input_format: str | None
    options: RatingOptions
    by: str | None
    boards: dict[str | None, Leaderboard]
    rows_read: int
    overall: Leaderboard | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_path(output: Path) -> Path:
    return output.with_name(output.name + ".manifest.json")


def rate_frame(frame: pd.DataFrame, options: RatingOptions, by: str | None
               ) -> dict[str | None, Leaderboard]:
    """One leaderboard, or one per value of column `by` (values compared as strings; on a
    set-valued column such as `category`, one per label, each holding the battles whose set
    holds it)."""
    if by is None:
        return {None: compute_leaderboard(frame, options)}
    frame = normalise_frame(frame)
    if by not in frame.columns:
        raise BattleDataError(f"--by {by}: no column {by!r}; columns are "
                              f"{', '.join(map(str, frame.columns))}")
    boards: dict[str | None, Leaderboard] = {}
    for value in group_values(frame, options, by):
        scoped = RatingOptions.from_dict(
            {**options.to_dict(), "where": [*map(list, options.where), [by, value]]})
        try:
            boards[value] = compute_leaderboard(frame, scoped)
        except BattleDataError as bad:
            raise BattleDataError(f"--by {by}, group {value!r}: {bad}") from None
    return boards


def group_values(frame: pd.DataFrame, options: RatingOptions, by: str) -> list[str]:
    """The groups of `--by`: the values (labels, for a set-valued column) of the rows the
    `--where` filters keep, sorted."""
    scope = np.ones(len(frame), dtype=bool)
    for column, value in options.where:
        if column in frame.columns:
            target = frame[column]
            scope &= ~lacks(target, value) if is_set_valued(target) else (
                target.astype(str) == value).to_numpy()
    column = frame.loc[scope, by]
    values = members(column) if is_set_valued(frame[by]) else sorted(
        column.dropna().astype(str).unique())
    if not values:
        raise BattleDataError(f"--by {by}: no rows have a value in column {by!r} "
                              "(after the --where filters)")
    return values


def with_rank_change(boards: dict[str | None, Leaderboard], overall: Leaderboard) -> None:
    """Give every ranked group board a `rank_change` column against `overall`
    (`ratings.categories.rank_change`; positive = better in the group)."""
    for board in boards.values():
        if board.too_few or overall.too_few or board.table.empty:
            continue
        change = rank_change(board.table, overall.table)
        at = list(board.table.columns).index("rank_ub") + 1
        board.table.insert(at, "rank_change", change.astype(np.int64)
                           if np.isfinite(change).all() else change)


def rate_file(path: str | Path, options: RatingOptions | None = None, by: str | None = None,
              input_format: str | None = None) -> RatingRun:
    """Read `path`, compute the leaderboard(s), remember what the manifest needs."""
    path = Path(path)
    options = options or RatingOptions()
    frame = read_battles(path, input_format)
    return rate_read_frame(path, frame, options, by, input_format)


def rate_read_frame(path: Path, frame: pd.DataFrame, options: RatingOptions, by: str | None,
                    input_format: str | None = None) -> RatingRun:
    """`rate_file` on a frame already read from `path` (the job rates one release twice)."""
    boards = rate_frame(frame, options, by)
    overall = None
    if by is not None:
        overall = compute_leaderboard(frame, options)
        with_rank_change(boards, overall)
    return RatingRun(path, file_sha256(path), input_format, options, by, boards, len(frame),
                     overall)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("arena", "numpy", "scipy", "pandas", "pyarrow", "matplotlib"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_run(run: RatingRun, output: Path, *, portable: bool = False) -> Path:
    """Write the table to `output` and its manifest beside it; returns the manifest path.

    `portable=True` records the input's and the output's paths relative to the manifest's
    folder (no absolute path of this machine), so the folder can be published, downloaded
    and re-run anywhere; `rerun_manifest` reads relative paths against the manifest's folder.
    """
    input_path, output_path = str(run.input_path.resolve()), str(output.resolve())
    if portable:
        folder = output.resolve().parent
        input_path = os.path.relpath(run.input_path.resolve(), folder)
        output_path = output.name
    source = {"path": input_path, "sha256": run.input_sha256, "format": run.input_format,
              "bytes": run.input_path.stat().st_size}
    return write_with_manifest(run, output, source, output_path)


def write_with_manifest(run: RatingRun, output: Path, source: dict[str, Any],
                        output_path: str) -> Path:
    """Write the table to `output` and `FILE.manifest.json` beside it, the manifest's
    `input` being `source` (a file's path and hash, or a database's watermark) and its
    output recorded under `output_path`; returns the manifest path."""
    write_output(run.boards, run.by, output, run.overall)
    groups = {
        str(key): {"rows_used": b.rows_used, "dropped": b.dropped,
                   **({"too_few": b.too_few} if run.options.min_votes else {})}
        for key, b in run.boards.items()
    }
    first = next(iter(run.boards.values()))
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "input": source,
        "output": {"path": output_path, "sha256": file_sha256(output)},
        "rows_read": run.rows_read,
        "rows_used": first.rows_used if run.by is None else None,
        "dropped": first.dropped if run.by is None else None,
        "groups": groups if run.by is not None else None,
        "by": run.by,
        "seed": run.options.seed,
        "vote_filters": vote_filter_summary(run),
        "options": run.options.to_dict(),
        "versions": package_versions(),
    }
    target = manifest_path(output)
    target.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return target


def vote_filter_summary(run: RatingRun) -> dict[str, Any]:
    """The vote filters of the run and the votes each removed (summed over --by groups; each
    group's own counts are in its `dropped`)."""
    removed = {reason: sum(b.dropped.get(reason, 0) for b in run.boards.values())
               for reason in (DUPLICATE_PROMPT, RATER_DAILY_CAP)}
    return {"max_votes_per_rater_per_day": run.options.max_votes_per_rater_per_day,
            "dedupe_prompts": run.options.dedupe_prompts, "removed": removed}


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except json.JSONDecodeError as bad:
        raise ManifestError(f"{path}: not valid JSON: {bad}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: not a manifest (expected a JSON object)")
    if data.get("manifest_version") != MANIFEST_VERSION:
        raise ManifestError(f"{path}: unsupported manifest_version "
                            f"{data.get('manifest_version')!r}")
    missing = [".".join(key) for key in _REQUIRED_KEYS if not _has_key(data, key)]
    if missing:
        raise ManifestError(f"{path}: manifest lacks {', '.join(missing)}; write a new one "
                            "with `arena ratings INPUT --out FILE`")
    return data


# What a re-run reads; a manifest without one of them cannot be reproduced.
_REQUIRED_KEYS = (("input", "path"), ("input", "sha256"), ("output", "path"),
                  ("output", "sha256"), ("options",))


def _has_key(data: dict[str, Any], key: tuple[str, ...]) -> bool:
    for part in key:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return isinstance(data, dict) if key == ("options",) else isinstance(data, str)


@dataclass
class Reproduction:
    run: RatingRun
    output: Path
    manifest: Path
    expected_sha256: str
    actual_sha256: str

    @property
    def identical(self) -> bool:
        return self.expected_sha256 == self.actual_sha256


def rerun_manifest(path: str | Path, input_path: str | Path | None = None,
                   output: str | Path | None = None) -> Reproduction:
    """Re-run the computation a manifest describes and compare the output's SHA-256.

    The input (the recorded path, or `input_path`) must have the recorded SHA-256; otherwise
    ManifestError says so before anything is computed. The output goes to `output`, or beside
    the recorded output as `NAME.rerun.SUFFIX` (the original is never overwritten).
    """
    data = read_manifest(Path(path))
    # Relative paths (a portable manifest) are read against the manifest's folder.
    folder = Path(path).resolve().parent
    source = Path(input_path) if input_path else folder / data["input"]["path"]
    if not source.exists():
        raise ManifestError(f"input {source} of manifest {path} not found; pass its new "
                            "location as INPUT (`arena ratings NEW_PATH --from-manifest "
                            "MANIFEST`)")
    actual = file_sha256(source)
    if actual != data["input"]["sha256"]:
        raise ManifestError(
            f"input {source} has SHA-256 {actual}, but manifest {path} was made from "
            f"{data['input']['sha256']}: the file changed, so the table cannot be reproduced")
    options = RatingOptions.from_dict(data["options"])
    run = rate_file(source, options, data.get("by"), data["input"].get("format"))
    recorded = folder / data["output"]["path"]
    target = Path(output) if output else recorded.with_name(
        f"{recorded.stem}.rerun{recorded.suffix}")
    new_manifest = write_run(run, target)
    return Reproduction(run, target, new_manifest, data["output"]["sha256"],
                        file_sha256(target))
