"""Who is calling: the signed rater session and the network address of every request, for the
REST routes and the Gradio page alike.

- `ClientIdentity.rest_client(request)`: the session of the `X-Arena-Session` header (401
  without a valid one) and the address (`arena.web.client_address`).
- `ClientIdentity.page_client(request)`: the same from a Gradio handler's `gr.Request`, the
  session from the `arena_session` cookie. Gradio's own `session_hash` is chosen by the
  browser; the page keys its per-tab state on it, never a rater.
- `SessionCookies`: ASGI middleware that gives every page visitor without a valid cookie
  (none, forged, expired) a new signed one, on the response and already on the request, so
  the page's handlers see it at once. It mints none when a challenge is configured: the page
  then gets its cookie from `POST /api/sessions`, with the challenge's answer.
- `SessionRoutes`: `POST /api/sessions` and `GET /api/sessions/challenge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arena.web.client_address import ProxyTrust, limit_key
from arena.web.sessions import (
    SESSION_COOKIE,
    SESSION_HEADER,
    ChallengeFailed,
    InvalidSession,
    SessionSigner,
    session_response,
)

if TYPE_CHECKING:
    from arena.web.challenge import SessionChallenge

# Paths whose answers never set the cookie: the REST API (its clients send the header) and
# the files anyone may fetch.
NO_COOKIE_PREFIXES = ("/api/", "/healthz", "/snapshots/", "/shared/", "/openapi.json", "/docs",
                      "/redoc")
PAGE_NEEDS_SESSION = ("This page has no valid session (cookies off, or it expired): reload "
                      "the page to get a new one.")


@dataclass(frozen=True)
class Client:
    """A caller as the limits see it: its signed session id and its address's limit key."""

    session: str
    address: str


class ClientIdentity:
    """Checks sessions (`signer`) and reads addresses (`trust`) for one arena."""

    def __init__(self, signer: SessionSigner, trust: ProxyTrust,
                 challenge: SessionChallenge | None = None) -> None:
        self.signer = signer
        self.trust = trust
        self.challenge = challenge

    def address(self, peer: str | None, forwarded_for: list[str]) -> str:
        return limit_key(self.trust.client_address(peer, forwarded_for))

    def rest_client(self, request: Request) -> Client:
        """The caller of a REST battle route; SessionRequired or InvalidSession (401)."""
        session = self.signer.require(request.headers.get(SESSION_HEADER))
        peer = request.client.host if request.client else None
        return Client(session, self.address(peer, request.headers.getlist("x-forwarded-for")))

    def page_client(self, request: Any) -> Client:
        """The caller of a Gradio handler (`gr.Request`, or a Starlette request); InvalidSession
        (with a line for the page) when its cookie is missing or bad."""
        raw = request if isinstance(request, Request) else getattr(request, "request", None)
        if raw is not None:  # the Starlette request of the call
            cookies: dict[str, str] = dict(raw.cookies)
            peer = raw.client.host if raw.client else None
            forwarded = raw.headers.getlist("x-forwarded-for")
        else:  # a request Gradio kept as plain values
            kept = getattr(request, "kwargs", {})
            cookies = dict(kept.get("cookies") or {})
            peer = (kept.get("client") or {}).get("host")
            forwarded = [v for k, v in (kept.get("headers") or {}).items()
                         if k.lower() == "x-forwarded-for"]
        session = self.signer.session_of(cookies.get(SESSION_COOKIE))
        if session is None:
            raise InvalidSession(PAGE_NEEDS_SESSION)
        return Client(session, self.address(peer, forwarded))

    def cookie_header(self, token: str, secure: bool) -> bytes:
        """The `Set-Cookie` value that carries `token`."""
        cookie: SimpleCookie = SimpleCookie()
        cookie[SESSION_COOKIE] = token
        morsel = cookie[SESSION_COOKIE]
        morsel["path"] = "/"
        morsel["max-age"] = str(self.signer.max_age_s)
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if secure:
            morsel["secure"] = True
        return morsel.OutputString().encode("latin-1")

    def is_https(self, scope: Scope) -> bool:
        headers = scope.get("headers", [])
        proto = [v.decode("latin-1") for k, v in headers if k == b"x-forwarded-proto"]
        peer = (scope.get("client") or (None,))[0]
        return self.trust.is_https(scope.get("scheme", "http"), peer, proto)


def _cookie_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a garbled header is a missing cookie
                continue
            if SESSION_COOKIE in jar:
                return jar[SESSION_COOKIE].value
    return None


class SessionCookies:
    """ASGI middleware: a new signed session cookie for a page visitor without a valid one."""

    def __init__(self, app: ASGIApp, *, identity: ClientIdentity) -> None:
        self.app = app
        self.identity = identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or self.identity.challenge is not None
                or scope.get("path", "").startswith(NO_COOKIE_PREFIXES)
                or self.identity.signer.session_of(_cookie_of(scope)) is not None):
            await self.app(scope, receive, send)
            return
        token = self.identity.signer.issue()
        set_cookie = self.identity.cookie_header(token, self.identity.is_https(scope))
        # The request goes on with the new cookie alone (a forged one is dropped), so the
        # page's handlers act as the session the browser will send from now on.
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"cookie"]
        headers.append((b"cookie", f"{SESSION_COOKIE}={token}".encode("latin-1")))

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", set_cookie)]}
            await send(message)

        await self.app({**scope, "headers": headers}, receive, send_with_cookie)


class NewSession(BaseModel):
    """The body of `POST /api/sessions` (none needed unless a challenge is configured)."""

    challenge: dict[str, Any] | None = Field(
        None, description="The challenge from GET /api/sessions/challenge, as it came.")
    answer: dict[str, Any] | None = Field(None, description="The client's answer to it.")


# The handlers carry no docstrings: FastAPI would publish them as the routes' descriptions.
class SessionRoutes:
    """`POST /api/sessions` and `GET /api/sessions/challenge`."""

    def __init__(self, identity: ClientIdentity) -> None:
        self.identity = identity

    async def create(self, request: Request, body: NewSession | None = None) -> JSONResponse:
        challenge = self.identity.challenge
        if challenge is not None:
            if body is None or body.challenge is None or body.answer is None:
                raise ChallengeFailed(
                    "this arena asks a challenge before it gives a session: GET "
                    "/api/sessions/challenge, solve it, and POST {\"challenge\": <it>, "
                    "\"answer\": <your answer>} here")
            reason = await challenge.verify(body.challenge, body.answer)
            if reason is not None:
                raise ChallengeFailed(reason)
        signer = self.identity.signer
        token = signer.issue()
        response = JSONResponse(session_response(token, signer.max_age_s), status_code=201,
                                headers={"Cache-Control": "no-store"})
        # The page of an arena with a challenge gets its cookie here.
        response.raw_headers.append(
            (b"set-cookie", self.identity.cookie_header(token, self.identity.is_https(
                request.scope))))
        return response

    async def issue_challenge(self, request: Request) -> JSONResponse:
        challenge = self.identity.challenge
        if challenge is None:
            return JSONResponse(
                {"error": "no_challenge",
                 "detail": "this arena asks no challenge: POST /api/sessions with no body"},
                status_code=404)
        if self.identity.signer.session_of(request.cookies.get(SESSION_COOKIE)) is not None:
            # A page whose cookie is valid already: nothing to solve (docs/challenge.md).
            return JSONResponse({"kind": "none"}, headers={"Cache-Control": "no-store"})
        return JSONResponse(await challenge.issue(), headers={"Cache-Control": "no-store"})
