"""The Leaderboard tab's plots, as plain HTML and CSS that show their numbers on hover (or on
tap or keyboard focus: every mark is focusable), at any width down to a phone's.

Why not Gradio's plot components: gr.ScatterPlot/gr.BarPlot draw with Vega, and gr.HTML fills
its template, both through `Function(...)`, which the arena's Content-Security-Policy (no
'unsafe-eval', arena/web/security_headers.py) refuses; a Matplotlib image cannot be hovered.
These plots are HTML elements positioned in percent and a hidden tooltip per mark that CSS
shows on `:hover`/`:focus` (LEADERBOARD_CSS, added to the page's CSS): no script at all.

- `ci_chart`: each model's rating with its 95% CI (a forest plot, best on top); tooltip:
  rating, CI, rank and rank range, votes, marks.
- `speed_chart`: median time to first token (s, x) against tokens/s (y); tooltip: both.
- `win_chart`: P(row model beats column model), observed when the board carries the fractions,
  else predicted from the ratings: P(i beats j) = 1 / (1 + base^((R_j − R_i) / scale)) (base 10,
  scale 400 by default); the numbers are in the cells, the sentence in the tooltip.

Every text from the board (model names above all) is HTML-escaped here, and the HTML is one
line without blank lines, so the Markdown component that shows it (raw HTML kept, sanitising
off since nothing unescaped reaches it) passes it through as one HTML block.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from arena.web.ui.board_table import as_count, as_float, marks, rank_ranges

LEADERBOARD_CSS = """
.lb-chart { position: relative; max-width: 100%; font-size: 0.9em; }
.lb-chart .lb-title { font-weight: 600; margin: 0.4em 0; }
.lb-row { display: grid; grid-template-columns: minmax(7em, 28%) 1fr; align-items: center;
  gap: 0.5em; position: relative; padding: 0.15em 0; outline: none; }
.lb-row:hover, .lb-row:focus { background: rgba(37, 99, 235, 0.08); }
.lb-name { overflow-wrap: anywhere; }
.lb-track { position: relative; height: 1.1em; }
.lb-bar { position: absolute; top: 0.45em; height: 0.2em; background: #2563eb; }
.lb-dot { position: absolute; top: 0.2em; width: 0.7em; height: 0.7em; margin-left: -0.35em;
  border-radius: 50%; background: #2563eb; border: 2px solid #2563eb; box-sizing: border-box; }
.lb-provisional .lb-dot { background: #fff; }
.lb-preview .lb-bar { background: #d97706; } .lb-preview .lb-dot { border-color: #d97706; }
.lb-preview:not(.lb-provisional) .lb-dot { background: #d97706; }
.lb-retired { color: #6b7280; }
.lb-retired .lb-bar { background: #9ca3af; } .lb-retired .lb-dot { border-color: #9ca3af; }
.lb-retired:not(.lb-provisional) .lb-dot { background: #9ca3af; }
.lb-axis { display: flex; justify-content: space-between; margin-left: calc(28% + 0.5em);
  color: #6b7280; font-size: 0.85em; }
.lb-tip { display: none; position: absolute; z-index: 20; left: 0; top: 100%;
  max-width: min(100%, 30em); padding: 0.3em 0.5em; border-radius: 4px; background: #111827;
  color: #f9fafb; font-size: 0.9em; pointer-events: none; white-space: normal; }
.lb-row:hover > .lb-tip, .lb-row:focus > .lb-tip, .lb-pt:hover > .lb-tip,
.lb-pt:focus > .lb-tip { display: block; }
.lb-plane { position: relative; height: 14em; margin: 0.5em 0.5em 0 3em;
  border-left: 1px solid #9ca3af; border-bottom: 1px solid #9ca3af; }
.lb-pt { position: absolute; width: 0.8em; height: 0.8em; margin: 0 0 -0.4em -0.4em;
  border-radius: 50%; background: #2563eb; outline: none; }
.lb-pt:hover, .lb-pt:focus { box-shadow: 0 0 0 3px rgba(37, 99, 235, 0.35); }
.lb-pt > .lb-tip { width: max-content; max-width: 14em; top: auto; bottom: 1.2em; }
.lb-pt.lb-east > .lb-tip { left: auto; right: 0; }
.lb-pt.lb-low > .lb-tip { bottom: auto; top: 1.2em; }
.lb-ylabel { position: absolute; left: -3.4em; width: 3em; text-align: right;
  color: #6b7280; font-size: 0.85em; line-height: 1; }
.lb-pt-name { position: absolute; left: 1.1em; top: -0.35em; white-space: nowrap;
  max-width: 10em; overflow: hidden; text-overflow: ellipsis; font-size: 0.85em; }
.lb-pt.lb-east > .lb-pt-name { left: auto; right: 1.1em; }
.lb-speed { max-width: 48em; }
.lb-speed .lb-axis { margin-left: 3em; }
.lb-heat-wrap { overflow-x: auto; max-width: 100%; }
.lb-heat { border-collapse: collapse; font-size: 0.85em; }
.lb-heat th, .lb-heat td { padding: 0.3em 0.45em; text-align: center; }
.lb-heat td { min-width: 2.8em; color: #111827; }
#leaderboard .table-wrap, #leaderboard table { max-width: 100%; }
"""
# Where the ends of the rating axis sit beyond the widest interval, as a share of its span.
PAD = 0.05


def ci_chart(rows: list[dict[str, Any]], ranked: list[dict[str, Any]] | None = None) -> str:
    """Ratings with 95% CIs, one row per model in the given order; "" without a finite one.
    `ranked`: every row the fit ranked (default `rows`), for the rank ranges."""
    shown = [(r, as_float(r.get("rating")), as_float(r.get("lower")), as_float(r.get("upper")))
             for r in rows]
    shown = [s for s in shown if all(math.isfinite(v) for v in s[1:])]
    if not shown:
        return ""
    low = min(s[2] for s in shown)
    high = max(s[3] for s in shown)
    pad = max(high - low, 1.0) * PAD
    low, high = low - pad, high + pad
    ranges = rank_ranges(rows if ranked is None else ranked)

    def at(value: float) -> float:  # percent of the track's width
        return 100 * (value - low) / (high - low)

    parts = ['<div class="lb-chart lb-ci" role="list" aria-label="Ratings with 95% '
             'confidence intervals"><div class="lb-title">Rating with 95% CI (hover or tap a '
             'model for its numbers)</div>']
    for row, rating, lower, upper in shown:
        model = str(row.get("model", ""))
        tags = marks(row)
        votes = as_count(row.get("votes"), as_count(row.get("battles"), None))
        tip = [f"{model}: rating {rating:.1f}, 95% CI {lower:.1f} to {upper:.1f}"]
        if (rank := as_count(row.get("rank"), None)) is not None:
            tip.append(f"rank {rank} (range {ranges.get(model, '?')})")
        if votes is not None:
            tip.append(f"{votes} vote{'' if votes == 1 else 's'}")
        tip.extend(tags)
        classes = " ".join(["lb-row", *(f"lb-{tag}" for tag in tags)])
        label = f" ({', '.join(tags)})" if tags else ""
        parts.append(
            f'<div class="{classes}" role="listitem" tabindex="0" '
            f'data-model="{escape(model)}"><span class="lb-name">{escape(model + label)}</span>'
            f'<span class="lb-track"><span class="lb-bar" style="left:{at(lower):.2f}%;'
            f'width:{at(upper) - at(lower):.2f}%"></span><span class="lb-dot" '
            f'style="left:{at(rating):.2f}%"></span></span>'
            f'<span class="lb-tip" role="tooltip">{escape(", ".join(tip))}</span></div>')
    parts.append(f'<div class="lb-axis"><span>{low:.0f}</span><span>rating</span>'
                 f'<span>{high:.0f}</span></div></div>')
    return "".join(parts)


def speed_chart(rows: list[dict[str, Any]]) -> str:
    """Median time to first token (x, seconds) against tokens/s (y), a point per model with
    both numbers; "" when none has them."""
    points = [(str(r.get("model", "")), as_float(r.get("median_ttft_s")),
               as_float(r.get("tokens_per_s"))) for r in rows]
    points = [p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])]
    if not points:
        return ""
    x_max = max(max(p[1] for p in points) * 1.1, 0.1)
    y_max = max(max(p[2] for p in points) * 1.1, 1.0)
    parts = ['<div class="lb-chart lb-speed" role="group" aria-label="Speed: time to first '
             'token against tokens per second"><div class="lb-title">Speed: median time to '
             'first token (s, across) and tokens/s (up); hover or tap a point</div>'
             '<div class="lb-plane">'
             f'<span class="lb-ylabel" style="top:0">{y_max:.0f}<br>tok/s</span>'
             '<span class="lb-ylabel" style="bottom:0">0</span>']
    for model, ttft, speed in points:
        x, y = 100 * ttft / x_max, 100 * speed / y_max
        side = (" lb-east" if x > 50 else "") + (" lb-low" if y > 70 else "")
        tip = f"{model}: first token after {ttft:.2f} s (median), {speed:.1f} tokens/s"
        # role="img": a name (aria-label) is allowed only on an element with a role.
        parts.append(f'<span class="lb-pt{side}" role="img" tabindex="0" '
                     f'data-model="{escape(model)}" aria-label="{escape(tip)}" '
                     f'style="left:{x:.2f}%;bottom:{y:.2f}%">'
                     f'<span class="lb-pt-name" aria-hidden="true">{escape(model)}</span>'
                     f'<span class="lb-tip" role="tooltip">{escape(tip)}</span></span>')
    parts.append(f'</div><div class="lb-axis"><span>0 s</span><span>time to first token'
                 f'</span><span>{x_max:.2f} s</span></div></div>')
    return "".join(parts)


def win_matrix(board: dict[str, Any], rows: list[dict[str, Any]]
               ) -> tuple[list[str], list[list[float]], bool]:
    """(models, matrix, observed): P(row model beats column model) for the models of `rows`;
    the board's observed `win_fraction` when it covers them all, else predicted from the
    ratings. NaN where unknown (the diagonal)."""
    names = [str(r.get("model", "")) for r in rows]
    observed = board.get("win_fraction")
    if isinstance(observed, dict) and isinstance(observed.get("models"), list):
        index = {str(m): i for i, m in enumerate(observed["models"])}
        matrix = observed.get("matrix")
        if names and all(n in index for n in names) and isinstance(matrix, list):
            try:
                return names, [[as_float(matrix[index[a]][index[b]]) if a != b else math.nan
                                for b in names] for a in names], True
            except (IndexError, TypeError):
                pass  # malformed: predicted instead
    rating = [as_float(r.get("rating")) for r in rows]
    scale = as_float(board.get("scale"), default=400.0)
    base = as_float(board.get("base"), default=10.0)
    return names, [[1.0 / (1.0 + base ** ((rating[j] - rating[i]) / scale))
                    if i != j else math.nan for j in range(len(rows))]
                   for i in range(len(rows))], False


def win_chart(board: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The win matrix as a coloured table (red: row loses, blue: row wins); "" for < 2
    models."""
    if len(rows) < 2:
        return ""
    names, matrix, observed = win_matrix(board, rows)
    what = ("Observed win fraction" if observed
            else "Predicted win probability (from the ratings)")
    head = "".join(f'<th scope="col">{escape(n)}</th>' for n in names)
    body = []
    for name, values in zip(names, matrix, strict=True):
        cells = []
        for other, value in zip(names, values, strict=True):
            if not math.isfinite(value):
                cells.append("<td></td>")
                continue
            tip = escape(f"{what}: {name} beats {other} {100 * value:.1f}% of the time")
            cells.append(f'<td tabindex="0" title="{tip}" aria-label="{tip}" '
                         f'style="background:{heat_colour(value)}">{value:.2f}</td>')
        body.append(f'<tr><th scope="row">{escape(name)}</th>{"".join(cells)}</tr>')
    return (f'<div class="lb-chart lb-win"><div class="lb-title">{what}: row beats column'
            '</div><div class="lb-heat-wrap"><table class="lb-heat"><thead><tr><th></th>'
            f'{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div></div>')


def heat_colour(value: float) -> str:
    """Red (0) through near-white (0.5) to blue (1), as an `rgb()` colour."""
    red, white, blue = (214, 96, 77), (247, 247, 247), (67, 147, 195)
    share = min(max(value, 0.0), 1.0)
    start, end, t = (red, white, share * 2) if share < 0.5 else (white, blue, share * 2 - 1)
    return "rgb({},{},{})".format(*(round(a + (b - a) * t) for a, b in zip(start, end,
                                                                           strict=True)))
