"""`GET /api/leaderboard?category=…&show_retired=…` over a board stored in the session's real
Redis through the real `LiveState.put_leaderboard` (the board: tests/category_boards.py), served
by the real handler and error handlers in-process (httpx over ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from category_boards import MATH_VOTES, MIN_VOTES, category_board
from fastapi import FastAPI

from arena.battles.checks import MAX_NAME_CHARS
from arena.live import LiveState
from arena.web.board_api import LeaderboardRoutes
from arena.web.board_views import LISTED_CATEGORIES, unknown_message
from arena.web.routes import install_error_handlers

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def board() -> dict[str, Any]:
    return category_board()


async def client_for(live: LiveState) -> httpx.AsyncClient:
    async def cached() -> dict[str, Any] | None:
        stored = await live.get_leaderboard()
        return stored.table if stored is not None else None

    app = FastAPI()
    install_error_handlers(app)
    app.add_api_route("/api/leaderboard", LeaderboardRoutes(cached).get_leaderboard,
                      methods=["GET"])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://arena")


@pytest.fixture
async def live(redis_url: str, live_prefix: str) -> AsyncIterator[LiveState]:
    state = LiveState.from_url(redis_url, prefix=live_prefix)
    try:
        yield state
    finally:
        await state.aclose()


@pytest.fixture
async def api(live: LiveState, board: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    await live.put_leaderboard(board, votes=board["votes"])
    async with await client_for(live) as client:
        yield client


async def test_a_category_is_served_in_the_overall_shape_with_rank_changes(
        api: httpx.AsyncClient, board: dict[str, Any]) -> None:
    answer = await api.get("/api/leaderboard", params={"category": "code"})
    assert answer.status_code == 200
    code = answer.json()
    assert {"computed_at", "votes", "rows"} <= code.keys()
    assert code["category"] == "code" and code["too_few"] is False
    assert code["votes"] == board["categories"]["code"]["votes"]
    assert code["overall_votes"] == board["votes"]
    assert code["manifest_url"] == board["manifest_url"]
    changes = {row["model"]: (row["rank"], row["rank_change"]) for row in code["rows"]}
    assert changes == {"gamma": (1, 2), "alpha": (2, -1), "beta": (3, -1)}
    # Every field of an overall row is there too.
    assert board["rows"][0].keys() <= code["rows"][0].keys()


async def test_no_category_is_the_overall_board_unchanged(
        api: httpx.AsyncClient, board: dict[str, Any]) -> None:
    for params in ({}, {"category": ""}):
        answer = await api.get("/api/leaderboard", params=params)
        assert answer.status_code == 200 and answer.json() == board


async def test_a_category_with_too_few_votes_says_so_and_ranks_nothing(
        api: httpx.AsyncClient) -> None:
    answer = await api.get("/api/leaderboard", params={"category": "math"})
    assert answer.status_code == 200
    math = answer.json()
    assert math["too_few"] is True and math["rows"] == []
    assert (math["votes"], math["min_votes"]) == (MATH_VOTES, MIN_VOTES)
    assert f"{MATH_VOTES} votes, at least {MIN_VOTES} needed" in math["detail"]


async def test_an_unknown_category_is_404_listing_the_known_ones(
        api: httpx.AsyncClient) -> None:
    answer = await api.get("/api/leaderboard", params={"category": "lang:xx"})
    assert answer.status_code == 404
    assert answer.json()["error"] == "unknown_category"
    assert "'lang:xx'" in answer.json()["detail"]
    assert "known categories: code, math" in answer.json()["detail"]


async def test_a_long_list_of_known_categories_is_cut_with_a_count() -> None:
    entries = {f"lang:{i:02d}": {} for i in range(LISTED_CATEGORIES + 5)}
    message = unknown_message("x", entries)
    assert message.count("lang:") == LISTED_CATEGORIES and "and 5 more" in message


async def test_retired_models_are_left_out_on_request_only(
        api: httpx.AsyncClient, board: dict[str, Any]) -> None:
    every = (await api.get("/api/leaderboard")).json()
    assert "delta" in [row["model"] for row in every["rows"]]
    active = (await api.get("/api/leaderboard", params={"show_retired": "false"})).json()
    assert [row["model"] for row in active["rows"]] == ["alpha", "beta", "gamma"]
    assert active["retired_hidden"] == 1
    assert all(row["model"] != "delta" for row in active["style_rows"] or [])
    # Ranks stay the fit's.
    assert [row["rank"] for row in active["rows"]] == [1, 2, 3]


@pytest.mark.parametrize(("params", "status", "fix"), [
    ({"category": "c" * (MAX_NAME_CHARS + 1)}, 400, f"at most {MAX_NAME_CHARS} characters"),
    ({"category": "code\nmath"}, 422, "tab or line break"),
    ({"category": "code\x07"}, 422, "control character U+0007"),
    ({"show_retired": "maybe"}, 400, "show_retired"),
])
async def test_untrusted_query_values_are_refused_with_what_to_fix(
        api: httpx.AsyncClient, params: dict[str, str], status: int, fix: str) -> None:
    answer = await api.get("/api/leaderboard", params=params)
    assert answer.status_code == status, answer.text
    assert fix in answer.json()["detail"]


async def test_before_the_first_board_a_category_gets_an_empty_board(
        live: LiveState) -> None:
    async with await client_for(live) as api:
        answer = await api.get("/api/leaderboard", params={"category": "code"})
    assert answer.status_code == 200
    assert answer.json()["rows"] == [] and "no leaderboard" in answer.json()["detail"]


async def test_an_older_board_without_categories_says_there_are_none(
        live: LiveState, board: dict[str, Any]) -> None:
    older = {key: value for key, value in board.items() if key != "categories"}
    await live.put_leaderboard(older, votes=older["votes"])
    async with await client_for(live) as api:
        answer = await api.get("/api/leaderboard", params={"category": "code"})
    assert answer.status_code == 404
    assert "no per-category boards yet" in answer.json()["detail"]
