"""Rater sessions the server issues and signs, so a client cannot pick (or invent) its identity.

A session token is a random id and its time of issue, signed with HMAC-SHA256 (itsdangerous'
`TimestampSigner`) under the arena's session secret. The battle service only ever sees the id
(hashed with the rater salt); the per-session limits count on it.

- REST: `POST /api/sessions` answers a new token (201); every battle route wants it in the
  `X-Arena-Session` header: none is 401 `session_required`, a forged, garbled or expired one
  401 `invalid_session`. With a challenge configured (`arena.web.challenge`),
  `GET /api/sessions/challenge` hands out a puzzle and `POST /api/sessions` must carry
  ``{"challenge": ..., "answer": ...}`` (else 403 `challenge_failed`, with the reason).
- The UI: the same token in the `arena_session` cookie (HttpOnly, SameSite=Lax, Secure over
  HTTPS), set by `arena.web.identity.SessionCookies`.

The secret: `[arena] session_secret_file`, else the environment variable ARENA_SESSION_SECRET,
else one generated once and kept in `<data_dir>/session_secret` (0600), which every worker of
a host and every restart share. Several hosts must be given the same secret (file or
environment): a token signed on one host is checked on another.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from arena.config import ArenaSettings, ConfigError
from arena.errors import ArenaError

SESSION_COOKIE = "arena_session"
SESSION_HEADER = "X-Arena-Session"
SECRET_ENV = "ARENA_SESSION_SECRET"
SECRET_FILE_NAME = "session_secret"
MIN_SECRET_CHARS = 32
MAX_TOKEN_CHARS = 200
# Different salts keep a session token from passing for any other value signed with the key.
SIGNER_SALT = "arena.session.v1"
GET_ONE = (f"POST /api/sessions to get a session, then send it in the {SESSION_HEADER} "
           "header of every battle request")


class SessionRequired(ArenaError):
    status = 401
    code = "session_required"


class InvalidSession(ArenaError):
    status = 401
    code = "invalid_session"


class ChallengeFailed(ArenaError):
    status = 403
    code = "challenge_failed"


class SessionSecretError(ConfigError):
    """The configured session secret is unusable (missing file, too short)."""


def load_session_secret(settings: ArenaSettings,
                        environ: Mapping[str, str] | None = None) -> str:
    """The secret that signs sessions: `session_secret_file`, else ARENA_SESSION_SECRET, else
    the one kept in `<data_dir>/session_secret` (created on first use, atomically, so workers
    starting together agree). Raises SessionSecretError for an unusable configured secret; the
    message never contains it."""
    environ = os.environ if environ is None else environ
    if settings.session_secret_file:
        path = Path(settings.session_secret_file)
        source = f"arena.session_secret_file ({path})"
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as unreadable:
            raise SessionSecretError(f"{source}: cannot read the session secret: "
                                     f"{type(unreadable).__name__}") from None
    elif environ.get(SECRET_ENV):
        source, secret = f"the environment variable {SECRET_ENV}", environ[SECRET_ENV].strip()
    else:
        return kept_secret(Path(settings.data_dir) / SECRET_FILE_NAME)
    if len(secret) < MIN_SECRET_CHARS:
        raise SessionSecretError(
            f"{source}: the session secret is too short ({len(secret)} characters; at least "
            f"{MIN_SECRET_CHARS}). Make one with python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'")
    return secret


def kept_secret(path: Path) -> str:
    """The secret kept in `path`; a new random one is written there (0600) when there is none.
    Written to a private temporary file and linked into place, so a reader never sees a half
    written file and two processes creating it at once end up with the same secret."""
    with contextlib.suppress(FileNotFoundError):
        existing = path.read_text(encoding="utf-8").strip()
        if existing:
            return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staging = tempfile.mkstemp(dir=path.parent, prefix=".session_secret.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        os.chmod(staging, stat.S_IRUSR | stat.S_IWUSR)
        with contextlib.suppress(FileExistsError):
            os.link(staging, path)  # fails if another process linked its own first
    finally:
        os.unlink(staging)
    return path.read_text(encoding="utf-8").strip()


class SessionSigner:
    """Issues and checks session tokens: ``<id>.<issued>.<signature>``."""

    def __init__(self, secret: str, max_age_s: int) -> None:
        self.max_age_s = max_age_s
        self._signer = TimestampSigner(secret, salt=SIGNER_SALT,
                                       digest_method=hashlib.sha256)

    def issue(self) -> str:
        """A new token for a new random session id (128 bits)."""
        return self._signer.sign(secrets.token_urlsafe(16)).decode()

    def session_of(self, token: str | None) -> str | None:
        """The session id a valid token carries; None for no token or a bad one."""
        try:
            return self.verify(token) if token else None
        except InvalidSession:
            return None

    def verify(self, token: str) -> str:
        """The session id `token` carries; InvalidSession (401) when it is garbled, signed
        with another secret, or older than `max_age_s`."""
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidSession(f"this session token is not one this arena issued; {GET_ONE}")
        try:
            value = self._signer.unsign(token, max_age=self.max_age_s)
        except SignatureExpired:
            raise InvalidSession(f"this session expired (sessions last {self.max_age_s} s); "
                                 f"{GET_ONE}") from None
        except BadSignature:
            raise InvalidSession(
                f"this session token is not one this arena issued (forged, garbled or signed "
                f"with another secret); {GET_ONE}") from None
        return value.decode()

    def require(self, token: str | None) -> str:
        """The session id of a REST request's `X-Arena-Session` value (SessionRequired when
        there is none, InvalidSession when it is bad)."""
        if not token:
            raise SessionRequired(f"this route needs a rater session: {GET_ONE}")
        return self.verify(token)


def session_response(token: str, max_age_s: int) -> dict[str, Any]:
    """The body of `POST /api/sessions`."""
    return {"session": token, "header": SESSION_HEADER, "max_age_s": max_age_s}
