"""Battles from counted rows: a table aggregated elsewhere (a database's GROUP BY) becomes the
battles frame every rating function takes, without the log ever being read row by row.

`expand_counts` turns rows with a `count` column (how many battles share the row's values)
into one row per battle with the same values: columns of strings become Categoricals over the
aggregated rows' few distinct values (the selection rules and the aggregation compare integer
codes, never millions of strings), number columns become float arrays (None -> NaN, as a file
reader gives), and columns of tuples (set-valued categories) stay tuples. The result rates to
exactly the board its battles would give read from a file: every fit aggregates the battles
into counts again, and the counts do not depend on the order of the rows. Fits that depend on
the order (the z-scores of style control, summed in battle order) need rows of count 1 in the
file's order, which the caller provides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COUNT = "count"


def expand_counts(rows: pd.DataFrame, count: str = COUNT) -> pd.DataFrame:
    """One row per battle: row i of `rows` repeated rows[count][i] times, in order, without
    the `count` column; `source_row` numbers the battles from 0."""
    counts = rows[count].to_numpy(dtype=np.int64)
    if (counts < 0).any():
        raise ValueError("counts must be >= 0")
    index = np.repeat(np.arange(len(rows)), counts)
    out: dict[str, object] = {}
    for name in rows.columns:
        if name == count:
            continue
        out[name] = _repeat_column(rows[name], index)
    frame = pd.DataFrame(out)
    frame["source_row"] = np.arange(len(frame))
    frame.attrs["row_kind"] = "index"
    return frame


def _repeat_column(column: pd.Series, index: np.ndarray) -> object:
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
            column.dtype):  # numbers already (NaN for None): no need to look at each value
        return column.to_numpy(dtype=float, na_value=np.nan)[index]
    kind = pd.api.types.infer_dtype(column, skipna=True)  # in C: most columns stop here
    if kind in ("string", "empty"):
        return _categorical(column, index)
    values = column.tolist()
    if all(v is None or isinstance(v, (int, float, np.integer, np.floating))
           and not isinstance(v, bool) for v in values) and any(v is not None for v in values):
        return column.to_numpy(dtype=float, na_value=np.nan)[index]
    if any(isinstance(v, tuple) for v in values):
        holder = np.empty(len(values), dtype=object)  # element by element: tuples stay tuples
        for position, value in enumerate(values):
            holder[position] = value
        return holder[index]
    return _categorical(column, index)


def _categorical(column: pd.Series, index: np.ndarray) -> pd.Categorical:
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return pd.Categorical.from_codes(codes[index], categories=pd.Index(uniques, dtype=object))
