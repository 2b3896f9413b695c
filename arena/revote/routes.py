"""REST routes of a replay arena (`arena serve --replay FILE`), beside the ordinary `/api` ones.

- `POST /api/replay/battles` (no body): the next logged battle for this session, as the same
  Server-Sent-Event stream `POST /api/battles` gives (events `battle`, then per logged turn a
  `turn` event carrying the logged prompt, `delta`s and `done`s, then `ready`). Vote with the
  ordinary `POST /api/battles/{id}/vote`; the reveal names the models on the sides shown.
  503 when this session has seen every battle of the pool, 429 when rate-limited.
- `GET /api/replay`: how many logged battles the pool holds and how many were skipped, by
  reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from arena.battles import BattleService
from arena.revote.pool import ReplayPool
from arena.web.routes import _stream_response, session_id


def build_replay_router(service: BattleService, pool: ReplayPool) -> APIRouter:
    """The replay routes over one service (which must have its `replay` ledger set)."""
    router = APIRouter()

    @router.post("/api/replay/battles", summary="Next logged battle to re-vote (SSE)")
    async def next_battle(request: Request) -> Response:
        sid, new = session_id(request)
        _, events = await service.start_replay(sid)
        return _stream_response(events, sid, new)

    @router.get("/api/replay", summary="The replay pool: battles loaded and skipped")
    async def pool_info() -> dict[str, Any]:
        return {"battles": len(pool), "skipped": dict(pool.skipped.most_common())}

    return router
