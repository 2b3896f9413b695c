"""The Leaderboard tab's sentences: the summary above the table (when, from how many votes,
links to re-derive it, how fragile #1 is), the line about the chosen category, the legend of
the marks and the category selector's choices.

The board is the job's output, but nothing in it is pasted as is: times and counts are
re-formatted, labels and names are Markdown-escaped (`markdown_text`), links go through
`snapshot_link`; no Markdown or HTML from the board can reach the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from arena.web.board_views import categories, category_votes
from arena.web.ui.board_table import CHANGE_COLUMN, SWAP_COLUMN, as_count
from arena.web.ui.text import markdown_text

Board = dict[str, Any]
OVERALL = "(overall)"  # the selector's value for the overall board (no label has brackets)
NO_BOARD = (
    "No leaderboard yet: it is computed from the anonymous votes a few minutes after the "
    "first ones are cast."
)
# Characters a snapshot path may keep in a Markdown link destination (no brackets, spaces,
# angle brackets or backslashes).
URL_SAFE = "/.-_~:=?&%#+,;@!$*"


def category_choices(board: Board | None) -> list[tuple[str, str]]:
    """The selector's choices: Overall, then each category with its votes, most votes first."""
    entries = categories(board)
    ordered = sorted(entries.items(), key=lambda item: (-category_votes(item[1]), item[0]))
    choices = [("Overall", OVERALL)]
    for label, entry in ordered:
        votes = category_votes(entry)
        too_few = ", too few to rank" if entry.get("too_few") is True else ""
        choices.append((f"{label} ({votes} vote{'' if votes == 1 else 's'}{too_few})", label))
    return choices


def category_line(view: Board) -> str:
    """What the chosen category's table shows, or why it shows nothing."""
    label = markdown_text(str(view.get("category", "")))
    votes = as_count(view.get("votes"))
    overall = as_count(view.get("overall_votes"))
    plural = "" if votes == 1 else "s"
    if view.get("too_few") is True:
        minimum = as_count(view.get("min_votes"), None)
        needed = f"at least **{minimum}**" if minimum else "more"
        return (f"**Too few votes to rank {label}**: {votes} vote{plural}, {needed} needed. "
                "Until then a ranking would be noise, so none is shown.")
    return (f"Category **{label}**: {votes} vote{plural} of the {overall}. “{CHANGE_COLUMN}” "
            "is the model's overall rank minus its rank here: ▲ ranks better in this "
            "category, ▼ worse.")


def legend(board: Board, *, retired_hidden: int) -> str:
    """What the marks mean, and how many retired models the toggle hides."""
    minimum = as_count(board.get("provisional_votes"), None)
    provisional = (f"fewer than {minimum} votes" if minimum else "too few votes so far")
    text = (f"Marks: **provisional**: {provisional}, its rating may still move a lot · "
            "**preview**: a new model being tried out · **retired**: no longer in battles, "
            "kept with its last rating. Rank range: the ranks the 95% CIs allow.")
    if retired_hidden:
        models = "model is" if retired_hidden == 1 else "models are"
        text += (f" {retired_hidden} retired {models} hidden (the ranks count them); "
                 "tick *Show retired models* to see them.")
    if board.get("sampling_correction") is True:
        text += " Ratings corrected for uneven pair sampling."
    return text


def robustness_line(board: Board, *, style: bool) -> str | None:
    """The robustness headline, e.g. "#1 would change if 37 votes were removed", rebuilt from
    the board's numbers (never its text); None when the board has none."""
    robustness = board.get("robustness")
    leader = robustness.get("leader") if isinstance(robustness, dict) else None
    votes = as_count(leader.get("votes"), None) if isinstance(leader, dict) else None
    if votes is None:
        return None
    plural = "" if votes == 1 else "s"
    bound = "" if leader.get("exact") is True else " (found by search; fewer might do)"
    scope = " of the ratings without style control" if style else ""
    column = "" if style else (f"; “{SWAP_COLUMN}” counts the same for each model and the "
                               "one ranked below it")
    return (f"**#1{scope} would change if {votes} vote{plural} were removed**{bound}: the "
            "fewest votes whose removal (Bradley–Terry refitted) puts another model level with "
            f"or above #1{column}.")


def board_summary(board: Board, *, style: bool, headline: bool = True) -> str:
    """The line above the table: snapshot time, votes behind it, links to re-derive it, and
    (overall board, `headline`) the robustness headline; without `headline` (a category's
    board) the manifest linked is the category boards'."""
    computed = timestamp(board.get("computed_at"))
    votes = as_count(board.get("votes"))
    parts = [f"Snapshot computed at **{computed} UTC**", f"from **{votes}** votes"]
    if style:
        parts.append("style-controlled ratings (length and Markdown use held equal)")
    # A category's board re-derives from the category boards' manifest, not the overall one.
    manifest = ("categories_manifest_url", "category boards' manifest") if not headline \
        else ("manifest_url", "manifest")
    links = [
        link
        for key, label in (manifest, ("export_url", "public release"))
        if (link := snapshot_link(label, board.get(key)))
    ]
    if links:
        parts.append("re-derive it from the " + " and the ".join(links))
    line = robustness_line(board, style=style) if headline else None
    return " · ".join(parts) + "." + (f"\n\n{line}" if line else "")


def snapshot_link(label: str, url: Any) -> str | None:
    """A Markdown link to a path on this host (`/...`, not `//host`), or None: a board must
    not send the rater to another host. Characters that could end the link are %-encoded."""
    if not isinstance(url, str) or not url.startswith("/") or url.startswith("//"):
        return None
    return f"[{label}]({quote(url, safe=URL_SAFE)})"


def timestamp(value: Any) -> str:
    """An ISO time as `YYYY-MM-DD HH:MM:SS` (the board's clock is UTC), or "unknown time"."""
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return "unknown time"
