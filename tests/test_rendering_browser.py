"""The injection corpus (tests/data/injection/payloads.toml) in Chromium against a real arena
page: each payload is typed as the prompt, and both models answer with it word for word.

The models are `EchoModels`, a small OpenAI-compatible server that streams the last user
message back in short chunks (so every partial state of a payload, an unclosed fence or a half
tag, is drawn too). The arena is the real app of one worker (`build_app` over `ArenaRuntime`,
real Redis, a SQLite file) with `install_security_headers` applied, run in its own process.

For each payload: no script runs (`window.__pwned` stays unset, no dialog opens), no request
leaves for another host (every request is recorded and any to another host is aborted; one
recorded fails the test), no element that loads or runs anything is in the chats, every link
carries the forced rel and target, and the visible text still holds the payload's words.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from fixtures.browser import ArenaPage, InjectionCase, load_injection_cases
from fixtures.ports import reserved_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from arena.live.embedded import EmbeddedRedis
from arena.web.ui.rendering import LINK_REL

pytestmark = [pytest.mark.browser]

CASES = load_injection_cases()
ECHO_MODELS = ("echo-a", "echo-b")
CHUNK_CHARS = 16
# Elements that load or run something; none may appear inside a chat column.
ACTIVE = "script, img, iframe, frame, object, embed, svg, style, link, meta, base, form, " \
         "input, button, video, audio, source, math"

# The arena worker: the real app with the security headers, in its own process. The Redis URL
# (with its password) comes through the environment, never the command line.
WORKER = """
import os, sys
from pathlib import Path
import uvicorn
from arena.config import load_arena_settings
from serving.config import load_models_config
from arena.web.app import build_app
from arena.web.runtime import ArenaRuntime
from arena.web.security_headers import install_security_headers

config = Path(sys.argv[1])
runtime = ArenaRuntime(settings=load_arena_settings(config), serving=load_models_config(config),
                       redis_url=os.environ["ARENA_TEST_REDIS_URL"], run_jobs=False,
                       config_path=config)
app = build_app(runtime)
install_security_headers(app)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def echo_models_app() -> Starlette:
    """/health, /v1/models and a streamed /v1/chat/completions that echoes the last prompt."""

    async def health(_: Request) -> Response:
        return Response(status_code=200)

    async def models(_: Request) -> JSONResponse:
        return JSONResponse({"object": "list",
                             "data": [{"id": name, "object": "model"} for name in ECHO_MODELS]})

    async def chat(request: Request) -> StreamingResponse:
        body = await request.json()
        text = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]

        async def events() -> AsyncIterator[bytes]:
            def event(payload: dict) -> bytes:
                return f"data: {json.dumps(payload)}\n\n".encode()

            for start in range(0, len(text), CHUNK_CHARS):
                delta = {"content": text[start:start + CHUNK_CHARS]}
                yield event({"id": "echo", "model": body["model"],
                             "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                await asyncio.sleep(0.01)  # allowed sleep: paces the echo like a model streams
            yield event({"id": "echo", "model": body["model"],
                         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            yield event({"id": "echo", "model": body["model"], "choices": [],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/health", health), Route("/v1/models", models),
                             Route("/v1/chat/completions", chat, methods=["POST"])])


@dataclass
class EchoArena:
    url: str
    models_url: str


def write_config(path: Path, *, root: Path, models_url: str) -> None:
    models = "".join(f'''
[[models]]
name = "{name}"
base_url = "{models_url}"
served_model_name = "{name}"
system_prompt = "You repeat what you are told."
''' for name in ECHO_MODELS)
    path.write_text(f'''[arena]
db_url = "sqlite:///{root / 'arena.db'}"
data_dir = "{root / 'data'}"
rater_salt = "test-salt"
max_turns = 3
max_prompt_chars = 4000
battles_per_minute = 1000
votes_per_hour = 1000
generation_timeout_s = 30
first_token_timeout_s = 15

[sampling]
max_tokens = 2000
{models}''', encoding="utf-8")


@pytest.fixture(scope="module")
def echo_arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoArena]:
    root = tmp_path_factory.mktemp("echo-arena")
    (root / "data").mkdir()
    models_port = reserved_port()
    models = uvicorn.Server(uvicorn.Config(echo_models_app(), host="127.0.0.1",
                                           port=models_port, log_level="warning"))
    models_thread = threading.Thread(target=models.run, daemon=True)
    models_thread.start()
    redis = EmbeddedRedis(data_dir=root / "redis").start()
    config = root / "arena.toml"
    write_config(config, root=root, models_url=f"http://127.0.0.1:{models_port}")
    port = reserved_port()
    log_path = root / "worker.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(config), str(port)], stdout=log,
            stderr=subprocess.STDOUT, cwd=root,
            env={**os.environ, "ARENA_TEST_REDIS_URL": redis.url})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the arena worker did not come up:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)  # allowed sleep: poll interval while the worker starts
        yield EchoArena(url=url, models_url=f"http://127.0.0.1:{models_port}")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        redis.stop()
        models.should_exit = True
        models_thread.join(timeout=10)


@dataclass
class Watch:
    """What a page did that it must not: foreign requests, dialogs."""

    host: str
    foreign: list[str]
    dialogs: list[str]


def watched(arena_page: ArenaPage, url: str) -> Watch:
    """Record every request to another host (and abort it) and every dialog (dismissed)."""
    page = arena_page.page
    watch = Watch(urlsplit(url).netloc, [], [])

    def on_request(request) -> None:
        if urlsplit(request.url).netloc != watch.host:
            watch.foreign.append(request.url)

    page.on("request", on_request)
    page.on("dialog", lambda dialog: (watch.dialogs.append(dialog.message), dialog.dismiss()))
    page.context.route("**/*", lambda route: route.continue_()
                       if urlsplit(route.request.url).netloc == watch.host else route.abort())
    return watch


def chat_links(page, side: str) -> list[dict]:
    return page.evaluate(
        "(s) => [...document.querySelectorAll(`#chat-${s} .message-content a`)]"
        ".map(a => ({href: a.getAttribute('href'), rel: a.getAttribute('rel'),"
        " target: a.getAttribute('target')}))", side)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_payload_as_prompt_and_answer_stays_inert_and_readable(
        arena_page: ArenaPage, echo_arena: EchoArena, case: InjectionCase) -> None:
    watch = watched(arena_page, echo_arena.url)
    response = arena_page.page.goto(echo_arena.url)
    assert "content-security-policy" in response.headers
    arena_page.page.wait_for_selector("#prompt textarea", timeout=60_000)
    arena_page.ask(case.payload)
    arena_page.wait_until_votable()
    page = arena_page.page
    # Anything a payload triggered (a load, a handler) has had its chance by now.
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned ?? null") is None
    assert watch.dialogs == [] and watch.foreign == []
    for side in ("a", "b"):
        prompt_shown, answer_shown = arena_page.messages(side)
        assert prompt_shown == answer_shown, "the echo's answer is drawn as the prompt is"
        assert [word for word in case.visible if word not in answer_shown] == []
        assert page.locator(f"#chat-{side} .message-content").locator(ACTIVE).count() == 0
        for link in chat_links(page, side):
            assert link["href"].split(":", 1)[0] in ("http", "https", "mailto"), link
            assert (link["rel"], link["target"]) == (LINK_REL, "_blank")
