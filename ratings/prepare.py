"""From a normalised battles frame to the battles a fit may use, counting every drop.

Order of the rules (each drop is counted under its reason, for the manifest):
1. `status` other than "voted" (when a status column exists): not a battle.
1b. judge verdicts (`mode == "judge"`, from `arena judge`): a human board drops them
   ("judge"); with `judge` set the human votes go instead ("not_judge") and, for a named
   judge, the other judges' verdicts ("other_judge", by the `judge_model` column). A judge
   is not a rater: its verdicts never mix into a human board.
2. `mode == "named"` unless `include_named`: names were visible, so the vote is not blind.
3. non-empty `flags` (e.g. identity_leak) unless `include_flagged_battles`.
4. `where` filters (`COLUMN=VALUE`, compared as strings; on a set-valued column such as
   `category`, the row's set must hold VALUE).
4b. with `sampling_correction`, battles without a usable `pair_probability`
   ("no_pair_probability", `ratings.weights`).
5. Validation: unknown winner values and self-battles are errors naming the rows (never
   silently mapped to ties); so is an empty remainder.
6. `tie (bothbad)` dropped when `bothbad="drop"`, else a tie; ties dropped when `ties="drop"`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ratings.categories import is_set_valued, lacks
from ratings.errors import BattleDataError, NoBattlesLeft, name_rows
from ratings.options import RatingOptions
from ratings.weights import NO_PROBABILITY, PROBABILITY_COLUMN, usable_probability

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
# Outcome codes used by every fit: from the point of view of model_a (the left side).
A_WINS, B_WINS, TIE = 0, 1, 2


@dataclass
class Selection:
    """The battles kept and how many rows each rule dropped.

    `votes` (model, votes, ties, bothbad): per model, the votes that reached the tie rules
    (rule 6), i.e. before ties or both-bad votes are dropped; what the board's `votes`,
    `tie_share` and `bothbad_share` columns count.
    """

    battles: pd.DataFrame
    rows_read: int
    dropped: dict[str, int] = field(default_factory=dict)
    votes: pd.DataFrame | None = None

    @property
    def rows_used(self) -> int:
        return len(self.battles)


def _differs(column: pd.Series, value: str) -> np.ndarray:
    """column != value as strings; on Categoricals compares codes, not millions of strings."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories.astype(str)
        matching = np.flatnonzero(categories == value)
        code = matching[0] if len(matching) else -2
        return column.cat.codes.to_numpy() != code
    return (column.astype(str) != value).to_numpy()


def _as_strings(column: pd.Series) -> np.ndarray:
    """Values as an object array of str (Categoricals: via their few categories)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        names = np.asarray(column.cat.categories.astype(str), dtype=object)
        codes = column.cat.codes.to_numpy()
        return np.where(codes >= 0, names[codes], None)
    return column.astype(object).to_numpy()


def _category_lookup(column: pd.Series, table: dict[str, int], default: int) -> np.ndarray:
    """Map each value through `table` (unknown -> default), once per category if possible."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        per_category = np.array(
            [table.get(str(c), default) for c in column.cat.categories] + [default])
        return per_category[column.cat.codes.to_numpy()]  # code -1 (missing) -> default
    return np.array([table.get(v, default) if isinstance(v, str) else default
                     for v in column.tolist()])


def _same_model(a: pd.Series, b: pd.Series) -> np.ndarray:
    if isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype):
        lookup = pd.Index(a.cat.categories.astype(str)).get_indexer(b.cat.categories.astype(str))
        codes_b = b.cat.codes.to_numpy()
        return a.cat.codes.to_numpy() == np.where(codes_b >= 0, lookup[codes_b], -3)
    return _as_strings(a) == _as_strings(b)


def _row_labels(frame: pd.DataFrame, mask: np.ndarray) -> tuple[list, str]:
    kind = frame.attrs.get("row_kind", "index")
    return frame.loc[mask, "source_row"].tolist(), ("line" if kind == "line" else "row")


def select_battles(frame: pd.DataFrame, options: RatingOptions | None = None) -> Selection:
    """Apply the module's rules; return the kept battles (with an int8 `outcome` column) and
    the drop counts. Raises BattleDataError on unknown winners, self-battles or no battles."""
    options = options or RatingOptions()
    if "source_row" not in frame.columns:
        frame = frame.assign(source_row=np.arange(len(frame)))
    rows_read = len(frame)
    if rows_read == 0:
        raise BattleDataError("the battles table is empty; there is nothing to rate")
    keep, dropped = _filter_rows(frame, options)
    kept = frame.loc[keep]
    if len(kept) == 0:
        raise NoBattlesLeft(
            f"no battles left after filtering {rows_read} rows (dropped: "
            f"{', '.join(f'{k}={v}' for k, v in dropped.items() if v)})", rows_read, dropped
        )
    code = _validated_winner_codes(kept)
    votes = _votes_per_model(kept, code)
    try:
        battles = _apply_tie_rules(kept, code, options, dropped)
    except NoBattlesLeft as nothing:
        nothing.rows_read = rows_read
        raise
    battles.attrs = dict(frame.attrs)
    return Selection(battles=battles, rows_read=rows_read, dropped=dropped, votes=votes)


def _votes_per_model(kept: pd.DataFrame, code: np.ndarray) -> pd.DataFrame:
    """Votes, ties and both-bad votes per model among the kept rows (`code`: index in
    WINNERS). Counted per distinct name (factorised), never per row in Python."""
    parts = []
    for side in ("model_a", "model_b"):
        codes, names = pd.factorize(kept[side])
        n = len(names)
        parts.append(pd.DataFrame({
            "model": np.asarray(names, dtype=object).astype(str),
            "votes": np.bincount(codes, minlength=n),
            "ties": np.bincount(codes, weights=code == 2, minlength=n),
            "bothbad": np.bincount(codes, weights=code == 3, minlength=n),
        }))
    table = pd.concat(parts, ignore_index=True).groupby("model", sort=True).sum()
    return table.astype(np.int64).reset_index()


def _filter_rows(frame: pd.DataFrame, options: RatingOptions
                 ) -> tuple[np.ndarray, dict[str, int]]:
    """Rules 1-4: the mask of rows kept and the rows each rule dropped (a row counts under
    the first rule that drops it)."""
    dropped: dict[str, int] = {}
    keep = np.ones(len(frame), dtype=bool)

    def drop(reason: str, mask: np.ndarray) -> None:
        nonlocal keep
        hit = keep & mask
        # A filter given twice (--by adds its group's filter to a --where on the same
        # column) keeps its count from the first time.
        dropped[reason] = dropped.get(reason, 0) + int(hit.sum())
        keep &= ~mask

    if "status" in frame.columns:
        drop("status_not_voted", _differs(frame["status"], "voted"))
    _judge_rule(frame, options, drop)
    if "mode" in frame.columns and not options.include_named:
        drop("mode_named", ~_differs(frame["mode"], "named"))
    if "flags" in frame.columns and not options.include_flagged_battles:
        flags = frame["flags"].fillna("").astype(str).to_numpy()
        drop("flagged_battle", flags != "")
    for column, value in options.where:
        if column not in frame.columns:
            raise BattleDataError(
                f"--where {column}={value}: no column {column!r}; columns are "
                f"{', '.join(map(str, frame.columns))}"
            )
        target = frame[column]
        drop(f"where:{column}={value}",
             lacks(target, value) if is_set_valued(target) else _differs(target, value))
    if options.sampling_correction:
        if PROBABILITY_COLUMN not in frame.columns:
            raise BattleDataError(
                "sampling correction weights each battle by 1 / pair_probability, and the "
                "input has no pair_probability column (FastChat dumps and plain CSV files "
                "lack it): rate it without --correct-sampling")
        drop(NO_PROBABILITY, ~usable_probability(frame))
    return keep, dropped


JUDGE_MODE = "judge"
JUDGE_MODEL_COLUMN = "judge_model"


def _judge_rule(frame: pd.DataFrame, options: RatingOptions,
                drop: Callable[[str, np.ndarray], None]) -> None:
    """Rule 1b: human votes or judge verdicts, never both (see the module docstring)."""
    is_judge = (~_differs(frame["mode"], JUDGE_MODE) if "mode" in frame.columns
                else np.zeros(len(frame), dtype=bool))
    if options.judge is None:
        if is_judge.any():
            drop("judge", is_judge)
        return
    if not is_judge.any():
        raise BattleDataError(
            f"--judge {options.judge}: the input holds no judge verdicts (rows with mode "
            "'judge', written by `arena judge`); rate it without --judge")
    drop("not_judge", ~is_judge)
    if options.judge == "*":
        return
    if JUDGE_MODEL_COLUMN not in frame.columns:
        raise BattleDataError(
            f"--judge {options.judge}: the input has no {JUDGE_MODEL_COLUMN} column to tell "
            "the judges apart; use --judge '*' or our JSONL/Parquet export")
    other = _differs(frame[JUDGE_MODEL_COLUMN], options.judge) & is_judge
    if other.all() or not (is_judge & ~other).any():
        names = sorted({str(v) for v in frame.loc[is_judge, JUDGE_MODEL_COLUMN].dropna()})
        raise BattleDataError(
            f"--judge {options.judge}: no verdicts of that judge; the input's judges are "
            f"{', '.join(names) or 'unnamed'}")
    drop("other_judge", other)


def _validated_winner_codes(kept: pd.DataFrame) -> np.ndarray:
    """Rule 5: each battle's index in WINNERS; unknown winners and self-battles raise
    BattleDataError naming their rows."""
    code = _category_lookup(kept["winner"], {w: i for i, w in enumerate(WINNERS)}, -1)
    unknown = code < 0
    if unknown.any():
        winner = _as_strings(kept["winner"])
        labels, kind = _row_labels(kept, unknown)
        values = sorted({repr(v) for v in winner[unknown]})[:5]
        raise BattleDataError(
            f"unknown winner value(s) {', '.join(values)} at {name_rows(labels, kind)}; "
            f"winner must be one of {', '.join(repr(w) for w in WINNERS)}"
        )
    same = _same_model(kept["model_a"], kept["model_b"])
    if same.any():
        labels, kind = _row_labels(kept, same)
        raise BattleDataError(
            f"self-battle (model_a == model_b) at {name_rows(labels, kind)}; a model cannot be "
            "rated against itself: remove these rows"
        )
    return code


def _apply_tie_rules(kept: pd.DataFrame, code: np.ndarray, options: RatingOptions,
                     dropped: dict[str, int]) -> pd.DataFrame:
    """Rule 6: the battles with their `outcome` codes, bothbad and ties dropped as the
    options say (counted into `dropped`)."""
    # WINNERS order: model_a, model_b, tie, tie (bothbad) -> outcome codes 0, 1, 2, 2.
    outcome = np.array([A_WINS, B_WINS, TIE, TIE], dtype=np.int8)[code]
    keep = np.ones(len(kept), dtype=bool)
    bothbad = code == 3
    if options.bothbad == "drop":
        dropped["bothbad"] = int(bothbad.sum())
        keep &= ~bothbad
    if options.ties == "drop":
        dropped["tie"] = int(((outcome == TIE) & keep).sum())
        keep &= outcome != TIE
    battles = kept.loc[keep].assign(outcome=outcome[keep])
    if len(battles) == 0:
        counted = ", ".join(f"{k}={v}" for k, v in dropped.items() if v)
        raise NoBattlesLeft(f"no battles left after dropping ties ({counted})", 0, dropped)
    return battles
