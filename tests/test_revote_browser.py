"""One re-vote battle in a real browser: Chromium (Playwright) against `arena serve --revote`.

No prompt box: the rater clicks Next battle, reads the logged prompts and answers, votes, and
sees the names; the SQL log then holds a vote of mode `replay` on that original battle.
"""

from __future__ import annotations

import time

import pytest
from fixtures.browser import ArenaPage
from fixtures.replay_server import MODELS

pytestmark = [pytest.mark.browser]


def test_a_revote_battle_in_the_browser_shows_logged_turns_and_records_the_revote(
        replay_server, arena_page: ArenaPage):
    page = arena_page.page
    before = {b.battle_id for b in replay_server.log.iter_battles()}
    page.goto(replay_server.url)
    page.wait_for_selector("#next-battle", timeout=60_000)
    assert page.locator("#prompt textarea").count() == 0, "a re-vote arena has no prompt box"
    assert page.get_by_role("tab", name="Side by side").count() == 0
    assert not arena_page.votable()

    page.click("#next-battle")
    arena_page.wait_until_votable(timeout_ms=30_000)
    assert "vote for the better one" in arena_page.status()
    left, right = arena_page.messages("a"), arena_page.messages("b")
    # Nothing before the vote named a model.
    assert arena_page.traffic.find(list(MODELS)) == {}

    arena_page.vote("model_b")
    name_a, name_b = arena_page.names()
    assert "Next battle" in arena_page.status()

    deadline = time.monotonic() + 15
    while not (fresh := [b for b in replay_server.log.iter_battles()
                         if b.battle_id not in before]) and time.monotonic() < deadline:
        time.sleep(0.2)  # allowed sleep: polls SQL another process writes
    assert len(fresh) == 1
    record = fresh[0]
    assert (record.mode, record.status, record.winner) == ("replay", "voted", "model_b")
    assert record.model_a in name_a and record.model_b in name_b
    original = replay_server.originals[record.replay_of]
    # Each column showed the logged prompt as the user's message, then its side's answer.
    expected_a, expected_b = [], []
    for turn in record.turns:
        expected_a += [turn.prompt, turn.generation_a.output]
        expected_b += [turn.prompt, turn.generation_b.output]
    assert [m.strip() for m in left] == expected_a
    assert [m.strip() for m in right] == expected_b
    assert [t.prompt for t in original.turns] == [t.prompt for t in record.turns]

    # Next battle clears the names and shows another original.
    page.click("#next-battle")
    arena_page.wait_until_votable(timeout_ms=30_000)
    assert arena_page.names() == ("", "")
