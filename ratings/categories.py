"""Set-valued categories: each battle belongs to every label it carries.

A battle's `category` in the ratings frame is the sorted tuple of its labels
(`arena.labels`' vocabulary: `code`, `math`, `lang:fr`, `hard_prompt`...) together with the
category the rater chose, if any: labels ∪ {rater category}. A battle about French code is in
the `code` board and in the `lang:fr` board. Older logs without labels give the rater's
category alone (or nothing). The rater's own value stays in `rater_category`.

`--where category=code` keeps the battles whose set holds `code`; `--by category` rates one
board per label (`ratings.manifest.rate_frame`), each against the overall board
(`rank_change`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

CATEGORY = "category"
LABELS = "labels"
RATER_CATEGORY = "rater_category"


def label_set(value: Any) -> tuple[str, ...]:
    """Labels as a sorted tuple from a list, array, JSON list text or comma-separated text;
    None or NaN gives ()."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = text.strip("[]").split(",")
        else:
            value = text.split(",")
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
        return tuple(sorted({str(v).strip() for v in value if str(v).strip()}))
    return (str(value),)


def is_set_valued(column: pd.Series) -> bool:
    """True for a column of tuples (what `category_sets` makes)."""
    if column.dtype != object or len(column) == 0:
        return False
    return isinstance(column.iloc[0], tuple)


def category_sets(frame: pd.DataFrame) -> pd.Series:
    """Each row's labels ∪ {rater category}, as sorted tuples (see the module docstring)."""
    n = len(frame)
    labels: Iterable[Any] = frame[LABELS].tolist() if LABELS in frame.columns else [None] * n
    chosen: Iterable[Any] = (frame[CATEGORY].tolist() if CATEGORY in frame.columns
                             else [None] * n)
    cache: dict[tuple[str, str], tuple[str, ...]] = {}
    parsed: dict[str, tuple[str, ...]] = {}  # label texts (JSON from SQL) repeat: parse once
    sets = []
    for raw, own in zip(labels, chosen, strict=True):
        if isinstance(raw, str):
            members = parsed.get(raw)
            if members is None:
                members = parsed[raw] = label_set(raw)
        else:
            members = label_set(raw)
        own_text = "" if own is None or (isinstance(own, float) and np.isnan(own)) else str(own)
        key = (members, own_text)
        if key not in cache:  # few distinct sets: the union is computed once per set
            cache[key] = tuple(sorted(set(members) | ({own_text} if own_text else set())))
        sets.append(cache[key])
    return pd.Series(sets, index=frame.index, dtype=object)


def with_category_sets(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a set-valued `category` (and the rater's own in `rater_category`);
    unchanged when it has neither labels nor a category, or already has sets."""
    if LABELS not in frame.columns and CATEGORY not in frame.columns:
        return frame
    if CATEGORY in frame.columns and is_set_valued(frame[CATEGORY]):
        return frame
    if CATEGORY in frame.columns and RATER_CATEGORY not in frame.columns:
        frame[RATER_CATEGORY] = frame[CATEGORY]
    frame[CATEGORY] = category_sets(frame)
    return frame


def lacks(column: pd.Series, value: str) -> np.ndarray:
    """For a set-valued column: True where the row's set does not hold `value`. The few
    distinct sets are factorised first (tuples hash in C), so membership is tested once per
    set, not once per row."""
    codes, sets = pd.factorize(column)
    missing = np.array([value not in labels for labels in sets] + [True], dtype=bool)
    return missing[codes]  # code -1 (a missing value) -> the last entry, True


def members(column: pd.Series) -> list[str]:
    """Every label that occurs in a set-valued column, sorted."""
    _, sets = pd.factorize(column)
    return sorted({label for labels in sets for label in labels})


def rank_change(group: pd.DataFrame, overall: pd.DataFrame) -> np.ndarray:
    """Overall rank minus rank in the group board, per row of `group` (positive = better in
    this group).

    The overall ranks are re-counted among the group's models only (a model second overall
    whose better rival never appears in the group is first there too, with no change), and
    within the group's components when it has several. A model missing from the overall
    board (only with disconnected graphs) gets NaN.
    """
    rating = overall.set_index("model")["rating"]
    known = group["model"].isin(rating.index).to_numpy()
    change = np.full(len(group), np.nan)
    parts = group["component"] if "component" in group.columns else pd.Series(
        1, index=group.index)
    for _, rows in group[known].groupby(parts[known], sort=False):
        overall_rating = rating.loc[rows["model"]].to_numpy()
        models = rows["model"].astype(str).to_numpy()
        order = np.lexsort((models, -overall_rating))
        overall_rank = np.empty(len(rows), dtype=float)
        overall_rank[order] = np.arange(1, len(rows) + 1)
        group_rank = rows["rank"].to_numpy(dtype=float)
        # The group's own ranks within its component start at 1 too.
        group_rank = group_rank - group_rank.min() + 1
        positions = group.index.get_indexer(rows.index)
        change[positions] = overall_rank - group_rank
    return change
