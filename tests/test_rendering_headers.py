"""`install_security_headers` on a real Gradio 6 app in Chromium: the page still works under its
Content-Security-Policy, and the policy alone stops what a broken sanitiser would let through.

The app mounts a Chatbot configured as the arena's (HTML shown as is) and fills it with HTML
that was *not* sanitised: an inline event handler, a `javascript:` link, a remote image, an
iframe, a remote stylesheet. With the headers on, none of it runs or loads; the same app without
them is the positive control that the payload would have worked. It also shows status lines
escaped by `markdown_text` through Gradio's own Markdown renderer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import gradio as gr
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fixtures.ports import reserved_port

from arena.web.security_headers import install_security_headers
from arena.web.ui.text import markdown_text

pytestmark = [pytest.mark.browser]

UNSANITISED = (
    '<p>raw <img src="https://images.example/x.png" onerror="window.__pwned=\'img\'">'
    '<a id="js-link" href="javascript:void(window.__pwned=\'link\')">click</a>'
    '<iframe src="https://frames.example/"></iframe>'
    '<link rel="stylesheet" href="https://css.example/t.css"></p>'
)
STATUS = "unknown model <img src=https://images.example/s.png> [x](javascript:alert(1)) **b**"


def small_app(with_headers: bool) -> FastAPI:
    app = FastAPI()
    with gr.Blocks() as demo:
        chat = gr.Chatbot(elem_id="chat", render_markdown=False, sanitize_html=False,
                          latex_delimiters=[], allow_tags=False, buttons=[])
        status = gr.Markdown("", elem_id="status")
        show = gr.Button("show", elem_id="show")
        show.click(lambda: ([{"role": "assistant", "content": UNSANITISED}],
                            markdown_text(STATUS)), outputs=[chat, status])
    app = gr.mount_gradio_app(app, demo, path="/", ssr_mode=False)
    if with_headers:
        install_security_headers(app)
        install_security_headers(app)  # a second call must not add a second layer
    return app


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[bool, str]]:
    """Two small apps, with and without the headers, served by uvicorn in threads."""
    running = []
    urls = {}
    for with_headers in (True, False):
        port = reserved_port()
        server = uvicorn.Server(uvicorn.Config(small_app(with_headers), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        urls[with_headers] = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not all(server.started for server, _ in running):
        assert time.monotonic() < deadline, "the small Gradio apps did not start"
        time.sleep(0.1)  # allowed sleep: poll interval while uvicorn threads start
    try:
        yield urls
    finally:
        for server, thread in running:
            server.should_exit = True
            thread.join(timeout=10)


def show_payload(chromium, url: str) -> dict:
    """Open the page, click show, click the link; what ran, loaded or was refused."""
    context = chromium.new_context()
    page = context.new_page()
    seen = {"foreign": [], "dialogs": [], "violations": []}
    host = urlsplit(url).netloc
    page.on("request", lambda r: urlsplit(r.url).netloc != host
            and seen["foreign"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("console", lambda m: "Content Security Policy" in m.text
            and seen["violations"].append(m.text))
    # Nothing may really leave: a foreign request is recorded above, then refused here.
    context.route("**/*", lambda route: route.continue_()
                  if urlsplit(route.request.url).netloc == host else route.abort())
    try:
        seen["response"] = page.goto(url)
        page.wait_for_selector("#show", timeout=60_000)
        page.click("#show")
        page.wait_for_selector("#chat #js-link", timeout=30_000)
        page.click("#chat #js-link")
        page.wait_for_function("() => document.querySelector('#status').innerText.length > 0")
        page.wait_for_timeout(500)  # let a blocked handler or load report itself
        seen["pwned"] = page.evaluate("() => window.__pwned ?? null")
        seen["status"] = page.inner_text("#status")
        seen["status_tags"] = page.evaluate(
            "() => [...document.querySelectorAll('#status a, #status img, #status strong')]"
            ".map(e => e.tagName)")
        return seen
    finally:
        context.close()


def test_the_policy_stops_unsanitised_html_that_runs_without_it(chromium, servers) -> None:
    unprotected = show_payload(chromium, servers[False])
    assert unprotected["pwned"] in ("img", "link"), "positive control: the payload works"
    assert "https://images.example/x.png" in unprotected["foreign"]

    protected = show_payload(chromium, servers[True])
    assert protected["pwned"] is None and protected["dialogs"] == []
    # Chromium reports the refused image as a request event (aborted by the route anyway)
    # and the policy names each refusal.
    assert any("img-src" in v for v in protected["violations"])
    assert any("inline event handler" in v or "JavaScript URL" in v
               for v in protected["violations"])


def test_gradio_runs_under_the_policy_with_no_violation_of_its_own(chromium, servers) -> None:
    seen = show_payload(chromium, servers[True])
    policy = seen["response"].headers["content-security-policy"]
    assert "img-src 'self' data: blob:;" in policy and "connect-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy.split(
        "style-src")[0]
    # The page loaded, ran its event and drew the answer: only the payload was refused.
    payload_hosts = ("images.example", "frames.example", "css.example", "inline event",
                     "JavaScript URL")
    assert [v for v in seen["violations"] if not any(h in v for h in payload_hosts)] == []
    assert [u for u in seen["foreign"] if not any(h in u for h in payload_hosts)] == []


def test_a_status_line_shows_its_text_and_no_markup(chromium, servers) -> None:
    seen = show_payload(chromium, servers[True])
    assert seen["status"].strip() == STATUS
    assert seen["status_tags"] == []


def test_every_response_carries_the_headers_and_pages_a_fresh_nonce(servers) -> None:
    url = servers[True]
    pages = [httpx.get(url + "/", headers={"accept": "text/html",
                                           "accept-encoding": "gzip, br"}) for _ in range(2)]
    api = httpx.get(url + "/config")
    for response in (*pages, api):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert "content-security-policy" in response.headers
    nonces = [p.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
              for p in pages]
    assert nonces[0] != nonces[1]
    assert "content-encoding" not in pages[0].headers
    scripts = pages[0].text.count("<script")
    assert scripts > 0 and pages[0].text.count(f'<script nonce="{nonces[0]}"') == scripts
    assert "'nonce-" not in api.headers["content-security-policy"]
