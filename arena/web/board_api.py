"""`GET /api/leaderboard`: the cached board, overall or of one category, with or without the
retired models.

- no `category` (or an empty one): the overall board as the leaderboard job cached it
  (`arena.jobs.leaderboard`); before the first board, 200 with no rows and a `detail`.
- `category=<label>` (a label such as `code`, `math`, `lang:de`, `hard_prompt`, or a rater's
  category): that category's board in the overall board's shape (`computed_at`, `votes`,
  `rows`), each row with `rank_change` (overall rank − rank here; positive: better here), plus
  `category`, `too_few`, `min_votes`, `overall_votes` and the snapshot's links
  (`arena.web.board_views.category_board`). A category with fewer votes than the job's
  `category_min_votes` answers 200 with `too_few: true`, no rows and a `detail` saying how many
  votes it has and needs: the category exists, it is just not ranked yet. An unknown category
  answers 404 (`unknown_category`) with the known ones listed.
- `show_retired=false`: rows of retired models left out (ranks stay the fit's). Default
  true: a data client gets every row, each with its `state`, as the job cached it.

Query values are untrusted: `category` is at most 128 characters of printable text on one line
(else 400 for the length, 422 for a control character, with what to fix), and `show_retired`
one of true/false/1/0/yes/no/on/off (else 400).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Query
from fastapi.responses import JSONResponse

from arena.battles.checks import MAX_NAME_CHARS, check_text
from arena.web.board_views import board_view

CATEGORY_HELP = (
    "A label (e.g. 'code', 'lang:de', 'hard_prompt'): that category's board; its rows carry "
    "rank_change (overall rank - rank here; positive: better here). Left out or empty: the "
    "overall board. Unknown: 404 listing the known ones. Too few votes: too_few true, no rows.")


class LeaderboardRoutes:
    """The `/api/leaderboard` handler over `leaderboard`, an async function returning the
    cached board dict (None before the first one)."""

    def __init__(self, leaderboard: Callable[[], Awaitable[dict[str, Any] | None]]) -> None:
        self.leaderboard = leaderboard

    # No docstring: FastAPI would publish it as the route's description.
    async def get_leaderboard(
        self,
        category: str | None = Query(None, max_length=MAX_NAME_CHARS,
                                     description=CATEGORY_HELP),
        show_retired: bool = Query(True, description="false: leave out retired models."),
    ) -> JSONResponse:
        if category:
            check_text(category, "category", max_chars=MAX_NAME_CHARS, one_line=True)
        board = await self.leaderboard()
        if board is None:
            return JSONResponse(
                {"computed_at": None, "votes": 0, "rows": [], "category": category or None,
                 "detail": "no leaderboard has been computed yet"}
            )
        return JSONResponse(board_view(board, category, show_retired=show_retired))
