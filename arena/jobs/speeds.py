"""Median generation speeds per model for a board read from the database.

A board's `median_ttft_s` and `tokens_per_s` are each model's medians over the generations of
the battles the board's selection keeps (`ratings.prepare.select_battles`). Which battles it
keeps depends only on the battle's filter columns (winner, mode, flags, labels, category and
whatever `--where`/`--by` name), so the rules run once per distinct combination of them
(`kept_combinations`), never per generation.

Two holders answer `medians(options)`:
- `SpeedTable`: every generation's speed in memory, each model's values sorted with their
  battle's combination code. The live leaderboard keeps one and `extend`s it with each
  refresh's new generations (inserted in order); a board's median is then a mask over one
  model's sorted values and the middle of what is left, about 1 ms per model.
- `SqlMedians`: the medians of one board computed by the database
  (`arena.store.aggregate.speed_medians_query`), for `arena ratings --db` without `--by`: only
  one or two rows per model cross into Python instead of every generation.
Both give the same floats: the middle value, or the mean of the two middle values
(`pandas` median), of the same set of generations.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ratings.categories import with_category_sets
from ratings.errors import NoBattlesLeft
from ratings.io import normalise_frame
from ratings.options import RatingOptions
from ratings.prepare import select_battles

SPEED_VALUES = ("model", "ttft_s", "tokens_per_s")
MEDIAN_COLUMNS = {"median_ttft_s": "ttft_s", "tokens_per_s": "tokens_per_s"}


def kept_combinations(combinations: pd.DataFrame, options: RatingOptions) -> np.ndarray:
    """A boolean mask over the rows of `combinations` (distinct values of the filter
    columns): True where the board with `options` keeps their battles."""
    kept = np.zeros(len(combinations), dtype=bool)
    if len(combinations) == 0:
        return kept
    probe = combinations.reset_index(drop=True).assign(model_a="a", model_b="b",
                                                       status="voted")
    if "labels" in probe.columns or "category" in probe.columns:
        probe = with_category_sets(probe)
    with contextlib.suppress(NoBattlesLeft):  # none kept: the mask stays all False
        kept[select_battles(normalise_frame(probe), options).battles.index.to_numpy()] = True
    return kept


@dataclass(frozen=True)
class _Sorted:
    """One model's values of one speed column, ascending (NaN left out), with the code of
    each value's battle's filter combination."""

    values: np.ndarray
    combos: np.ndarray

    def merged(self, other: _Sorted) -> _Sorted:
        at = np.searchsorted(self.values, other.values, side="right")
        return _Sorted(np.insert(self.values, at, other.values),
                       np.insert(self.combos, at, other.combos))

    def median(self, kept: np.ndarray | None) -> float:
        """The median of the values whose combination is kept (None: all): the middle one,
        or (upper middle + lower middle) / 2 as pandas computes it; NaN for none."""
        values = self.values if kept is None else self.values[kept[self.combos]]
        n = len(values)
        if n == 0:
            return float("nan")
        if n % 2:
            return float(values[n // 2])
        return float((values[n // 2] + values[n // 2 - 1]) / 2)


@dataclass
class SpeedTable:
    """Every generation's speeds, per speed column and model, sorted (`_Sorted`), with the
    distinct filter combinations their battles have (`combinations`): a board's median is
    then a mask over one model's sorted values and an index, and a refresh's new
    generations are inserted in place (`extend`), never re-sorted with the rest."""

    combinations: pd.DataFrame
    columns: dict[str, dict[str, _Sorted]]
    size: int

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> SpeedTable:
        """From `arena.store.aggregate.speeds_query`'s rows: model, ttft_s, tokens_per_s and
        the filter columns (at least the winner's)."""
        filters = [c for c in frame.columns if c not in SPEED_VALUES]
        combo, combinations = _distinct(frame[filters])
        codes, names = pd.factorize(frame["model"])
        columns: dict[str, dict[str, _Sorted]] = {}
        for source in MEDIAN_COLUMNS.values():
            values = _floats(frame[source])
            present = ~np.isnan(values)
            values, model, combos = values[present], codes[present], combo[present]
            order = np.lexsort((values, model))
            values, model, combos = values[order], model[order], combos[order]
            starts = np.flatnonzero(np.r_[True, model[1:] != model[:-1]]) if len(model) else (
                np.array([], dtype=np.int64))
            ends = np.r_[starts[1:], len(model)] if len(model) else starts
            columns[source] = {str(names[model[a]]): _Sorted(values[a:b], combos[a:b])
                               for a, b in zip(starts, ends, strict=True)}
        return cls(combinations, columns, len(frame))

    def __len__(self) -> int:
        return self.size

    def extend(self, other: SpeedTable) -> SpeedTable:
        """This table with `other`'s generations added (`other`'s combinations re-coded)."""
        if len(other) == 0:
            return self
        if len(self) == 0:
            return other
        stacked = pd.concat([self.combinations, other.combinations], ignore_index=True)
        code, combinations = _distinct(stacked)  # self's rows are distinct and come first
        recode = code[len(self.combinations):]
        columns = {}
        for source, models in self.columns.items():
            merged = dict(models)
            for name, theirs in other.columns[source].items():
                theirs = _Sorted(theirs.values, recode[theirs.combos])
                merged[name] = merged[name].merged(theirs) if name in merged else theirs
            columns[source] = merged
        return SpeedTable(combinations, columns, self.size + other.size)

    def medians(self, options: RatingOptions) -> pd.DataFrame:
        """Median ttft_s and tokens_per_s per model (index) over the generations of the
        battles a board with `options` keeps (NaN: none with a value)."""
        kept = kept_combinations(self.combinations, options)
        mask = None if kept.all() else kept  # None: every generation, without masking
        names = sorted(set().union(*self.columns.values()))
        out = {column: [self.columns[source][name].median(mask)
                        if name in self.columns[source] else np.nan for name in names]
               for column, source in MEDIAN_COLUMNS.items()}
        return pd.DataFrame(out, index=pd.Index(names, name="model", dtype=object))


def _distinct(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """(code per row, the distinct rows in order of first appearance); None and NaN are
    values like any other."""
    if len(frame) == 0:
        return np.array([], dtype=np.int64), frame.reset_index(drop=True)
    code = frame.groupby(list(frame.columns), dropna=False, sort=False).ngroup().to_numpy()
    first = np.unique(code, return_index=True)[1]  # ngroup numbers in order of appearance
    return code.astype(np.int64), frame.iloc[first].reset_index(drop=True)


def _floats(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


@dataclass(frozen=True)
class SqlMedians:
    """The medians of one board, computed in the database for `options` (SqlMedians answers
    only for those options: `arena ratings --db` without `--by` rates one board)."""

    options: RatingOptions
    table: pd.DataFrame

    def medians(self, options: RatingOptions) -> pd.DataFrame:
        if options != self.options:
            raise ValueError("SqlMedians were computed for other options")
        return self.table

    def __len__(self) -> int:
        return len(self.table)
