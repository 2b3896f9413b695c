"""Readers that turn vote logs into one normalised battles DataFrame.

Accepted inputs (chosen by file extension, see `read_battles`):

- Parquet (our export): flat columns `model_a, model_b, winner` plus optional `judge, tstamp,
  mode, status, flags, conversation_a, conversation_b` (JSON text), `tokens_a, tokens_b`,
  precomputed style-feature columns, and on judge verdicts `judge_model, judge_order,
  judge_template_hash`.
- JSONL (our export): one `arena.record.BattleRecord.to_dict()` per line.
- JSON (FastChat `clean_battle`): a list of objects with `model_a, model_b, winner, judge,
  conversation_a, conversation_b, turn, anony, language, tstamp`.
- CSV: `model_a, model_b, winner` and any optional columns.

The normalised frame always has `model_a`, `model_b`, `winner` and `source_row` (the line
number for line-based files, the 0-based index otherwise; `frame.attrs["row_kind"]` says which),
and, when the input carries them, `judge` (rater id), `tstamp` (seconds since the Unix epoch),
`mode`, `status`, `flags` (comma-joined string, empty when none), `conversation_a/_b`,
`tokens_a/_b`, a set-valued `category` (labels ∪ the rater's category, `ratings.categories`;
the rater's own in `rater_category`), per-generation timings `ttft_s_a/_b` and
`tokens_per_s_a/_b` (tuples, one value per turn, `ratings.timings`) and every other column
unchanged (our exports' `battle_id`, `replay_of`,
`side_seed` and `pair_policy` included, which the judge comparison in `ratings.agreement`
needs; FastChat's `question_id` is also copied to `battle_id`). A judge verdict of our JSONL
export (mode "judge", `arena judge`) carries its judge as flat columns `judge_model`,
`judge_template`, `judge_template_hash`, `judge_order` ("original" or "swapped") and
`judge_panel` (null unless a panel's combined verdict); the record's `judge` object never
lands in `judge`, which stays the rater (FastChat's meaning; "judge:<model>" for a verdict).
Records whose `judge` is null (human votes) get them null. Nothing is validated or
dropped here; that is `ratings.prepare.select_battles`' job, so the manifest can count every
drop.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ratings.categories import with_category_sets
from ratings.errors import BattleDataError
from ratings.timings import side_timings

REQUIRED_COLUMNS = ("model_a", "model_b", "winner")
FORMATS = ("parquet", "jsonl", "json", "csv")


def detect_format(path: Path) -> str:
    """The input format implied by the file name: parquet, jsonl, json (FastChat) or csv."""
    name = path.name.lower()
    for suffix, fmt in (
        (".parquet", "parquet"),
        (".pq", "parquet"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "json"),
        (".csv", "csv"),
    ):
        if name.endswith(suffix):
            return fmt
    raise BattleDataError(
        f"{path}: cannot tell the format from the file name; use one of .parquet, .jsonl, "
        ".json (FastChat clean_battle) or .csv, or pass --format (format=... in Python)"
    )


def read_battles(
    path: str | Path, format: str | None = None, columns: list[str] | None = None
) -> pd.DataFrame:
    """Read a vote log into the normalised battles DataFrame (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The file to read.
    format : {"parquet", "jsonl", "json", "csv"}, optional
        Overrides detection by extension.
    columns : list of str, optional
        Parquet only: read just these columns (plus the required ones); saves time on wide
        logs when conversations are not needed.

    Raises
    ------
    BattleDataError
        The file is missing, unparsable, empty, or lacks `model_a`, `model_b` or `winner`.
    """
    path = Path(path)
    if not path.exists():
        raise BattleDataError(f"{path}: file not found")
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise BattleDataError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        frame = _read_parquet(path, columns)
    else:
        frame = {"jsonl": _read_jsonl, "json": _read_fastchat, "csv": _read_csv}[fmt](path)
    if len(frame) == 0:
        raise BattleDataError(f"{path}: the input holds no rows; there is nothing to rate")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise BattleDataError(
            f"{path}: missing column(s) {', '.join(missing)}; a battles table needs "
            f"{', '.join(REQUIRED_COLUMNS)}"
        )
    return normalise_frame(frame)


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Bring a battles DataFrame built elsewhere (e.g. by the battle service) into the
    normalised shape: `source_row`, `tstamp` as epoch seconds, `flags` as a joined string,
    `judge` from `rater_hash` when only that is present."""
    frame = frame.copy() if "source_row" in frame.columns else frame
    if "source_row" not in frame.columns:
        frame = frame.assign(source_row=np.arange(len(frame)))
        frame.attrs.setdefault("row_kind", "index")
    if "judge" not in frame.columns and "rater_hash" in frame.columns:
        frame["judge"] = frame["rater_hash"]
    if "tstamp" in frame.columns:
        frame["tstamp"] = _epoch_seconds(frame["tstamp"])
    if "flags" in frame.columns:
        frame["flags"] = frame["flags"].map(_join_flags).astype(object)
    return with_category_sets(frame)


def _join_flags(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return ",".join(str(v) for v in json.loads(text))
            except json.JSONDecodeError:
                return text
        return text
    return ",".join(str(v) for v in value)


def _epoch_seconds(column: pd.Series) -> pd.Series:
    """Timestamps as float seconds since the epoch (numbers pass through, datetimes and ISO
    strings are converted); missing stays NaN."""
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(float)
    if pd.api.types.is_datetime64_any_dtype(column):
        stamps = column
    else:
        stamps = pd.to_datetime(column, utc=True, format="ISO8601")
    if getattr(stamps.dt, "tz", None) is None:
        stamps = stamps.dt.tz_localize("UTC")
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.astype(float)


def _read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        if columns is not None:
            wanted = set(columns) | set(REQUIRED_COLUMNS)
            columns = [c for c in schema.names if c in wanted]
        # Dictionary-encoded model names become pandas Categoricals without materialising
        # millions of Python strings; aggregation works on the integer codes.
        dictionary = [c for c in ("model_a", "model_b", "winner", "mode", "status")
                      if c in schema.names]
        dictionary = [c for c in dictionary if columns is None or c in columns]
        table = pq.read_table(path, columns=columns, read_dictionary=dictionary)
    except Exception as bad:  # pyarrow raises several unrelated types for corrupt files
        raise BattleDataError(f"{path}: not a readable Parquet file: {bad}") from None
    frame = table.to_pandas()
    frame.attrs["row_kind"] = "index"
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={"model_a": str, "model_b": str, "winner": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as bad:
        raise BattleDataError(f"{path}: not a readable CSV file: {bad}") from None
    frame["source_row"] = np.arange(len(frame)) + 2  # line numbers; line 1 is the header
    frame.attrs["row_kind"] = "line"
    return frame


def _read_fastchat(path: Path) -> pd.DataFrame:
    text = path.read_text(encoding="utf-8")
    if text.lstrip()[:1] != "[":
        return _read_jsonl(path)
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as bad:
        raise BattleDataError(f"{path}: not valid JSON: {bad}") from None
    if not all(isinstance(r, dict) for r in rows):
        raise BattleDataError(f"{path}: expected a JSON list of battle objects")
    frame = pd.DataFrame(rows)
    if "question_id" in frame.columns and "battle_id" not in frame.columns:
        frame["battle_id"] = frame["question_id"]  # so judge comparisons can match battles
    if "anony" in frame.columns and "mode" not in frame.columns:
        frame["mode"] = np.where(frame["anony"].astype(bool), "anonymous", "named")
    frame["source_row"] = np.arange(len(frame))
    frame.attrs["row_kind"] = "index"
    return frame


def _tokens(turns: list[dict] | None, side: str) -> float:
    """Completion tokens of one side summed over turns; NaN when any turn lacks the count."""
    if not turns:
        return float("nan")
    total = 0
    for turn in turns:
        count = (turn.get(f"generation_{side}") or {}).get("completion_tokens")
        if count is None:
            return float("nan")
        total += int(count)
    return float(total)


JUDGE_FIELDS = ("model", "template", "template_hash", "order", "panel")


def _flatten_judge(record: dict[str, Any]) -> None:
    """Our export's `judge` object (None on human votes) -> `judge_<field>` columns, so that
    `judge` is left to mean the rater. A string `judge` (a flat file's rater id) stays."""
    if "judge" not in record or isinstance(record["judge"], str):
        return
    verdict = record.pop("judge") or {}
    if not isinstance(verdict, dict):
        return
    for name in JUDGE_FIELDS:
        record[f"judge_{name}"] = verdict.get(name)


def _read_jsonl(path: Path) -> pd.DataFrame:
    """Our JSONL export (one BattleRecord.to_dict() per line); plain flat JSON lines work too."""
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as bad:
                raise BattleDataError(f"{path}: line {number} is not valid JSON: {bad}") from None
            if not isinstance(record, dict):
                raise BattleDataError(f"{path}: line {number} is not a JSON object")
            _flatten_judge(record)
            turns = record.pop("turns", None)
            if turns is not None:
                record["tokens_a"] = _tokens(turns, "a")
                record["tokens_b"] = _tokens(turns, "b")
                record.setdefault("turn", len(turns))
            for side in ("a", "b"):
                timings = side_timings(turns, record.pop(f"timings_{side}", None), side)
                if timings is not None:
                    record[f"ttft_s_{side}"], record[f"tokens_per_s_{side}"] = timings
            if "judge" not in record and "rater_hash" in record:
                record["judge"] = record["rater_hash"]
            if "tstamp" not in record:
                stamp = record.get("voted_at") or record.get("ended_at")
                record["tstamp"] = (
                    datetime.fromisoformat(stamp).timestamp() if isinstance(stamp, str) else None
                )
            record["source_row"] = number
            rows.append(record)
    frame = pd.DataFrame(rows)
    frame.attrs["row_kind"] = "line"
    return frame
