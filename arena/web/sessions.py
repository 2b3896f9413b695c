"""Who is calling the REST API: the session a battle belongs to.

A client names its session with the `X-Arena-Session` header, or gets an `arena_session`
cookie on its first request. The service only ever sees a salted hash of it.
"""

from __future__ import annotations

import secrets

from fastapi import Request, Response

SESSION_COOKIE = "arena_session"
SESSION_HEADER = "x-arena-session"


def session_id(request: Request) -> tuple[str, bool]:
    """The caller's session id and whether it was newly minted (then a cookie is set)."""
    given = request.headers.get(SESSION_HEADER) or request.cookies.get(SESSION_COOKIE)
    if given:
        return given, False
    return secrets.token_urlsafe(24), True


def remember_session(response: Response, sid: str) -> None:
    """Set the cookie that names a newly minted session on the caller's next requests."""
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax")
