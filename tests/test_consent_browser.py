"""The publication question in real Chromium: asked once above the first prompt, answered with
one click (or the keyboard), kept across New round, logged with every battle and its terms
version; declining still battles and votes. The page is served in-process over the real
service, the session's Redis and a SQLite file (`ui_arena`, tests/fixtures/battle_service.py);
the models are scripted, so no model server runs.
"""

from __future__ import annotations

import pytest
from fixtures.battle_service import UiArena
from fixtures.browser import ArenaPage

from arena.record import BattleRecord

pytestmark = pytest.mark.browser

AGREE = "Agree: publish my conversation (scrubbed)"
DECLINE = "Decline: keep my conversation private"


def battle_and_vote(page: ArenaPage, prompt: str) -> None:
    page.ask(prompt)
    page.wait_until_votable()
    page.vote("tie")  # returns once the names show: the vote is in SQL


def logged(ui: UiArena) -> list[BattleRecord]:
    return sorted(ui.log.iter_battles(), key=lambda b: b.started_at)


def test_agreeing_once_is_logged_with_every_battle_and_its_terms_version(
    ui_arena: UiArena, arena_page: ArenaPage
):
    page = arena_page.open(ui_arena.url)
    question = page.page.locator("#consent")
    assert "May we publish your conversation?" in question.inner_text()
    assert "still battle and vote" in page.page.inner_text("#consent-terms")
    page.page.get_by_role("button", name=AGREE).click()
    page.page.wait_for_selector("#consent", state="hidden")
    note = page.page.inner_text("#consent-note")
    assert "You agreed" in note and "terms version 2026-01" in note

    battle_and_vote(page, "First battle, agreed.")
    page.new_round()  # the answer stays for the page's session
    battle_and_vote(page, "Second battle, still agreed.")

    records = logged(ui_arena)
    assert [r.turns[0].prompt for r in records] == ["First battle, agreed.",
                                                    "Second battle, still agreed."]
    assert [(r.publish_consent, r.terms_version) for r in records] == [(True, "2026-01")] * 2
    assert page.page.locator("#consent").is_hidden()


def test_declining_by_keyboard_still_battles_and_votes(ui_arena: UiArena, arena_page: ArenaPage):
    page = arena_page.open(ui_arena.url)
    decline = page.page.get_by_role("button", name=DECLINE)
    decline.focus()
    page.page.keyboard.press("Enter")
    page.page.wait_for_selector("#consent", state="hidden")
    assert "You declined" in page.page.inner_text("#consent-note")

    battle_and_vote(page, "A battle whose text stays private.")
    assert page.names()[0].startswith("Model A:")
    (record,) = logged(ui_arena)
    assert (record.status, record.winner) == ("voted", "tie")
    assert (record.publish_consent, record.terms_version) == (False, "2026-01")


def test_a_prompt_sent_without_an_answer_is_logged_as_never_asked(
    ui_arena: UiArena, arena_page: ArenaPage
):
    page = arena_page.open(ui_arena.url)
    battle_and_vote(page, "No answer given.")
    (record,) = logged(ui_arena)
    assert (record.publish_consent, record.terms_version) == (None, None)
    # The question is still there for the next battle.
    assert page.page.get_by_role("button", name=AGREE).is_visible()
