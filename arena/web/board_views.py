"""Views of the cached leaderboard: one category's board in the overall board's shape, and a
board without its retired models. Shared by `/api/leaderboard` and the Leaderboard tab, so
both show the same rows.

The cached board (`arena.jobs.leaderboard`) holds the overall rows and, under `categories`, one
entry per label: `{"votes": int, "too_few": bool, "min_votes": int, "rows": [...]}`, each row
with `rank_change` = overall rank − category rank (positive: the model ranks better in this
category). A category with fewer than `min_votes` votes is not ranked: its view has
`too_few: true` and no rows, whatever the entry carries, so noise is never shown as a ranking.

Nothing here trusts the board's types: a malformed entry is treated as absent.
"""

from __future__ import annotations

from typing import Any

from arena.errors import ArenaError

Board = dict[str, Any]
RETIRED = "retired"
# Keys of the overall board that describe the snapshot, not its rows: a category view
# carries them too, so its numbers can be re-derived from the same release.
SNAPSHOT_KEYS = ("computed_at", "snapshot", "manifest_url", "export_url",
                 "release_manifest_url", "categories_manifest_url", "sampling_correction",
                 "sampling", "provisional_votes")
# How many known categories a refusal lists before it says "and N more".
LISTED_CATEGORIES = 40


class UnknownCategory(ArenaError):
    """A category the cached board has no board for; the message lists the known ones."""

    status = 404
    code = "unknown_category"


def categories(board: Board | None) -> dict[str, dict[str, Any]]:
    """The board's well-formed category entries by label (none for an older board)."""
    entries = board.get("categories") if isinstance(board, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {str(label): entry for label, entry in entries.items() if isinstance(entry, dict)}


def category_votes(entry: dict[str, Any]) -> int:
    """The votes behind one category entry (0 when it does not say)."""
    votes = entry.get("votes")
    return votes if isinstance(votes, int) and not isinstance(votes, bool) and votes > 0 else 0


def category_board(board: Board, label: str) -> Board:
    """Category `label` of `board` in the overall board's shape: `computed_at`, `votes` (this
    category's), `rows` (each with `rank_change`), plus `category`, `too_few`, `min_votes`,
    `overall_votes` and the snapshot's links. A too-few category has `rows: []` and a `detail`
    saying how many votes it has and needs.

    Raises UnknownCategory (404) when the board has no such category.
    """
    entries = categories(board)
    entry = entries.get(label)
    if entry is None:
        raise UnknownCategory(unknown_message(label, entries))
    votes = category_votes(entry)
    too_few = entry.get("too_few") is True
    rows = entry.get("rows")
    view: Board = {key: board.get(key) for key in SNAPSHOT_KEYS if key in board}
    view.update(category=label, votes=votes, overall_votes=board.get("votes"),
                min_votes=entry.get("min_votes"), too_few=too_few,
                rows=[] if too_few or not isinstance(rows, list) else rows)
    if too_few:
        view["detail"] = too_few_message(label, votes, entry.get("min_votes"))
    return view


def too_few_message(label: str, votes: int, min_votes: Any) -> str:
    """Why a category has no ranking: its votes against the minimum."""
    needed = (f"at least {min_votes}" if isinstance(min_votes, int) and min_votes > 0
              else "more")
    plural = "" if votes == 1 else "s"
    return (f"too few votes to rank category {label!r}: {votes} vote{plural}, "
            f"{needed} needed; until then its ranking would be noise")


def unknown_message(label: str, entries: dict[str, Any]) -> str:
    """The 404 message: what was asked, and the categories that exist (at most
    LISTED_CATEGORIES of them, then a count)."""
    if not entries:
        return (f"no board for category {label!r}: this leaderboard has no per-category "
                "boards yet; leave out `category` for the overall board")
    known = sorted(entries)
    listed = ", ".join(known[:LISTED_CATEGORIES])
    more = (f" and {len(known) - LISTED_CATEGORIES} more"
            if len(known) > LISTED_CATEGORIES else "")
    return (f"no board for category {label!r}; known categories: {listed}{more} "
            "(leave out `category` for the overall board)")


def without_retired(board: Board) -> Board:
    """`board` without the rows of retired models (rows and style rows). Ranks are the fit's,
    which counted every model: a hidden retired model leaves a gap in the ranks."""
    retired = {row.get("model") for row in rows_of(board) if is_retired(row)}
    if not retired:
        return board
    view = dict(board)
    for key in ("rows", "style_rows"):
        if isinstance(board.get(key), list):
            view[key] = [row for row in board[key]
                         if not (isinstance(row, dict) and row.get("model") in retired)]
    view["retired_hidden"] = len(retired)
    return view


def rows_of(board: Board | None) -> list[dict[str, Any]]:
    """The board's well-formed rows (dicts), in order."""
    rows = board.get("rows") if isinstance(board, dict) else None
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def is_retired(row: dict[str, Any]) -> bool:
    return row.get("state") == RETIRED


def board_view(board: Board, category: str | None, *, show_retired: bool) -> Board:
    """What `/api/leaderboard` serves for `category` (None or "": the overall board),
    retired models left out unless `show_retired`."""
    view = category_board(board, category) if category else board
    return view if show_retired else without_retired(view)
