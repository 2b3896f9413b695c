"""The Leaderboard tab in real Chromium shows how fragile the board is: the headline above the
table and, per row, the votes to swap with the next model. The board is the live job's own
(`rate_snapshot` on a JSONL export built with tests/factories.py); the tab is served by uvicorn
with the page's Gradio options; no model server runs."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pytest
import uvicorn
from factories import make_battle
from fastapi import FastAPI
from fixtures.battle_service import wait_until_serving
from fixtures.browser import ArenaPage
from fixtures.ports import reserved_port

from arena.jobs.leaderboard import rate_snapshot
from arena.web.ui.leaderboard import COLUMNS, SWAP_COLUMN, build_leaderboard_tab
from arena.web.ui.page import MOUNT_OPTIONS

pytestmark = pytest.mark.browser


# (winner, loser, times): alpha > beta > gamma, with upsets; every pair met.
RESULTS = [("alpha", "beta", 9), ("beta", "alpha", 3), ("beta", "gamma", 8),
           ("gamma", "beta", 4), ("alpha", "gamma", 7), ("gamma", "alpha", 2)]


@pytest.fixture
def board(tmp_path) -> dict:
    battles = [make_battle(model_a=won, model_b=lost, winner="model_a", turn_count=1)
               for won, lost, times in RESULTS for _ in range(times)]
    export = tmp_path / "export.jsonl"
    export.write_text("".join(json.dumps(b.to_dict(), default=str) + "\n" for b in battles),
                      encoding="utf-8")
    return rate_snapshot(export, tmp_path / "leaderboard.json")


@pytest.fixture
def tab_url(board: dict) -> Iterator[str]:
    """The Leaderboard tab alone (inside gr.Tabs, as on the page), serving `board`."""

    async def leaderboard() -> dict:
        return board

    with gr.Blocks() as demo, gr.Tabs():
        with gr.Tab("Arena"):
            gr.Markdown("arena")
        build_leaderboard_tab(leaderboard)
    app = gr.mount_gradio_app(FastAPI(), demo, path="/", **MOUNT_OPTIONS)
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


def test_the_tab_shows_the_headline_and_the_votes_to_swap_each_row(
        arena_page: ArenaPage, tab_url: str, board: dict, tmp_path: Path) -> None:
    page = arena_page.page
    page.goto(tab_url)
    page.get_by_role("tab", name="Leaderboard").click()
    page.wait_for_function("() => document.querySelector('#leaderboard-info')"
                           ".innerText.includes('would change if')")
    leader = board["robustness"]["leader"]
    votes = leader["votes"]
    info = page.inner_text("#leaderboard-info")
    assert f"#1 would change if {votes} vote{'s' if votes != 1 else ''} were removed" in info
    assert SWAP_COLUMN in page.inner_text("#leaderboard")
    last = len(COLUMNS) - 1  # cells are data-testid="cell-ROW-COLUMN"
    cell = "#leaderboard [data-testid='cell-{}-{}']"
    shown = {page.inner_text(cell.format(row, 2)).strip():
             page.inner_text(cell.format(row, last)).strip() for row in range(len(board["rows"]))}
    expected = {pair["upper"]: f"{'' if pair['exact'] else '≤ '}{pair['votes']}"
                for pair in board["robustness"]["adjacent"]}
    assert shown == {**expected, board["rows"][-1]["model"]: ""}
    # The published file holds the same numbers the tab shows.
    assert json.loads((tmp_path / "leaderboard.json").read_text())["robustness"]["leader"] \
        == leader
