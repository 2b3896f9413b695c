"""The Leaderboard tab in real Chromium, at desktop width (1280x1000) and phone width (390x844):
choosing a category shows its board with each model's rank change, a category with too few
votes says so, retired models are hidden until the toggle shows them, the plots show their
numbers on hover (desktop) or tap (phone), and at phone width the page never scrolls sideways.

The board (tests/category_boards.py) is stored in the session's real Redis through the real
`LiveState.put_leaderboard` and read back by the tab on every event, as `arena serve` does; the
tab is served by uvicorn with the page's Gradio options under the arena's security headers
(CSP with nonces), so the plots are shown to work without any script of their own.

`ARENA_UPDATE_SCREENSHOT=1` also writes docs/leaderboard-desktop.png and
docs/leaderboard-phone.png (docs/ui.md).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
import uvicorn
from category_boards import MATH_VOTES, MIN_VOTES, category_board
from fastapi import FastAPI
from fixtures.battle_service import wait_until_serving
from fixtures.browser import ArenaPage
from fixtures.ports import reserved_port

from arena.live import LiveState
from arena.web.security_headers import install_security_headers
from arena.web.ui.board_table import CATEGORY_COLUMNS, CHANGE_COLUMN, COLUMNS
from arena.web.ui.leaderboard import build_leaderboard_tab
from arena.web.ui.page import MOUNT_OPTIONS

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[1] / "docs"
WIDTHS = {"desktop": {"width": 1280, "height": 1000}, "phone": {"width": 390, "height": 844}}
CELL = "#leaderboard [data-testid='cell-{}-{}']"  # Gradio's Dataframe cells, by row, column


@pytest.fixture
def tab_url(redis_url: str, live_prefix: str) -> Iterator[str]:
    """The Leaderboard tab alone (inside gr.Tabs, as on the page) reading the cached board
    from Redis, as `ArenaRuntime.leaderboard` does."""
    board = category_board()

    async def store() -> None:
        live = LiveState.from_url(redis_url, prefix=live_prefix)
        try:
            await live.put_leaderboard(board, votes=board["votes"])
        finally:
            await live.aclose()

    # In a thread of its own: Playwright's event loop runs in this one.
    storing = threading.Thread(target=asyncio.run, args=(store(),))
    storing.start()
    storing.join(timeout=30)
    readers: list[LiveState] = []  # made in the server's own event loop, on first use

    async def leaderboard() -> dict[str, Any] | None:
        if not readers:
            readers.append(LiveState.from_url(redis_url, prefix=live_prefix))
        cached = await readers[0].get_leaderboard()
        return cached.table if cached is not None else None

    with gr.Blocks() as demo, gr.Tabs():
        with gr.Tab("Arena"):
            gr.Markdown("arena")
        build_leaderboard_tab(leaderboard)
    app = gr.mount_gradio_app(FastAPI(), demo, path="/", **MOUNT_OPTIONS)
    install_security_headers(app)
    port = reserved_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    wait_until_serving(url, thread, "the tab's server")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(params=list(WIDTHS))
def board_page(request: pytest.FixtureRequest, chromium, tab_url: str) -> Iterator[Any]:
    """The Leaderboard tab opened at one width (a touch screen at phone width), with the
    page's console errors collected in `page.errors`."""
    phone = request.param == "phone"
    context = chromium.new_context(viewport=WIDTHS[request.param], is_mobile=phone,
                                   has_touch=phone)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.width = request.param
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    ArenaPage(page)  # records traffic as every arena page does (unused here)
    try:
        page.goto(tab_url)
        page.get_by_role("tab", name="Leaderboard").click()
        page.wait_for_function("() => document.querySelector('#leaderboard-info')"
                               ".innerText.includes('from 54 votes')")
        page.wait_for_selector("#leaderboard-ci [data-model='alpha']")
        yield page
    finally:
        context.close()


def choose(page, label_start: str) -> None:
    """Pick the selector's choice whose text starts with `label_start`."""
    page.click("#leaderboard-category input")
    page.get_by_role("option").filter(has_text=label_start).first.click()


def table(page, columns: list[str]) -> dict[str, dict[str, str]]:
    """The displayed table: model → {column: cell text}."""
    model = columns.index("Model")
    shown = {}
    row = 0
    while page.locator(CELL.format(row, model)).count():
        cells = [page.inner_text(CELL.format(row, col)).strip() for col in range(len(columns))]
        if cells[model]:  # Gradio shows an empty table as one blank row
            shown[cells[model]] = dict(zip(columns, cells, strict=True))
        row += 1
    return shown


def test_a_category_shows_its_board_with_rank_changes_and_a_thin_one_says_so(
        board_page) -> None:
    page = board_page
    choose(page, "code")
    page.wait_for_function("() => document.querySelector('#leaderboard-category-info')"
                           ".innerText.includes('Category code')")
    page.wait_for_function(f"() => document.querySelector('#leaderboard').innerText"
                           f".includes('{CHANGE_COLUMN}')")
    code = table(page, CATEGORY_COLUMNS)
    assert {m: (row["Rank"], row[CHANGE_COLUMN]) for m, row in code.items()} == {
        "gamma": ("1", "▲ 2"), "alpha": ("2", "▼ 1"), "beta": ("3", "▼ 1")}
    assert code["gamma"]["Status"] == "provisional · preview"
    assert "26 votes of the 54" in page.inner_text("#leaderboard-category-info")
    if page.width == "desktop" and os.environ.get("ARENA_UPDATE_SCREENSHOT"):
        page.screenshot(path=str(DOCS / "leaderboard-category-desktop.png"), full_page=True)

    choose(page, "math")
    page.wait_for_function("() => document.querySelector('#leaderboard-category-info')"
                           ".innerText.includes('Too few votes')")
    info = page.inner_text("#leaderboard-category-info")
    assert f"{MATH_VOTES} votes, at least {MIN_VOTES} needed" in info
    assert table(page, CATEGORY_COLUMNS) == {}
    assert not page.locator("#leaderboard-ci").is_visible()
    assert page.errors == []


def test_retired_models_hide_behind_the_toggle_and_the_plots_show_numbers_on_hover(
        board_page) -> None:
    page = board_page
    overall = table(page, COLUMNS)
    assert list(overall) == ["alpha", "beta", "gamma"]
    assert overall["alpha"]["Rank range"] == "1–3" and overall["alpha"]["Votes"] == "29"
    assert overall["alpha"]["Median TTFT"] == "0.42 s"
    assert overall["beta"]["Ties"] == "20.0%" and overall["beta"]["Both bad"] == "10.0%"
    assert "1 retired model is hidden" in page.inner_text("#leaderboard-legend")

    # Hover (desktop) or tap (phone) a model's interval: its numbers appear.
    point = page.locator("#leaderboard-ci [data-model='alpha']")
    tip = point.locator(".lb-tip")
    assert not tip.is_visible()
    point.tap() if page.width == "phone" else point.hover()
    tip.wait_for(state="visible")
    assert "alpha: rating 1165.7, 95% CI 1049.2 to 1282.2, rank 1 (range 1–3), 29 votes" \
        in tip.inner_text()
    dot = page.locator("#leaderboard-speed [data-model='beta']")
    dot.tap() if page.width == "phone" else dot.hover()
    dot.locator(".lb-tip").wait_for(state="visible")
    assert "first token after 0.61 s (median), 24.0 tokens/s" in dot.inner_text()
    assert page.locator("#leaderboard-heatmap td[title*='alpha beats beta']").count() == 1

    if page.width == "phone":
        # No sideways scroll of the page; the table scrolls within itself.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.evaluate("() => [...document.querySelectorAll('#leaderboard *')].some("
                             "e => e.scrollWidth > e.clientWidth + 1 && "
                             "['auto', 'scroll'].includes(getComputedStyle(e).overflowX))")
    if os.environ.get("ARENA_UPDATE_SCREENSHOT"):
        page.screenshot(path=str(DOCS / f"leaderboard-{page.width}.png"), full_page=True)

    page.click("#leaderboard-retired input")
    page.wait_for_function("() => document.querySelector('#leaderboard')"
                           ".innerText.includes('delta')")
    shown = table(page, COLUMNS)
    assert list(shown) == ["alpha", "beta", "gamma", "delta"]
    assert shown["delta"]["Status"] == "provisional · retired"
    assert page.locator("#leaderboard-ci [data-model='delta']").count() == 1
    assert page.errors == []
