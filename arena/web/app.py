"""The FastAPI app of one arena process: every route in one place, over one `ArenaRuntime`.

`build_app` lists the REST routes (handlers in `arena.web.routes`, sessions in
`arena.web.identity`, and `arena.revote.routes` for a re-vote arena), the operator routes
behind the bearer token (`arena.web.operator`), the leaderboard snapshots as static files and
the Gradio UI at `/` (`arena.web.ui.page`), whose visitors get a signed session cookie
(`arena.web.identity.SessionCookies`); its lifespan starts and stops the runtime's background
work.

Two audiences (docs/security.md): every route outside `/api/operator/` is public and tells a
rater nothing but the names of the configured models, their own battle and the public board.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from arena.web.board_api import LeaderboardRoutes
from arena.web.body_limit import BodyLimit
from arena.web.identity import SessionRoutes
from arena.web.operator import OperatorGate, OperatorRoutes, install_operator_handler
from arena.web.routes import BattleRoutes, VoteReveal, install_error_handlers
from arena.web.runtime import ArenaRuntime
from arena.web.security_headers import install_security_headers
from arena.web.share import install_share_page

DESCRIPTION = "Pairwise human-preference arena: battles, votes and the leaderboard."

# Gradio routes the arena's page never uses, closed because any anonymous client may call
# them: uploads (files of any size written to the server's disk; the page has no file input)
# and deep links (a copy of a session's components, its conversation included, saved to disk
# and served to whoever holds the link; the page has no deep-link button).
UNUSED_GRADIO_ROUTES = (("POST", "/gradio_api/upload"), ("GET", "/gradio_api/deep_link"))


def build_app(runtime: ArenaRuntime, *, with_ui: bool = True) -> FastAPI:
    """The FastAPI app of one arena process: REST API, `/healthz`, the UI at `/`.

    The operator token was read by the runtime (an unusable one stops it there, before any
    process starts).
    """
    gate = OperatorGate(runtime.operator_token)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        # Everything alive now (modules, the app, Gradio's blocks) lives as long as the
        # process: move it out of the cyclic collector's reach, or every full collection
        # walks those millions of objects again and pauses every request while it does.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=runtime.settings.title, description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    install_operator_handler(app)
    add_routes(app, runtime)
    add_operator_routes(app, runtime, gate)
    # Each leaderboard snapshot's table, manifest and public release, so visitors can re-derive
    # it. Public: the leaderboard job writes nothing else there (never the full log).
    runtime.job.out_dir.mkdir(parents=True, exist_ok=True)
    app.mount("/snapshots", StaticFiles(directory=runtime.job.out_dir), name="snapshots")
    if with_ui:
        from arena.web.ui.page import mount_ui

        close_unused_gradio_routes(app)
        app = mount_ui(app, runtime.service, leaderboard=runtime.leaderboard,
                       settings=runtime.settings, guard=runtime.guard,
                       identity=runtime.identity)
    # Around everything (Gradio's routes included): bodies over the limit are refused before
    # they are read, and every answer, a 413 too, gets the CSP and the other headers.
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_request_bytes)
    install_security_headers(app)
    return app


def add_routes(app: FastAPI, runtime: ArenaRuntime) -> None:
    """Every REST route of the arena: path, method, handler and the summary its docs show."""
    api = BattleRoutes(runtime.service, runtime.health,
                       guard=runtime.guard, identity=runtime.identity)
    sessions = SessionRoutes(runtime.identity)
    get, post = _adder(app, "GET"), _adder(app, "POST")
    post("/api/sessions", sessions.create, "A new rater session (for X-Arena-Session)",
         status_code=201)
    get("/api/sessions/challenge", sessions.issue_challenge,
        "The challenge a new session must pass, when the arena asks one")
    if runtime.identity.challenge is not None:  # the browser's solver (docs/challenge.md)
        from arena.web.challenge_js import pow_boot_script, pow_script

        app.add_api_route("/challenge/pow.js", pow_script, methods=["GET"],
                          include_in_schema=False)
        app.add_api_route("/challenge/boot.js", pow_boot_script, methods=["GET"],
                          include_in_schema=False)
    post("/api/battles", api.start_battle, "Start a battle; streams both answers (SSE)")
    post("/api/battles/{battle_id}/turns", api.follow_up, "Send a follow-up prompt (SSE)")
    post("/api/battles/{battle_id}/vote", api.vote, "Vote; returns the revealed names",
         response_model=VoteReveal)
    post("/api/battles/{battle_id}/end", api.end, "Leave a battle without voting")
    post("/api/battles/{battle_id}/regenerate", api.regenerate,
         "Regenerate the last answers: same pair and prompt, new seeds (SSE)")
    post("/api/battles/{battle_id}/stop", api.stop, "Stop both answers now streaming")
    post("/api/battles/{battle_id}/reason", api.reason, "Give a reason for your vote (once)")
    get("/api/battles/{battle_id}/share", api.share,
        "A link to a read-only page of your voted battle (null: not shareable)")
    get("/api/reasons", api.reasons, "The reason tags raters may give, and the comment limit")
    install_share_page(app, runtime.log, runtime.service.share_links, runtime.settings)
    get("/api/models", api.models, "Public names of the configured models")
    get("/api/leaderboard", LeaderboardRoutes(runtime.leaderboard).get_leaderboard,
        "The latest cached leaderboard, overall or of one category")
    get("/healthz", api.healthz, "Ok or not: {\"ok\": true} (200) or false (503)")
    if runtime.revote_pool is not None:
        from arena.revote.routes import RevoteRoutes

        revote = RevoteRoutes(runtime.service, runtime.revote_pool, guard=runtime.guard,
                              identity=runtime.identity)
        post("/api/replay/battles", revote.next_battle, "Next logged battle to re-vote (SSE)")


def add_operator_routes(app: FastAPI, runtime: ArenaRuntime, gate: OperatorGate) -> None:
    """The routes only operators reach (`Authorization: Bearer <token>`), under
    `/api/operator/`, so a proxy may also block that prefix whole. Left out of the public
    OpenAPI document: docs/battles.md describes them."""
    api = OperatorRoutes(runtime.log, runtime.health)
    get = _adder(app, "GET", dependencies=[Depends(gate)], include_in_schema=False)
    get("/api/operator/export", api.export_log, "The full vote log as JSONL (streamed)")
    get("/api/operator/health", api.detailed_health, "Redis, SQL and the models down")
    if runtime.revote_pool is not None:
        from arena.revote.routes import RevoteRoutes

        revote = RevoteRoutes(runtime.service, runtime.revote_pool)
        get("/api/operator/replay", revote.pool_info,
            "The replay pool: battles loaded and skipped")


def close_unused_gradio_routes(app: FastAPI) -> None:
    """Answer 404 on UNUSED_GRADIO_ROUTES; call before the UI is mounted, so these win."""

    async def closed(_: Request) -> JSONResponse:
        return JSONResponse({"error": "not_found",
                             "detail": "this arena does not offer this route"}, status_code=404)

    for method, path in UNUSED_GRADIO_ROUTES:
        app.add_api_route(path, closed, methods=[method], include_in_schema=False)


def _adder(app: FastAPI, method: str, **shared: Any) -> Callable[..., None]:
    def add(path: str, handler: Callable[..., Any], summary: str, **options: Any) -> None:
        app.add_api_route(path, handler, methods=[method], summary=summary,
                          **shared, **options)

    return add
