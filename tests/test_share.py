"""Share links and the shared-battle page, in-process: the real `BattleService` over scripted
models, a SQLite log and the session's Redis (tests/fixtures/battle_service.py), and the page
served by the real handler inside the arena's security headers (httpx over ASGI).

A link only after the vote, only for its rater, only if they agreed to publish; the page shows
the conversation (scrubbed, rendered as safely as the arena), the models and the vote, offers
no way to act on the battle, and every bad link gets the same 404.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fixtures.battle_service import RuleArena, drain

from arena.battles.after_vote import VOTE_FIRST
from arena.errors import NotYourBattle, VoteConflict
from arena.record import Consent
from arena.web.security_headers import install_security_headers
from arena.web.share import NOT_SHARED, install_share_page

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER, STRANGER = "share-owner", "share-stranger"
PROMPT = "Write to jane.doe@example.com about **rivers**."
ANSWER = ("Dear Jane, <script>alert('x')</script> ![tracker](https://evil.example/p.png) "
          "call +44 20 7946 0958.")


def agreed(arena: RuleArena, publish: bool = True) -> Consent:
    return Consent(publish_text=publish, terms_version=arena.settings.consent_terms_version)


async def voted(arena: RuleArena, *, consent: Consent | None, winner: str = "model_b") -> str:
    battle_id, _ = await arena.battle(OWNER, PROMPT, consent=consent)
    await arena.service.vote(battle_id, OWNER, winner)
    return battle_id


async def page_client(arena: RuleArena) -> httpx.AsyncClient:
    app = FastAPI()
    install_share_page(app, arena.log, arena.service.share_links, arena.settings)
    install_security_headers(app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://arena")


@pytest.fixture
async def shared(arena: RuleArena) -> AsyncIterator[httpx.AsyncClient]:
    for model in ("alpha", "bravo"):
        arena.models.script(model, deltas=(ANSWER,))
    async with await page_client(arena) as client:
        yield client


async def test_the_shared_page_shows_the_battle_scrubbed_and_rendered_safely(
        arena: RuleArena, shared: httpx.AsyncClient):
    battle_id = await voted(arena, consent=agreed(arena))
    path = await arena.service.share_url(battle_id, OWNER)
    assert path is not None and path.startswith("/shared/")
    page = await shared.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    record = arena.logged(battle_id)
    body = page.text
    assert f"Left: <strong>{record.model_a}</strong>" in body
    assert f"preferred the right answer ({record.model_b})" in body
    assert "<strong>rivers</strong>" in body  # Markdown rendered
    assert "jane.doe@example.com" not in body and "{{EMAIL}}" in body  # scrubbed
    assert "7946 0958" not in body and "{{PHONE}}" in body
    assert "<script" not in body and "&lt;script&gt;" in body  # markup stays text
    assert "<img" not in body  # no image is ever loaded
    assert not re.search(r"<form|/api/|onclick|<button", body)  # nothing acts on the battle
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-robots-tag"].startswith("noindex")
    assert page.headers["cache-control"] == "no-store"
    assert (await shared.get(path)).text == body  # again, from the cache


async def test_no_link_without_consent_or_with_links_off(make_arena):
    arena = make_arena()
    declined = await voted(arena, consent=agreed(arena, publish=False))
    never_asked = await voted(arena, consent=None)
    assert await arena.service.share_url(declined, OWNER) is None
    assert await arena.service.share_url(never_asked, OWNER) is None
    # A link made anyway (as if signed by the arena) still shows nothing.
    async with await page_client(arena) as client:
        for battle_id in (declined, never_asked):
            page = await client.get(arena.service.share_links.path(battle_id))
            assert page.status_code == 404 and NOT_SHARED in page.text

    off = make_arena(share_links=False)
    battle_id = await voted(off, consent=agreed(off))
    assert await off.service.share_url(battle_id, OWNER) is None
    async with await page_client(off) as client:
        page = await client.get(off.service.share_links.path(battle_id))
        assert page.status_code == 404


async def test_a_link_only_after_the_vote_and_only_for_its_rater(arena: RuleArena):
    battle_id, _ = await arena.battle(OWNER, PROMPT, consent=agreed(arena))
    with pytest.raises(VoteConflict, match=VOTE_FIRST):
        await arena.service.share_url(battle_id, OWNER)
    with pytest.raises(NotYourBattle):
        await arena.service.share_url(battle_id, STRANGER)
    await arena.service.vote(battle_id, OWNER, "tie")
    with pytest.raises(NotYourBattle):
        await arena.service.share_url(battle_id, STRANGER)
    assert await arena.service.share_url(battle_id, OWNER) is not None


async def test_forged_links_get_the_same_404_and_links_tell_nothing_of_the_rater(
        arena: RuleArena, shared: httpx.AsyncClient):
    first = await voted(arena, consent=agreed(arena))
    second = await voted(arena, consent=agreed(arena))
    links = [await arena.service.share_url(b, OWNER) for b in (first, second)]
    tokens = [link.removeprefix("/shared/") for link in links]
    # Each token is its battle's random id and a signature over it: nothing of the rater, and
    # nothing two links of one rater share.
    for token, battle_id in zip(tokens, (first, second), strict=True):
        assert token.split(".")[0] == battle_id
        assert arena.service.rater(OWNER) not in token
    assert tokens[0].split(".")[1] != tokens[1].split(".")[1]
    forged = [
        f"{second}.{tokens[0].split('.')[1]}",  # another battle's signature
        tokens[0][:-2] + ("AA" if not tokens[0].endswith("AA") else "BB"),  # altered
        first,  # no signature
        "x" * 5000,  # oversized
        "%00",
    ]
    answers = [await shared.get(f"/shared/{token}") for token in forged]
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1 and NOT_SHARED in answers[0].text
    assert (await shared.get(links[0])).status_code == 200


async def test_a_regenerated_battle_is_shared_with_the_answers_voted_on(
        arena: RuleArena, shared: httpx.AsyncClient):
    battle_id, _ = await arena.battle(OWNER, PROMPT, consent=agreed(arena))
    for model in ("alpha", "bravo"):
        arena.models.script(model, deltas=("The answer shown last.",))
    await drain(await arena.service.regenerate(battle_id, OWNER))
    await arena.service.vote(battle_id, OWNER, "model_a")
    page = await shared.get(await arena.service.share_url(battle_id, OWNER))
    assert "The answer shown last." in page.text and "Dear Jane" not in page.text
