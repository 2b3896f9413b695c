"""The REST side of #18, in-process: regenerate, stop, the reason and the share link through
the real handlers (`arena.web.routes.BattleRoutes`), the real limits (`BattleGuard` over the
session's Redis), real signed sessions and the real error handlers, over the real
`BattleService` with scripted models (tests/fixtures/battle_service.py); httpx over ASGI.
The routes are added as `arena.web.app.add_routes` adds them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fixtures.battle_service import RuleArena

from arena.battles.stopping import STOPPED_VOTABLE
from arena.live.limits import LimitStore
from arena.web.client_address import ProxyTrust
from arena.web.guard import BattleGuard
from arena.web.identity import ClientIdentity
from arena.web.routes import BattleRoutes, install_error_handlers
from arena.web.security_headers import install_security_headers
from arena.web.sessions import SESSION_HEADER, SessionSigner
from arena.web.share import install_share_page
from arena.web.sse import event_stream

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET = "a-test-session-secret-of-at-least-32-characters"
LONG = tuple(f"word{i} " for i in range(400))


@dataclass
class Api:
    http: httpx.AsyncClient
    signer: SessionSigner
    arena: RuleArena

    def rater(self) -> dict[str, str]:
        return {SESSION_HEADER: self.signer.issue()}

    async def sse(self, path: str, headers: dict[str, str], **body: Any) -> list[dict]:
        answer = await self.http.post(path, headers=headers, json=body)
        assert answer.status_code == 200, answer.text
        return [json.loads(line[5:]) for line in answer.text.splitlines()
                if line.startswith("data:")]


def build_app(arena: RuleArena, signer: SessionSigner) -> FastAPI:
    service = arena.service
    identity = ClientIdentity(signer, ProxyTrust())
    guard = BattleGuard(service, LimitStore(service.live.client, prefix=service.live.prefix),
                        arena.settings, max_streams=100)

    async def health() -> dict[str, Any]:
        return {"ok": True}

    api = BattleRoutes(service, health, guard=guard, identity=identity)
    app = FastAPI()
    install_error_handlers(app)
    for method, path, handler in (
        ("POST", "/api/battles", api.start_battle),
        ("POST", "/api/battles/{battle_id}/vote", api.vote),
        ("POST", "/api/battles/{battle_id}/regenerate", api.regenerate),
        ("POST", "/api/battles/{battle_id}/stop", api.stop),
        ("POST", "/api/battles/{battle_id}/reason", api.reason),
        ("GET", "/api/battles/{battle_id}/share", api.share),
        ("GET", "/api/reasons", api.reasons),
    ):
        app.add_api_route(path, handler, methods=[method])
    install_share_page(app, service.log, service.share_links, arena.settings)
    install_security_headers(app)
    return app


@pytest.fixture
async def api(make_arena) -> AsyncIterator[Api]:
    arena = make_arena(battles_per_minute=2, consent_terms_version="t1")
    signer = SessionSigner(SECRET, max_age_s=3600)
    transport = httpx.ASGITransport(app=build_app(arena, signer))
    async with httpx.AsyncClient(transport=transport, base_url="http://arena") as http:
        yield Api(http, signer, arena)


def kinds(events: list[dict]) -> list[str]:
    return [e["kind"] for e in events if e["kind"] != "delta"]


async def test_regenerate_vote_reason_and_share_over_rest(api: Api):
    rater, stranger = api.rater(), api.rater()
    started = await api.sse("/api/battles", rater, prompt="Hi?", publish_text=True,
                            terms_version="t1")
    battle_id = started[0]["battle_id"]
    again = await api.sse(f"/api/battles/{battle_id}/regenerate", rater)
    assert kinds(again) == ["done", "done", "ready"]
    assert all(set(e) <= {"kind", "side", "text"} for e in again)
    refused = await api.http.post(f"/api/battles/{battle_id}/regenerate", headers=stranger)
    assert (refused.status_code, refused.json()["error"]) == (403, "not_your_battle")
    limited = await api.http.post(f"/api/battles/{battle_id}/regenerate", headers=rater)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1

    early = await api.http.get(f"/api/battles/{battle_id}/share", headers=rater)
    assert early.status_code == 409 and "vote first" in early.json()["detail"]
    vote = await api.http.post(f"/api/battles/{battle_id}/vote", headers=rater,
                               json={"winner": "model_a"})
    assert vote.status_code == 200

    reasons = (await api.http.get("/api/reasons")).json()
    assert reasons == {"tags": list(api.arena.service.reason_tags), "comment_chars": 500}
    bad = await api.http.post(f"/api/battles/{battle_id}/reason", headers=rater,
                              json={"tags": ["shorter"]})
    assert (bad.status_code, bad.json()["error"]) == (422, "invalid_field")
    assert "choose among" in bad.json()["detail"]
    given = await api.http.post(f"/api/battles/{battle_id}/reason", headers=rater,
                                json={"tags": ["safer"], "comment": "Kind."})
    assert given.status_code == 200 and given.json() == {"battle_id": battle_id, "stored": True}
    twice = await api.http.post(f"/api/battles/{battle_id}/reason", headers=rater,
                                json={"tags": ["safer"]})
    assert twice.status_code == 409
    anonymous = await api.http.post(f"/api/battles/{battle_id}/reason", json={"tags": []})
    assert anonymous.status_code == 401
    record = api.arena.logged(battle_id)
    assert (record.reason_tags, record.reason_comment) == (["safer"], "Kind.")
    assert len(record.discarded_turns) == 1

    other = await api.http.get(f"/api/battles/{battle_id}/share", headers=stranger)
    assert other.status_code == 403
    link = (await api.http.get(f"/api/battles/{battle_id}/share", headers=rater)).json()
    page = await api.http.get(link["share_url"])
    assert page.status_code == 200 and record.model_a in page.text


async def test_stop_over_rest_ends_the_stream_another_request_holds(api: Api):
    rater = api.rater()
    for model in ("alpha", "bravo"):
        api.arena.models.script(model, deltas=LONG, delay_s=0.02)
    session = api.signer.verify(rater[SESSION_HEADER])
    battle_id, events = await api.arena.service.start(session, "Long story, please.")
    chunks: list[bytes] = []
    wrote = asyncio.Event()

    async def read() -> None:  # the stream as the routes send it
        async for chunk in event_stream(events):
            chunks.append(chunk)
            text = b"".join(chunks)
            if b'"side": "a", "text": "word' in text and b'"side": "b", "text": "word' in text:
                wrote.set()

    reader = asyncio.create_task(read())
    await asyncio.wait_for(wrote.wait(), timeout=6)
    answer = await api.http.post(f"/api/battles/{battle_id}/stop", headers=rater)
    assert answer.json() == {"battle_id": battle_id, "stopped": True}
    await asyncio.wait_for(reader, timeout=6)
    sent = b"".join(chunks).decode()
    assert "event: stopped" in sent and "event: ready" in sent
    stopped = next(json.loads(line[5:]) for line in sent.splitlines()
                   if line.startswith("data:") and '"stopped"' in line)
    assert stopped == {"kind": "stopped", "side": None, "text": STOPPED_VOTABLE,
                       "votable": True}
    again = await api.http.post(f"/api/battles/{battle_id}/stop", headers=rater)
    assert again.json()["stopped"] is False
    vote = await api.http.post(f"/api/battles/{battle_id}/vote", headers=rater,
                               json={"winner": "tie"})
    assert vote.status_code == 200
