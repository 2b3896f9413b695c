"""Writing leaderboards: terminal text, CSV, JSON and Markdown.

CSV holds the table only (floats at full precision, so a re-run can be compared byte for
byte); JSON and Markdown also carry the diagnostics (tie parameter, style coefficients,
position bias, flagged raters, drops, robustness when asked for).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ratings.leaderboard import Leaderboard

OUTPUT_SUFFIXES = (".csv", ".json", ".md")


def combined_table(boards: dict[str | None, Leaderboard], by: str | None) -> pd.DataFrame:
    """One table; with --by a leading column named after the grouping column."""
    if by is None:
        return boards[None].table
    parts = [board.table.assign(**{by: key})[[by, *board.table.columns]]
             for key, board in boards.items()]
    return pd.concat(parts, ignore_index=True)


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else ""  # provisional: a mark, not a word on every row
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.{digits}f}"
    return str(value)


# Columns a log may not have at all (no timings, no states): left out of the text and
# Markdown tables when empty in every row, kept in CSV and JSON.
OPTIONAL_COLUMNS = ("median_ttft_s", "tokens_per_s", "state")


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    empty = [c for c in OPTIONAL_COLUMNS if c in table.columns and table[c].isna().all()]
    return table.drop(columns=empty)


def _rows(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    table = _shown(table)
    digits = {"win_rate": 3, "tie_share": 3, "bothbad_share": 3, "median_ttft_s": 2}
    header = list(table.columns)
    body = [[_fmt(v, digits.get(c, 1)) for c, v in zip(header, row, strict=True)]
            for row in table.itertuples(index=False)]
    return header, body


def text_table(table: pd.DataFrame) -> str:
    """Fixed-width text for the terminal."""
    header, body = _rows(table)
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    numeric = [pd.api.types.is_numeric_dtype(table[c]) and table[c].dtype != bool
               for c in header]
    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip()
    return "\n".join([line(header), *(line(r) for r in body)])


def markdown_table(table: pd.DataFrame) -> str:
    header, body = _rows(table)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def too_few_text(board: Leaderboard) -> str:
    """The line a board with fewer than `min_votes` votes shows instead of a table."""
    return (f"Too few votes to rank: {board.rows_used} (fewer than --min-votes "
            f"{board.options.min_votes}).")


def sampling_text(board: Leaderboard) -> str:
    """The sampling correction's cost: effective sample size and the weights' range."""
    s = board.sampling or {}
    return (f"Sampling correction: each battle weighted by 1 / pair_probability (mean 1); "
            f"effective sample size {s['effective_sample_size']:.0f} of {s['battles']} battles "
            f"({s['efficiency']:.0%}), weights {s['weight_min']:.3g} to {s['weight_max']:.3g}; "
            f"{s['no_pair_probability']} battles without a pair probability dropped.")


def diagnostics_text(board: Leaderboard, markdown: bool = False) -> str:
    """Everything beside the table, as short paragraphs."""
    out = []
    dropped = ", ".join(f"{k} {v}" for k, v in board.dropped.items() if v) or "none"
    out.append(f"Battles: {board.rows_used} used of {board.rows_read} rows read; "
               f"dropped: {dropped}. Method: {board.options.method}, ties "
               f"{board.options.ties}, CI {board.options.effective_ci} "
               f"({board.options.level:.0%}).")
    if board.tie_parameter:
        t = board.tie_parameter
        out.append(f"Davidson tie parameter nu = {t['nu']:.4f} [{t['lower']:.4f}, "
                   f"{t['upper']:.4f}]; two equal models tie with probability "
                   f"{t['tie_probability_between_equals']:.3f}.")
    if board.position_bias:
        p = board.position_bias
        out.append(f"Position bias: left side advantage {p['left_advantage_elo']:+.1f} Elo "
                   f"[{p['lower']:+.1f}, {p['upper']:+.1f}]; raw left win rate "
                   f"{p['left_win_rate']:.3f} (ties half), {p['left_decisive_win_rate']:.3f} "
                   "of decisive battles.")
    if board.style_coefficients is not None:
        c = board.style_coefficients
        title = "Style coefficients (log-odds per SD of the normalised difference):"
        table = markdown_table(c) if markdown else text_table(c)
        out.append(f"{title}\n\n{table}" if markdown else f"{title}\n{table}")
    if board.raters is not None:
        flagged = board.raters[board.raters["flagged"]]
        tested = int((board.raters["p_value"].notna()).sum())
        names = ", ".join(map(str, flagged["judge"].head(20))) or "none"
        out.append(f"Raters: {tested} tested, {len(flagged)} flagged (Fisher p < "
                   f"{board.raters['threshold'].iloc[0]:.2g}): {names}.")
    if len(board.components) > 1:
        out.append("Disconnected comparison graph: each component is rated on its own scale ("
                   + "; ".join(f"{i}: {len(c)} models" for i, c in
                               enumerate(board.components, start=1)) + ").")
    if board.sampling:
        out.append(sampling_text(board))
    if board.robustness is not None:
        out.append(robustness_text(board, markdown))
    return "\n\n".join(out)


def robustness_text(board: Leaderboard, markdown: bool = False) -> str:
    """The robustness headline and, per adjacent pair, the votes whose removal swaps it."""
    robustness = board.robustness
    scope = " (component 1, the largest)" if len(board.components) > 1 else ""
    if robustness is None or robustness.leader is None:
        return f"Robustness{scope}: one model only, no order to change."
    leader = robustness.leader
    lines = [f"Robustness{scope}: {robustness.headline()}. Without them "
             f"{leader.lower} would tie or pass {leader.upper} (Bradley–Terry refitted).",
             "Votes whose removal would swap each adjacent pair"
             + ("" if all(c.exact for c in robustness.adjacent)
                else " (\"at most\": found by search, fewer might do)") + ":"]
    if markdown:
        lines[-1] += "\n"  # a Markdown list needs a blank line before it
    bullet = "- " if markdown else "  "
    lines += [f"{bullet}{cost.upper} > {cost.lower}: {'' if cost.exact else 'at most '}"
              f"{cost.votes}" for cost in robustness.adjacent]
    return "\n".join(lines)


def _titled(boards: dict[str | None, Leaderboard], by: str | None,
            overall: Leaderboard | None) -> list[tuple[str | None, Leaderboard]]:
    """(title, board) in print order: the overall board first when there is one."""
    titled: list[tuple[str | None, Leaderboard]] = []
    if overall is not None:
        titled.append(("overall", overall))
    titled += [(None if by is None else f"{by} = {key}", board)
               for key, board in boards.items()]
    return titled


def render_text(boards: dict[str | None, Leaderboard], by: str | None,
                overall: Leaderboard | None = None) -> str:
    parts = []
    for title, board in _titled(boards, by, overall):
        if title is not None:
            parts.append(f"== {title} ==")
        if board.too_few:
            parts.append(too_few_text(board))
        else:
            parts.append(text_table(board.table))
        parts.append(diagnostics_text(board))
    return "\n\n".join(parts)


def write_output(boards: dict[str | None, Leaderboard], by: str | None, path: Path,
                 overall: Leaderboard | None = None) -> None:
    """Write the leaderboard(s) to `path` (.csv, .json or .md). With `by`, the CSV holds the
    groups' rows (a too-few group has none); JSON and Markdown also the `overall` board."""
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"--out {path}: use a .csv, .json or .md file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        combined_table(boards, by).to_csv(path, index=False, lineterminator="\n")
    elif suffix == ".json":
        data = ({"by": by, "groups": {str(k): b.to_dict() for k, b in boards.items()},
                 **({"overall": overall.to_dict()} if overall is not None else {})}
                if by is not None else boards[None].to_dict())
        path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    else:
        parts = ["# Leaderboard"]
        for title, board in _titled(boards, by, overall):
            if title is not None:
                parts.append(f"## {title}")
            parts.append(too_few_text(board) if board.too_few else markdown_table(board.table))
            parts.append(diagnostics_text(board, markdown=True))
        path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
