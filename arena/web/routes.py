"""The REST API: a thin FastAPI layer over `BattleService`.

Sessions: a battle belongs to the session that started it. A client names its session with the
`X-Arena-Session` header, or gets an `arena_session` cookie on its first request. The service
only ever sees a salted hash of it.

Streams are Server-Sent Events. Each event's `event:` is the BattleEvent kind and its `data:` the
event as JSON (`{"kind", "side", "text", ...}`); model names never appear before the vote.

Status codes: 400 empty or invalid input, 403 not your battle, 404 unknown battle, 409 already
voted / not finished / failed, 413 prompt too long, 429 rate-limited (with Retry-After),
503 no healthy models or Redis down. Every error body is `{"error": code, "detail": message}`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from arena.battles import BattleEvent, BattleService
from arena.errors import ArenaError

SESSION_COOKIE = "arena_session"
SESSION_HEADER = "x-arena-session"


class StartBattle(BaseModel):
    prompt: str = Field(description="The first user prompt.")
    mode: str = Field("anonymous", description="'anonymous' (sampled pair) or 'named'.")
    models: list[str] | None = Field(
        None, description="Named mode only: [left, right] public model names."
    )
    category: str | None = None


class FollowUp(BaseModel):
    prompt: str


class CastVote(BaseModel):
    winner: str = Field(description="'model_a' (left), 'model_b' (right), 'tie', 'tie (bothbad)'")


class VoteReveal(BaseModel):
    """The answer to a vote, once it is in SQL: the names behind the two sides."""

    battle_id: str
    winner: str
    model_a: str = Field(description="The model that answered on the left.")
    model_b: str = Field(description="The model that answered on the right.")
    flags: list[str] = Field(description="e.g. 'identity_leak': kept, off the default board.")


def session_id(request: Request) -> tuple[str, bool]:
    """The caller's session id and whether it was newly minted (then a cookie is set)."""
    given = request.headers.get(SESSION_HEADER) or request.cookies.get(SESSION_COOKIE)
    if given:
        return given, False
    return secrets.token_urlsafe(24), True


def _sse(events: AsyncIterator[BattleEvent]) -> AsyncIterator[bytes]:
    async def encode() -> AsyncIterator[bytes]:
        try:
            async for event in events:
                payload = json.dumps(event.to_dict(), ensure_ascii=False)
                yield f"event: {event.kind}\ndata: {payload}\n\n".encode()
        except ArenaError as refused:
            body = json.dumps({"kind": "refused", "error": refused.code,
                               "detail": refused.message})
            yield f"event: refused\ndata: {body}\n\n".encode()

    return encode()


def _stream_response(events: AsyncIterator[BattleEvent], sid: str, new: bool) -> Response:
    response = StreamingResponse(
        _sse(events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
    if new:
        response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax")
    return response


def build_router(
    service: BattleService,
    leaderboard: Callable[[], Awaitable[dict[str, Any] | None]],
    health: Callable[[], Awaitable[dict[str, Any]]],
) -> APIRouter:
    """The `/api` routes and `/healthz` over one service."""
    router = APIRouter()

    @router.post("/api/battles", summary="Start a battle; streams both answers (SSE)")
    async def start_battle(body: StartBattle, request: Request) -> Response:
        sid, new = session_id(request)
        models = tuple(body.models) if body.models else None
        _, events = await service.start(
            sid, body.prompt, mode=body.mode, models=models, category=body.category
        )
        return _stream_response(events, sid, new)

    @router.post("/api/battles/{battle_id}/turns", summary="Send a follow-up prompt (SSE)")
    async def follow_up(battle_id: str, body: FollowUp, request: Request) -> Response:
        sid, new = session_id(request)
        events = await service.continue_battle(battle_id, sid, body.prompt)
        return _stream_response(events, sid, new)

    @router.post("/api/battles/{battle_id}/vote", summary="Vote; returns the revealed names",
                 response_model=VoteReveal)
    async def vote(battle_id: str, body: CastVote, request: Request) -> Response:
        sid, _ = session_id(request)
        reveal = await service.vote(battle_id, sid, body.winner)
        # Encoded here (the schema above documents it): the hottest route skips FastAPI's
        # validation of its own return value.
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

    @router.post("/api/battles/{battle_id}/end", summary="Leave a battle without voting")
    async def end(battle_id: str, request: Request) -> dict[str, Any]:
        sid, _ = session_id(request)
        logged = await service.end(battle_id, sid, "new_round")
        return {"battle_id": battle_id, "logged_as_abandoned": logged}

    @router.get("/api/models", summary="Public names of the configured models")
    async def models() -> dict[str, Any]:
        healthy = set(await service.healthy_models())
        return {
            "models": [
                {"name": name, "healthy": name in healthy} for name in service.contenders
            ]
        }

    @router.get("/api/leaderboard", summary="The latest cached leaderboard")
    async def get_leaderboard() -> JSONResponse:
        board = await leaderboard()
        if board is None:
            return JSONResponse(
                {"computed_at": None, "votes": 0, "rows": [],
                 "detail": "no leaderboard has been computed yet"}
            )
        return JSONResponse(board)

    @router.get("/healthz", summary="Liveness and dependency health")
    async def healthz() -> JSONResponse:
        report = await health()
        return JSONResponse(report, status_code=200 if report.get("ok") else 503)

    return router


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
