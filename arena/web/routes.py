"""The REST API's handlers: a thin FastAPI layer over `BattleService`.

The routes themselves (paths, methods, summaries) are listed in one place, `arena.web.app`.
Sessions: `arena.web.sessions` (every battle route needs the `X-Arena-Session` header of a
session from `POST /api/sessions`); limits: `arena.web.guard`; streaming answers:
`arena.web.sse`.

After a turn the rater may regenerate it (`POST .../regenerate`, SSE like a follow-up) or, while
it streams, stop it (`POST .../stop`); after the vote, give one reason (`POST .../reason`, the
tags from `GET /api/reasons`) and ask for a share link (`GET .../share`: a path, or null when
the rater did not agree to publish the battle's text). The shared page itself:
`arena.web.share`.

Status codes: 400 empty or invalid input, 401 no session or a bad one, 403 not your battle
(or a failed session challenge), 404 unknown battle or leaderboard category, 409 already
voted / not finished / failed / regenerated its limit / reason already given, 413 prompt too
long, 422 a text field the arena refuses (too
long, control characters), 429 rate-limited (with Retry-After), 503 no healthy models, Redis
down or the arena at capacity (with Retry-After). Every error body is
`{"error": code, "detail": message}`.

The leaderboard's handler: `arena.web.board_api`.

Everything here is public, so nothing here may narrow a pair before the vote: `/api/models`
lists names without their health, `/healthz` says only whether the arena is ok (operators get
the details at `/api/operator/health`, `arena.web.operator`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool

from arena.battles import BattleService
from arena.errors import ArenaError, BadInput
from arena.record import Consent
from arena.store import RecordRefused
from arena.web.guard import BattleGuard
from arena.web.identity import ClientIdentity
from arena.web.sse import stream_response

log = logging.getLogger(__name__)


class StartBattle(BaseModel):
    prompt: str = Field(description="The first user prompt.")
    mode: str = Field("anonymous", description="'anonymous' (sampled pair) or 'named'.")
    models: list[str] | None = Field(
        None, description="Named mode only: [left, right] public model names."
    )
    category: str | None = None
    publish_text: StrictBool | None = Field(
        None, description="The rater's answer to the publication terms: true if this battle's "
        "text may be published (scrubbed of personal data), false if not. Omitted: not asked, "
        "never published. Give it with terms_version.")
    terms_version: str | None = Field(
        None, description="The version of the terms the rater answered "
        "([arena] consent_terms_version); another version than the current one is refused.")

    def consent(self) -> Consent | None:
        """The rater's answer as the service takes it; None when they were not asked."""
        if self.publish_text is None and self.terms_version is None:
            return None
        if self.publish_text is None or not self.terms_version:
            raise BadInput("publish_text and terms_version go together: send both (the "
                           "rater's answer and the version of the terms they answered) or "
                           "neither")
        return Consent(publish_text=self.publish_text, terms_version=self.terms_version)


class FollowUp(BaseModel):
    prompt: str


class CastVote(BaseModel):
    winner: str = Field(description="'model_a' (left), 'model_b' (right), 'tie', 'tie (bothbad)'")
    idempotency_key: str | None = Field(
        None, description="A key the client makes for this vote (e.g. a random UUID): a "
        "retry with the same key after a lost answer gets the recorded vote's reveal again.")


class GiveReason(BaseModel):
    tags: list[str] = Field(
        default_factory=list, description="Tags among GET /api/reasons' `tags` (may be empty "
        "when a comment is given).")
    comment: str | None = Field(
        None, description="A short comment, at most GET /api/reasons' `comment_chars` "
        "characters.")


class VoteReveal(BaseModel):
    """The answer to a vote, once it is in SQL: the names behind the two sides."""

    battle_id: str
    winner: str
    model_a: str = Field(description="The model that answered on the left.")
    model_b: str = Field(description="The model that answered on the right.")
    flags: list[str] = Field(description="e.g. 'identity_leak': kept, off the default board.")


# The handlers carry no docstrings: FastAPI would publish them as the routes' descriptions.
class BattleRoutes:
    """The handlers of the battle `/api` routes and `/healthz` over one service, its limits
    (`guard`) and the callers' identities."""

    def __init__(
        self,
        service: BattleService,
        health: Callable[[], Awaitable[dict[str, Any]]],
        *,
        guard: BattleGuard,
        identity: ClientIdentity,
    ):
        self.service = service
        self.health = health
        self.guard = guard
        self.identity = identity

    async def start_battle(self, body: StartBattle, request: Request) -> Response:
        client = self.identity.rest_client(request)
        models = tuple(body.models) if body.models else None
        _, events = await self.guard.start(
            client, body.prompt, mode=body.mode, models=models, category=body.category,
            consent=body.consent(),
        )
        return stream_response(events)

    async def follow_up(self, battle_id: str, body: FollowUp, request: Request) -> Response:
        client = self.identity.rest_client(request)
        events = await self.guard.continue_battle(client, battle_id, body.prompt)
        return stream_response(events)

    async def vote(self, battle_id: str, body: CastVote, request: Request) -> Response:
        client = self.identity.rest_client(request)
        reveal = await self.guard.vote(client, battle_id, body.winner,
                                       idempotency_key=body.idempotency_key)
        # Encoded here (the route's response_model documents it): the hottest route skips
        # FastAPI's validation of its own return value.
        return Response(
            orjson.dumps({
                "battle_id": reveal.battle_id,
                "winner": reveal.winner,
                "model_a": reveal.model_a,
                "model_b": reveal.model_b,
                "flags": list(reveal.flags),
            }),
            media_type="application/json",
        )

    async def end(self, battle_id: str, request: Request) -> dict[str, Any]:
        client = self.identity.rest_client(request)
        logged = await self.service.end(battle_id, client.session, "new_round")
        return {"battle_id": battle_id, "logged_as_abandoned": logged}

    async def regenerate(self, battle_id: str, request: Request) -> Response:
        client = self.identity.rest_client(request)
        events = await self.guard.regenerate(client, battle_id)
        return stream_response(events)

    async def stop(self, battle_id: str, request: Request) -> dict[str, Any]:
        client = self.identity.rest_client(request)
        stopped = await self.service.stop(battle_id, client.session)
        return {"battle_id": battle_id, "stopped": stopped}

    async def reason(self, battle_id: str, body: GiveReason, request: Request
                     ) -> dict[str, Any]:
        client = self.identity.rest_client(request)
        await self.service.set_reason(battle_id, client.session, body.tags, body.comment)
        return {"battle_id": battle_id, "stored": True}

    async def share(self, battle_id: str, request: Request) -> dict[str, Any]:
        client = self.identity.rest_client(request)
        path = await self.service.share_url(battle_id, client.session)
        return {"battle_id": battle_id, "share_url": path}

    async def reasons(self) -> dict[str, Any]:
        return {"tags": list(self.service.reason_tags),
                "comment_chars": self.service.settings.reason_comment_chars}

    async def models(self) -> dict[str, Any]:
        # Names only: which models are up would tell a rater which pairs can be drawn. Retired
        # models are left out: a named battle with one is refused.
        return {"models": [{"name": name} for name in await self.service.states.pickable()]}

    async def healthz(self) -> JSONResponse:
        # Ok or not, nothing more: addresses and driver errors are for operators only.
        ok = bool((await self.health()).get("ok"))
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503,
                            headers={"Cache-Control": "no-store"})


def install_error_handlers(app: FastAPI) -> None:
    """Turn ArenaError and request validation failures into readable JSON errors."""

    @app.exception_handler(ArenaError)
    async def arena_error(_: Request, error: ArenaError) -> JSONResponse:
        headers = {}
        if error.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, int(error.retry_after_s + 0.999)))
        return JSONResponse(
            {"error": error.code, "detail": error.message},
            status_code=error.status,
            headers=headers,
        )

    @app.exception_handler(RecordRefused)
    async def record_refused(_: Request, error: RecordRefused) -> JSONResponse:
        # The database's reason is for the operator's log, not for the rater.
        log.warning("%s", error)
        return JSONResponse(
            {"error": "not_recordable",
             "detail": "the vote log refused this battle's record, so the vote did not count; "
                       "start a new round"},
            status_code=422,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', ()) if p != 'body') or 'body'}: "
            f"{item.get('msg')}"
            for item in error.errors()
        )
        return JSONResponse(
            {"error": "bad_input", "detail": f"invalid request: {problems}"}, status_code=400
        )
