"""REST handlers of a re-vote arena (`arena serve --revote FILE`), beside the ordinary `/api`
ones; `arena.web.app` lists their routes with the others.

- `POST /api/replay/battles` (no body; the `X-Arena-Session` header, as every battle route):
  the next logged battle for this session, as the same
  Server-Sent-Event stream `POST /api/battles` gives (events `battle`, then per logged turn a
  `turn` event carrying the logged prompt, `delta`s and `done`s, then `ready`). Vote with the
  ordinary `POST /api/battles/{id}/vote`; the reveal names the models on the sides shown.
  503 when this session has seen every battle of the pool, 429 when rate-limited (per
  session and per address, `arena.web.guard`).
- `GET /api/operator/replay` (operators only, behind the token of `arena.web.operator`): how
  many logged battles the pool holds and how many were skipped, by reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from arena.battles import BattleService
from arena.revote.pool import ReplayPool
from arena.web.guard import BattleGuard
from arena.web.identity import ClientIdentity
from arena.web.sse import stream_response


# The handlers carry no docstrings: FastAPI would publish them as the routes' descriptions.
class RevoteRoutes:
    """The re-vote handlers over one service (which must have its `replay` ledger set)."""

    def __init__(self, service: BattleService, pool: ReplayPool, *,
                 guard: BattleGuard | None = None, identity: ClientIdentity | None = None):
        self.service = service
        self.pool = pool
        self.guard = guard
        self.identity = identity

    async def next_battle(self, request: Request) -> Response:
        assert self.guard is not None and self.identity is not None
        client = self.identity.rest_client(request)
        _, events = await self.guard.start_replay(client)
        return stream_response(events)

    async def pool_info(self) -> dict[str, Any]:
        return {"battles": len(self.pool), "skipped": dict(self.pool.skipped.most_common())}
