"""The browser's proof-of-work solver in real Chromium, checked by the Python verifier.

The page is served as `http://localhost/...` (Playwright answers the requests; localhost is a
secure context, so `crypto.subtle` exists) under the arena's real Content-Security-Policy, with
the solver loaded as a same-host script like the arena page loads it. Each engine, in a worker
and on the page, must find the nonce `solve_pow` finds, and real Redis must accept it once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from arena.live.connection import LiveConnection
from arena.web.challenge_js import POW_SOLVER_JS, pow_boot_script
from arena.web.challenge_pow import ProofOfWork, solve_pow
from arena.web.security_headers import content_security_policy, install_security_headers

pytestmark = pytest.mark.browser

SECRET = "browser test secret"
BITS = 14
ORIGIN = "http://localhost"
PAGE = ('<!doctype html><html><head><script src="/challenge/pow.js"></script></head>'
        '<body><p id="status">ready</p>'
        '<script>window.unsignedInlineRan = true;</script></body></html>')


class Verifier:
    """The server side, run on its own event loop in a thread (Playwright's sync API holds
    the main thread's loop): issue and verify against real Redis."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis_url, self.prefix = redis_url, prefix
        self.threads = ThreadPoolExecutor(1)

    def call(self, method: str, *args: Any) -> Any:
        """`ProofOfWork.<method>(*args)`, or "clear" to delete what the test stored."""

        async def run() -> Any:
            async with LiveConnection.from_url(self.redis_url, prefix=self.prefix) as live:
                if method == "clear":
                    return await live.clear()
                proof = ProofOfWork(secret=SECRET, redis=live.client,
                                    key_prefix=self.prefix, difficulty_bits=BITS)
                return await getattr(proof, method)(*args)

        return self.threads.submit(asyncio.run, run()).result()


@pytest.fixture
def verifier(redis_url: str, live_prefix: str) -> Iterator[Verifier]:
    checker = Verifier(redis_url, live_prefix)
    yield checker
    checker.call("clear")
    checker.threads.shutdown()


@pytest.fixture
def solver_page(chromium, verifier: Verifier) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    policy = content_security_policy("test-nonce")

    def serve_session(route: Any) -> None:  # what the arena's submit route will do
        body = route.request.post_data_json
        reason = verifier.call("verify", body["challenge"], body["answer"])
        route.fulfill(status=403 if reason else 200, json={"accepted": reason is None,
                                                           "reason": reason})

    page.route(f"{ORIGIN}/", lambda route: route.fulfill(
        status=200, body=PAGE, headers={"content-type": "text/html",
                                        "content-security-policy": policy}))
    page.route(f"{ORIGIN}/challenge/pow.js", lambda route: route.fulfill(
        status=200, body=POW_SOLVER_JS, headers={"content-type": "text/javascript"}))
    page.route(f"{ORIGIN}/api/sessions/challenge",
               lambda route: route.fulfill(status=200, json=verifier.call("issue")))
    page.route(f"{ORIGIN}/api/sessions", serve_session)
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("() => window.arenaChallenge !== undefined", timeout=10_000)
    # The policy is in force: an inline script without the page's nonce did not run.
    assert page.evaluate("() => window.unsignedInlineRan") is None
    try:
        yield page
    finally:
        context.close()


def solve_in_browser(page: Any, issued: dict, engine: str, worker: bool) -> dict:
    return page.evaluate(
        "([issued, engine, worker]) => window.arenaChallenge.solve(issued, {engine, worker})",
        [issued, engine, worker])


@pytest.mark.parametrize(("engine", "worker"), [
    ("js", True), ("js", False), ("subtle", True), ("subtle", False), ("auto", True),
])
def test_the_browser_finds_the_nonce_python_finds_and_the_server_accepts_it_once(
        solver_page: Any, verifier: Verifier, engine: str, worker: bool) -> None:
    assert solver_page.evaluate("() => window.isSecureContext")
    for _ in range(3):
        issued = verifier.call("issue")
        answer = solve_in_browser(solver_page, issued, engine, worker)
        assert answer == solve_pow(issued)
        where = solver_page.evaluate("() => window.arenaChallenge.last")
        assert where == {"where": "worker" if worker else "page",
                         "engine": "js" if engine == "auto" else engine}
        assert verifier.call("verify", issued, answer) is None
        assert "already used" in verifier.call("verify", issued, answer)


def test_the_worker_reports_progress_and_leaves_the_page_responsive(
        solver_page: Any, verifier: Verifier) -> None:
    # A challenge whose answer takes at least 4 slices of 65536 hashes (the browser does not
    # check the signature; this one is solved, never sent).
    issued = {**verifier.call("issue"), "difficulty_bits": 18}
    while int(solve_pow(issued)["nonce"]) < 4 * 65536:
        issued = {**verifier.call("issue"), "difficulty_bits": 18}
    result = solver_page.evaluate("""async (issued) => {
        let ticks = 0, reports = [];
        const timer = setInterval(() => { ticks += 1; }, 5);
        const answer = await window.arenaChallenge.solve(issued, {
            onProgress: (hashes, expected) => reports.push([hashes, expected])});
        clearInterval(timer);
        return {answer, ticks, reports};
    }""", issued)
    assert result["answer"] == solve_pow(issued)
    assert [hashes for hashes, _ in result["reports"][:4]] == [65536 * k for k in (1, 2, 3, 4)]
    assert {expected for _, expected in result["reports"]} == {2 ** 18}
    assert result["ticks"] > 0  # the page's own timer kept running while the worker hashed


def test_run_fetches_solves_and_hands_in_the_answer(solver_page: Any) -> None:
    status, body = solver_page.evaluate("""async () => {
        const response = await window.arenaChallenge.run();
        return [response.status, await response.json()];
    }""")
    assert (status, body) == (200, {"accepted": True, "reason": None})


def test_a_challenge_that_is_not_pow_is_refused_by_the_solver(solver_page: Any) -> None:
    error = solver_page.evaluate("""async () => {
        try { await window.arenaChallenge.solve({kind: "captcha"}); return null; }
        catch (e) { return String(e); }
    }""")
    assert error == "Error: not a sha256 proof-of-work challenge"


def arena_like_app(redis_url: str, prefix: str, counts: dict[str, int]) -> FastAPI:
    """The wiring docs/challenge.md describes, on a Gradio page under the arena's security
    headers: the boot script in the page's `head`, a challenge offered to a browser without a
    session, the session cookie set when the answer is accepted."""
    import gradio as gr  # slow to import: only for this test

    live = LiveConnection.from_url(redis_url, prefix=prefix)  # connects on first use
    proof = ProofOfWork(secret=SECRET, redis=live.client, key_prefix=prefix,
                        difficulty_bits=BITS)

    async def offer(request: Request) -> dict[str, Any]:
        if request.cookies.get("arena_session") == "signed-session":
            return {"kind": "none"}
        counts["issued"] += 1
        return await proof.issue()

    async def submit(request: Request) -> JSONResponse:
        body = await request.json()
        reason = await proof.verify(body["challenge"], body["answer"])
        if reason is not None:
            return JSONResponse({"error": "challenge_failed", "detail": reason}, 403)
        answer = JSONResponse({"session": "signed-session"})
        answer.set_cookie("arena_session", "signed-session", httponly=True, samesite="lax")
        return answer

    app = FastAPI()
    app.add_api_route("/challenge/boot.js", pow_boot_script, methods=["GET"])
    app.add_api_route("/api/sessions/challenge", offer, methods=["GET"])
    app.add_api_route("/api/sessions", submit, methods=["POST"])
    with gr.Blocks() as blocks:
        gr.Markdown("arena")
    app = gr.mount_gradio_app(app, blocks, path="/", ssr_mode=False,
                              head='<script src="/challenge/boot.js"></script>')
    install_security_headers(app)
    return app


def test_a_gradio_page_solves_at_load_under_the_csp_and_keeps_its_session(
        chromium, redis_url: str, live_prefix: str) -> None:
    import threading

    import uvicorn
    from fixtures.ports import reserved_port

    counts = {"issued": 0}
    port = reserved_port()
    server = uvicorn.Server(uvicorn.Config(arena_like_app(redis_url, live_prefix, counts),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # Load the page only once the server listens (a loaded run once got "connection refused");
    # polling `started` sends no request, so nothing is counted as issued.
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)  # allowed sleep: poll interval, with a deadline
    context = chromium.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        for visit in (1, 2):  # the reload finds its session and solves nothing
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function(
                "() => ['ready', 'refused', 'failed']"
                ".includes(document.documentElement.dataset.arenaSession)", timeout=60_000)
            assert page.evaluate("() => document.documentElement.dataset.arenaSession") == (
                "ready"), errors
            assert counts["issued"] == 1, visit
            solved_in = page.evaluate("() => window.arenaChallenge.last")
            assert solved_in == ({"where": "worker", "engine": "js"} if visit == 1 else None)
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        assert cookies["arena_session"] == "signed-session"
        assert not [e for e in errors if "Content Security Policy" in e], errors
    finally:
        context.close()
        server.should_exit = True
        thread.join(timeout=10)
