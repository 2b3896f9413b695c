"""The Leaderboard tab's table: one board's rows as the text the rater reads.

Per model: rank and rank range, name, status marks, (in a category) the rank change against
the overall board, rating with its 95% CI as +/− offsets, votes, win rate, the share of its
votes that were ties and both-bad, its median time to first token and tokens/s, and (overall
board) the votes whose removal would swap it with the next model.

Rank range: the ranks a model could hold given the 95% CIs, best = 1 + the models whose lower
bound is above its upper bound (the board's `rank_ub`), worst = n − the models whose upper
bound is below its lower bound, over every model the board rated (retired ones too).

Every cell is plain text or a number, never Markdown or HTML: a model name is shown as is.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

SWAP_COLUMN = "Votes to swap with next"
CHANGE_COLUMN = "vs overall"
STATUS_COLUMN = "Status"
STATS = ["Rating", "95% CI", "Votes", "Win rate", "Ties", "Both bad", "Median TTFT",
         "Tokens/s"]
# Model stays the third column in both (tests and scripts read cells by position).
COLUMNS = ["Rank", "Rank range", "Model", STATUS_COLUMN, *STATS, SWAP_COLUMN]
CATEGORY_COLUMNS = ["Rank", "Rank range", "Model", CHANGE_COLUMN, STATUS_COLUMN, *STATS]
# "number" columns sort as numbers when the rater clicks a header; the rest are text.
NUMBERS = {"Rank", "Rating", "Votes"}
MARKS = ("provisional", "preview", "retired")


# Column widths in px: wide enough for every header word, so headers wrap between words
# (never inside one) and the table fits a 1280 px page; narrower, it scrolls within itself.
WIDTHS = {"Rank": 56, "Rank range": 68, "Model": 150, CHANGE_COLUMN: 76, STATUS_COLUMN: 112,
          "Rating": 80, "95% CI": 156, "Votes": 64, "Win rate": 64, "Ties": 64,
          "Both bad": 64, "Median TTFT": 80, "Tokens/s": 92, SWAP_COLUMN: 96}


def datatypes(columns: list[str]) -> list[str]:
    return ["number" if column in NUMBERS else "str" for column in columns]


def column_widths(columns: list[str]) -> list[int]:
    return [WIDTHS[column] for column in columns]


def board_table(rows: list[dict[str, Any]], robustness: Any = None, *,
                category: bool = False, ranked: list[dict[str, Any]] | None = None,
                ) -> pd.DataFrame:
    """The rows as the displayed table (`CATEGORY_COLUMNS` when `category`, else `COLUMNS`).

    `robustness` (the overall board's) fills the swap column: "12", or "≤ 12" when found by
    search; blank for the last model and when the rows are not the ones it was computed for.
    `ranked` are all the rows the fit ranked (default `rows`): the rank ranges count them,
    shown or not.
    """
    swaps = swap_costs(robustness)
    ranges = rank_ranges(rows if ranked is None else ranked)
    table = []
    for row in rows:
        model = str(row.get("model", ""))
        cells = {
            "Rank": as_count(row.get("rank"), None),
            "Rank range": ranges.get(model, ""),
            "Model": model,
            CHANGE_COLUMN: rank_change_text(row.get("rank_change")),
            STATUS_COLUMN: " · ".join(marks(row)),
            "Rating": rounded(row.get("rating"), 1),
            "95% CI": interval(row),
            "Votes": as_count(row.get("votes"), as_count(row.get("battles"), None)),
            "Win rate": percent(row.get("win_rate")),
            "Ties": percent(row.get("tie_share")),
            "Both bad": percent(row.get("bothbad_share")),
            "Median TTFT": unit(row.get("median_ttft_s"), "s", 2),
            "Tokens/s": unit(row.get("tokens_per_s"), "", 1),
            SWAP_COLUMN: swaps.get(model, ""),
        }
        table.append(cells)
    columns = CATEGORY_COLUMNS if category else COLUMNS
    return pd.DataFrame(table, columns=columns)


def marks(row: dict[str, Any]) -> list[str]:
    """The row's status marks, in MARKS order: provisional (fewer votes than the board's
    `provisional_votes`), preview, retired (the model's lifecycle state)."""
    shown = []
    if row.get("provisional") is True:
        shown.append("provisional")
    if row.get("state") in ("preview", "retired"):
        shown.append(str(row["state"]))
    return shown


def rank_change_text(change: Any) -> str:
    """Overall rank − rank here, signed: "▲ 2" better here, "▼ 1" worse, "=" the same,
    "new" when the model is not on the overall board, blank when there is none."""
    if change is None:
        return ""
    number = as_float(change)
    if not math.isfinite(number):
        return "new" if change == "new" else ""
    steps = int(round(number))
    return "=" if steps == 0 else f"▲ {steps}" if steps > 0 else f"▼ {-steps}"


def rank_ranges(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Per model, its rank range from the 95% CIs ("1–3", or "2" when it can only be 2)."""
    bounds = {str(r.get("model", "")): (as_float(r.get("lower")), as_float(r.get("upper")))
              for r in rows}
    bounds = {m: b for m, b in bounds.items() if all(math.isfinite(v) for v in b)}
    ranges = {}
    for model, (lower, upper) in bounds.items():
        above = sum(1 for m, (lo, _) in bounds.items() if m != model and lo > upper)
        below = sum(1 for m, (_, up) in bounds.items() if m != model and up < lower)
        best, worst = 1 + above, len(bounds) - below
        ranges[model] = str(best) if best == worst else f"{best}–{worst}"
    return ranges


def swap_costs(robustness: Any) -> dict[str, str]:
    """Per upper model of each adjacent pair, its swap cost as shown: "12", or "≤ 12" when
    not proven minimal. Entries that are not well formed are skipped."""
    pairs = robustness.get("adjacent") if isinstance(robustness, dict) else None
    shown = {}
    for pair in pairs if isinstance(pairs, list) else []:
        if isinstance(pair, dict) and (votes := as_count(pair.get("votes"), None)) is not None:
            bound = "" if pair.get("exact") is True else "≤ "
            shown[str(pair.get("upper", ""))] = f"{bound}{votes}"
    return shown


def as_float(value: Any, default: float = float("nan")) -> float:
    """`value` as a float (a bool or text is not a number here), else `default`."""
    if isinstance(value, bool) or isinstance(value, str):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def as_count(value: Any, default: int | None = 0) -> int | None:
    """A whole count (an int, not a bool or text), else `default`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return default


def rounded(value: Any, digits: int) -> float | None:
    number = as_float(value)
    return round(number, digits) if math.isfinite(number) else None


def interval(row: dict[str, Any]) -> str:
    """The 95% CI as offsets from the rating: "+40.5 / -40.0"."""
    rating, lower, upper = (as_float(row.get(k)) for k in ("rating", "lower", "upper"))
    if not all(math.isfinite(v) for v in (rating, lower, upper)):
        return ""
    return f"+{upper - rating:.1f} / -{rating - lower:.1f}"


def percent(value: Any) -> str:
    number = as_float(value)
    return f"{100 * number:.1f}%" if math.isfinite(number) else ""


def unit(value: Any, suffix: str, digits: int) -> str:
    number = as_float(value)
    if not math.isfinite(number):
        return ""
    return f"{number:.{digits}f}" + (f" {suffix}" if suffix else "")
