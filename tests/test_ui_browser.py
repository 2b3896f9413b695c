"""The rater's screen in real Chromium over the real battle service with scripted models
(`make_ui_arena`, tests/fixtures/browser.py): what needs models that stream on cue (Stop
mid-answer, a model that fails, the limits) and the layout at both widths.

Each test clicks or types like a rater, then reads the SQL log the service wrote. The models'
names are "alpha" and "bravo"; each test scripts them (`server.models.script`). Every screen is
checked with axe-core (no serious or critical violation).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fixtures.browser import WIDTHS, ArenaPage, axe_violations, open_context

from arena.web.ui.states import BUSY_HEADLINE, FAILED_HEADLINE, LIMIT_HEADLINE

pytestmark = pytest.mark.browser

SLOW = {"deltas": tuple(f"w{i} " for i in range(200)), "delay_s": 0.05}  # ~10 s per answer


@pytest.fixture
def open_page(chromium) -> Iterator[Callable[..., ArenaPage]]:
    """`open_page(server, width="desktop")`: the arena in a new context at that width, its
    console errors in `.errors`; every context is closed when the test ends (an open page
    would hold its event stream, and its server, open)."""
    contexts = []

    def open_(server, width: str = "desktop") -> ArenaPage:
        context = open_context(chromium, width)
        contexts.append(context)
        page = ArenaPage(context.new_page())
        page.errors = []
        page.page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
        return page.open(server.url)

    try:
        yield open_
    finally:
        for context in contexts:
            context.close()


def wait_logged(server, count: int = 1, timeout_s: float = 30.0) -> list:
    """The log's battles once `count` are in SQL."""
    deadline = time.monotonic() + timeout_s
    while True:
        battles = list(server.log.iter_battles())
        if len(battles) >= count or time.monotonic() > deadline:
            return battles
        time.sleep(0.2)  # allowed sleep: poll interval of a read of the SQL log, with a deadline


def in_view(page, selector: str) -> bool:
    """The element lies wholly inside the viewport as the page is now (no scrolling)."""
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    return (box is not None and box["y"] >= 0 and box["x"] >= 0
            and box["y"] + box["height"] <= viewport["height"]
            and box["x"] + box["width"] <= viewport["width"])


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_first_screen_offers_the_prompt_box_send_and_examples_at_both_widths(
        make_ui_arena, open_page, width: str) -> None:
    server = make_ui_arena()
    page = open_page(server, width)
    p = page.page
    p.evaluate("() => window.scrollTo(0, 0)")
    assert in_view(p, "#prompt textarea") and in_view(p, "#send"), width
    assert p.evaluate("() => document.documentElement.scrollWidth") <= WIDTHS[width]["width"]
    # Every tab is in the tab bar at both widths (none folded into a "More tabs" menu).
    for tab in ("Arena", "Side by side", "Leaderboard", "About"):
        assert p.get_by_role("tab", name=tab).is_visible(), tab
    assert axe_violations(p) == []

    labels = [p.inner_text(f"#example-{i}") for i in range(4)]
    assert all(label.strip() for label in labels)
    p.click("#example-2")
    p.wait_for_function("() => document.querySelector('#prompt textarea').value.length > 0")
    filled = p.input_value("#prompt textarea")
    # The labels as they are now (the page-load draw may have relabelled them meanwhile).
    shown = [p.eval_on_selector(f"#example-{i}", "b => b.textContent").strip().rstrip("…")
             for i in range(4)]
    assert filled.startswith(shown[2]), (filled, shown)
    assert not p.is_visible("#examples")  # offered only while the box is empty
    p.press("#prompt textarea", "Enter")  # Enter sends
    page.wait_until_votable()
    assert page.messages("a")[0] == filled
    assert in_view(p, "#chat-a") or width == "phone"
    p.locator("#vote-a").scroll_into_view_if_needed()
    assert p.is_enabled("#vote-a")
    assert axe_violations(p) == []
    assert page.errors == []


def test_shortcut_keys_vote_and_start_a_new_round_but_never_while_typing(
        make_ui_arena, open_page) -> None:
    server = make_ui_arena()
    page = open_page(server)
    p = page.page
    hint = p.inner_text("#keys-hint")
    assert all(key in hint for key in ("A", "B", "T", "X", "N", "Enter"))
    p.click("#prompt textarea")
    p.keyboard.type("a b t x n")  # in the prompt box: letters, not votes
    assert p.input_value("#prompt textarea") == "a b t x n"
    p.keyboard.press("Enter")
    page.wait_until_votable()
    assert p.get_attribute("#vote-b", "aria-keyshortcuts") == "B"
    p.click("#chat-a")  # focus out of the prompt box
    p.keyboard.press("b")
    page.wait_for_names()
    (record,) = wait_logged(server)
    assert record.status == "voted" and record.winner == "model_b"
    assert record.turns[0].prompt == "a b t x n"
    p.keyboard.press("n")
    p.wait_for_function("() => document.querySelectorAll('#chat-a .message-content').length"
                        " === 0")
    assert page.names() == ("", "")


def test_stop_ends_both_answers_at_once_and_leaves_a_votable_battle(
        make_ui_arena, open_page) -> None:
    server = make_ui_arena()
    for model in ("alpha", "bravo"):
        server.models.script(model, **SLOW)
    page = open_page(server)
    p = page.page
    page.ask("Count slowly.")
    p.wait_for_function("() => !document.querySelector('#stop').disabled")
    assert not p.is_enabled("#send")
    p.wait_for_function("() => ['a', 'b'].every(s => document.querySelector(`#chat-${s}`)"
                        ".innerText.includes('w3'))")
    assert axe_violations(p) == []  # the streaming screen, Stop shown
    p.click("#stop")
    page.wait_until_votable(timeout_ms=20_000)
    assert p.is_enabled("#send") and not p.is_enabled("#stop")
    shown = page.messages("a")[1]
    page.vote("model_a")
    (record,) = wait_logged(server)
    assert record.status == "voted" and record.winner == "model_a"
    output = record.turns[0].generation_a.output
    assert 0 < len(output.split()) < 200, "the answer was cut short by Stop"
    assert shown.split()[:3] == output.split()[:3]
    assert sorted(server.models.stopped) == ["alpha", "bravo"]


def test_stop_before_one_side_wrote_anything_fails_the_battle_in_plain_words(
        make_ui_arena, open_page) -> None:
    server = make_ui_arena()
    server.models.script("alpha", **SLOW)
    server.models.script("bravo", deltas=("late",), delay_s=60)
    page = open_page(server)
    p = page.page
    page.ask("Hello?")
    p.wait_for_function("() => document.querySelector('#chat-a').innerText.includes('w3')"
                        " || document.querySelector('#chat-b').innerText.includes('w3')")
    p.click("#stop")
    status = page.wait_for_status("cannot be voted", timeout_ms=20_000)
    assert not page.votable() and "Traceback" not in status
    (record,) = wait_logged(server)
    assert record.status == "error" and record.winner is None


def test_a_failing_model_is_explained_and_the_other_answer_stays_on_screen(
        make_ui_arena, open_page) -> None:
    server = make_ui_arena()
    for model in ("alpha", "bravo"):
        server.models.script(model, deltas=("Partial", " answer", " here"), ending="error",
                             after=2)
    server.models.script("alpha", deltas=("Alpha", " answered", " fully."))
    page = open_page(server)
    page.ask("Tell me something.")
    status = page.wait_for_status(FAILED_HEADLINE)
    assert "New round" in status and "cannot be voted" in status
    answers = page.messages("a")[1] + page.messages("b")[1]
    assert "Alpha answered fully." in answers and "Partial answer" in answers
    assert not page.votable()
    assert axe_violations(page.page) == []


def test_the_rate_limit_is_explained_and_nothing_typed_or_shown_is_lost(
        make_ui_arena, open_page) -> None:
    """battles_per_minute = 1: a Regenerate counts as a new battle, so it is refused; the
    answers stay; a new battle's prompt stays in the box."""
    server = make_ui_arena(battles_per_minute=1)
    page = open_page(server)
    p = page.page
    page.ask("First battle.")
    page.wait_until_votable()
    before = (page.messages("a"), page.messages("b"))
    p.click("#regenerate")
    status = page.wait_for_status(LIMIT_HEADLINE)
    assert "per minute" in status and "try again in" in status
    assert (page.messages("a"), page.messages("b")) == before
    assert page.votable()  # the battle itself goes on
    page.vote("tie")
    page.new_round()
    page.ask("Second battle, too soon.")
    page.wait_for_status(LIMIT_HEADLINE)
    assert p.input_value("#prompt textarea") == "Second battle, too soon."
    assert axe_violations(p) == []


def test_a_busy_arena_says_so_and_keeps_the_prompt(
        make_ui_arena, open_page) -> None:
    """max_concurrent_streams = 1: while one rater's answers stream, another's battle is
    refused as the arena being at capacity."""
    server = make_ui_arena(max_concurrent_streams=1)
    for model in ("alpha", "bravo"):
        server.models.script(model, **SLOW)
    first = open_page(server)
    first.ask("Take your time.")
    first.page.wait_for_function("() => !document.querySelector('#stop').disabled")
    second = open_page(server, "phone")
    second.ask("My turn?")
    status = second.wait_for_status(BUSY_HEADLINE)
    assert "capacity" in status and "try again" in status
    assert second.page.input_value("#prompt textarea") == "My turn?"
    first.page.click("#stop")


FOCUSED = ("() => { const e = document.activeElement; const owner = e.closest('[id]');"
           " return e.getAttribute('role') === 'tab' ? 'tab' : (owner ? owner.id : e.tagName); }")


def tab_order(page, presses: int) -> list[str]:
    """The ids Tab visits from the page's first control, Agree (tabs as 'tab'), repeats
    collapsed."""
    page.focus("#consent-agree")
    seen: list[str] = ["consent-agree"]
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if not seen or seen[-1] != focused:
            seen.append(focused)
    return seen


def test_the_focus_order_follows_the_page(make_ui_arena, open_page) -> None:
    """Tab goes question, tabs, prompt, Send, examples, New round on a fresh page; once both
    answers are in, the votes come before the prompt box and Regenerate after it."""
    server = make_ui_arena()
    page = open_page(server)
    p = page.page
    order = tab_order(p, 16)
    assert order[:3] == ["consent-agree", "consent-decline", "tab"], order
    fresh = [i for i in order if i != "tab"]
    assert fresh[2:9] == ["prompt", "send", "example-0", "example-1", "example-2",
                          "example-3", "new-round"], order
    page.ask("Hello?")
    page.wait_until_votable()
    order = tab_order(p, 24)
    ready = [i for i in order if i not in ("tab", "consent-agree", "consent-decline")]
    assert ready[:7] == ["vote-a", "vote-b", "vote-tie", "vote-bothbad", "prompt", "send",
                         "regenerate"], order
