"""Response headers that keep the page from loading anything from another host.

`install_security_headers(app)` wraps the whole app (REST API, snapshots, the Gradio UI mounted
on it) in `SecurityHeaders`, which adds to every response:

- `Content-Security-Policy`: scripts only from this host and the page's own inline scripts
  (each HTML response gets a fresh nonce, added to its `<script>` tags here, so an injected
  event handler or `javascript:` URL never runs); images, media and fonts only from this host
  (`data:`/`blob:` URLs too, which are local); fetches only to this host; no frames, plugins,
  `<base>` to elsewhere or form posts elsewhere; the page may not be framed.
  Styles may be inline (Gradio writes its theme into `<style>` elements and `style`
  attributes); a CSS `url()` still cannot leave the host, since images and fonts cannot.
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`,
  `Cross-Origin-Opener-Policy: same-origin`.

FastAPI's API docs pages (`/docs`, `/redoc`) load their scripts from a CDN
(`SWAGGER_CDN`): those two pages alone may load scripts, styles and images from it. They show
no prompt or answer.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SWAGGER_CDN = "https://cdn.jsdelivr.net"
FASTAPI_FAVICON = "https://fastapi.tiangolo.com"
# `<script` opening tags in an HTML page; a tag that names a nonce already keeps it.
_SCRIPT_TAG = re.compile(rb"<script(?=[\s>])(?![^>]*\snonce=)", re.IGNORECASE)

STATIC_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


def content_security_policy(nonce: str | None, *, cdn: Iterable[str] = ()) -> str:
    """The policy for one response; `nonce` allows the page's own inline scripts, `cdn` adds
    hosts for scripts, styles and images (the API docs pages only)."""
    extra = "".join(f" {host}" for host in cdn)
    scripts = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    directives = {
        "default-src": "'self'",
        "script-src": scripts + extra,
        "style-src": "'self' 'unsafe-inline'" + extra,
        "img-src": "'self' data: blob:" + extra,
        "media-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "worker-src": "'self' blob:",
        "frame-src": "'none'",
        "child-src": "'none'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response, a nonce in every HTML page.

    Only `text/html` bodies are buffered (to add the nonce and fix `content-length`); every
    other response, event streams included, passes through chunk by chunk.
    """

    def __init__(self, app: ASGIApp, *, cdn_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.cdn_paths = frozenset(cdn_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cdn = (SWAGGER_CDN, FASTAPI_FAVICON) if scope.get("path") in self.cdn_paths else ()
        scope = _uncompressed_pages(scope)
        nonce = secrets.token_urlsafe(18)
        start: Message | None = None
        body: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode("latin-1").lower() not in _OWN_HEADERS]
                is_html = _header(headers, b"content-type").startswith(b"text/html")
                # A compressed page keeps its tags unmarked: its inline scripts are blocked
                # (fail closed). `_uncompressed_pages` keeps browsers' page loads plain.
                rewrite = is_html and not _header(headers, b"content-encoding") and (
                    scope["method"] != "HEAD")
                policy = content_security_policy(nonce if is_html else None, cdn=cdn)
                headers += [(b"content-security-policy", policy.encode())]
                headers += [(k.encode(), v.encode()) for k, v in STATIC_HEADERS.items()]
                message = {**message, "headers": headers}
                if rewrite:  # held back until the body is complete
                    start = message
                    return
                await send(message)
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = _SCRIPT_TAG.sub(f'<script nonce="{nonce}"'.encode(), b"".join(body))
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, send_with_headers)


_OWN_HEADERS = frozenset({"content-security-policy", *STATIC_HEADERS})


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    return next((v.lower() for k, v in headers if k.lower() == name), b"")


def _uncompressed_pages(scope: Scope) -> Scope:
    """The scope without `accept-encoding` when the client asks for an HTML page (a browser's
    page load sends `Accept: text/html`): Gradio compresses its responses, and the nonce can
    only be added to a plain page. Scripts, styles and API answers stay compressed."""
    headers = scope.get("headers", [])
    if b"text/html" not in _header(headers, b"accept"):
        return scope
    return {**scope, "headers": [(k, v) for k, v in headers if k.lower() != b"accept-encoding"]}


def install_security_headers(app: FastAPI) -> None:
    """Add `SecurityHeaders` around `app`, before the app starts (a second call does nothing:
    two layers would each set their own nonce and block the page's scripts)."""
    if any(middleware.cls is SecurityHeaders for middleware in app.user_middleware):
        return
    app.add_middleware(SecurityHeaders, cdn_paths=[p for p in (app.docs_url, app.redoc_url) if p])
