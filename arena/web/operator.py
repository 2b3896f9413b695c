"""Operator access: the bearer token that opens the routes raters never see.

Two audiences use one server (docs/security.md). Raters get the UI, battles, votes and the
public leaderboard; operators also get the full log, the re-vote pool and detailed health.
An operator route asks for `Authorization: Bearer <token>`, where the token is read once at
start-up from the file named by `[arena] operator_token_file`, else from the environment
variable `ARENA_OPERATOR_TOKEN` (never from a command line, where any local user could read
it). The comparison takes constant time (`hmac.compare_digest`), so the answer's timing does
not tell how much of a guess was right.

- No token configured: operator routes answer 404 `not_found`, revealing nothing.
- Token missing or wrong: 401 with `WWW-Authenticate: Bearer` and a message that says how to
  send it. The token given is never logged or echoed.
"""

from __future__ import annotations

import hmac
import logging
import os
import stat
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from arena.config import ArenaSettings, ConfigError
from arena.errors import BadInput
from arena.store import BattleLog
from arena.transfer.export import jsonl_line

log = logging.getLogger(__name__)

TOKEN_ENV = "ARENA_OPERATOR_TOKEN"
# 24 characters of `secrets.token_urlsafe` carry 144 bits; shorter tokens are refused so that
# a placeholder such as "changeme" never guards the log.
MIN_TOKEN_CHARS = 24
MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class OperatorTokenError(ConfigError):
    """The configured operator token is unusable (missing file, empty, too short)."""


def load_operator_token(
    settings: ArenaSettings, environ: Mapping[str, str] | None = None
) -> str | None:
    """The operator token, or None when none is configured (operator routes are then off).

    `operator_token_file` wins over `ARENA_OPERATOR_TOKEN`; a relative file name is taken from
    the working directory, like `data_dir`. Surrounding whitespace (a trailing newline) is
    dropped. Raises OperatorTokenError for a file that cannot be read or a token shorter than
    MIN_TOKEN_CHARS; the message never contains the token.
    """
    environ = os.environ if environ is None else environ
    if settings.operator_token_file:
        path = Path(settings.operator_token_file)
        source = f"arena.operator_token_file ({path})"
        try:
            token = path.read_text(encoding="utf-8").strip()
            mode = path.stat().st_mode
        except (OSError, UnicodeDecodeError) as unreadable:
            raise OperatorTokenError(
                f"{source}: cannot read the operator token: {unreadable.__class__.__name__}: "
                f"{getattr(unreadable, 'strerror', None) or unreadable}"
            ) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s can be read by other users; `chmod 600` it", source)
    elif TOKEN_ENV in environ:
        source = f"the environment variable {TOKEN_ENV}"
        token = environ[TOKEN_ENV].strip()
    else:
        return None
    if len(token) < MIN_TOKEN_CHARS:
        raise OperatorTokenError(
            f"{source}: the operator token is {'empty' if not token else 'too short'} "
            f"({len(token)} characters; at least {MIN_TOKEN_CHARS} needed). Make one with "
            f"{MAKE_ONE}, or remove the setting to turn the operator routes off."
        )
    return token


class OperatorRefused(Exception):
    """An operator route refused: 404 when operator access is off, 401 without the token."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class OperatorGate:
    """The FastAPI dependency of every operator route (`dependencies=[Depends(gate)]`)."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode("utf-8") if token else None

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def allows(self, request: Request) -> bool:
        """Whether `request` carries the operator token (False when access is off)."""
        if self._token is None:
            return False
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        # Always compare, even an empty guess, so every wrong answer costs the same.
        return hmac.compare_digest(given.strip().encode("utf-8"), self._token)

    async def __call__(self, request: Request) -> None:
        if self._token is None:
            raise OperatorRefused(404, "not_found", "Not Found")
        if not self.allows(request):
            raise OperatorRefused(
                401, "unauthorized",
                "this route is for the arena's operators: send the header "
                "'Authorization: Bearer <token>' with the token from the server's "
                f"operator_token_file or {TOKEN_ENV}",
            )


def install_operator_handler(app: FastAPI) -> None:
    """Answer OperatorRefused as `{"error", "detail"}` (401 with `WWW-Authenticate`)."""

    @app.exception_handler(OperatorRefused)
    async def refused(_: Request, error: OperatorRefused) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="arena operator"'} \
            if error.status == 401 else {}
        return JSONResponse({"error": error.code, "detail": error.message},
                            status_code=error.status, headers=headers)


STATUSES = ("all", "voted", "abandoned", "error")
MODES = ("all", "anonymous", "named", "replay")
CHUNK_BYTES = 64 * 1024  # lines are sent in chunks of about this many bytes


def log_export_lines(
    log: BattleLog, *, mode: str | None, status: str | None, since: datetime | None
) -> Iterator[bytes]:
    """The vote log as JSONL, the lossless format of `arena export --format jsonl` (one
    `BattleRecord.to_dict()` per line), in chunks of about CHUNK_BYTES.

    Memory stays at one batch of records: `iter_battles` reads the log page by page.
    """
    chunk: list[bytes] = []
    size = 0
    for record in log.iter_battles(mode=mode, status=status, since=since):
        line = jsonl_line(record)
        chunk.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield b"".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield b"".join(chunk)


def parse_since(since: str | None) -> datetime | None:
    """An ISO 8601 date or time (UTC when no offset is given); BadInput otherwise."""
    if not since:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise BadInput(f"since: {since!r} is not an ISO 8601 date or time, e.g. "
                       "2025-01-31 or 2025-01-31T12:00:00+00:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# The handlers carry no docstrings: FastAPI would publish them as the routes' descriptions.
class OperatorRoutes:
    """Handlers of the operator routes: the full log over HTTP and the detailed health."""

    def __init__(self, log: BattleLog, health: Callable[[], Awaitable[dict[str, Any]]]):
        self.log = log
        self.health = health

    async def export_log(
        self,
        status: str = Query("all", description=f"one of {', '.join(STATUSES)}"),
        mode: str = Query("all", description=f"one of {', '.join(MODES)}"),
        since: str | None = Query(None, description="ISO 8601 date or time: battles started "
                                  "then or later"),
    ) -> StreamingResponse:
        for name, value, allowed in (("status", status, STATUSES), ("mode", mode, MODES)):
            if value not in allowed:
                raise BadInput(f"{name}: {value!r} is not one of {', '.join(allowed)}")
        lines = log_export_lines(
            self.log, mode=None if mode == "all" else mode,
            status=None if status == "all" else status, since=parse_since(since),
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return StreamingResponse(lines, media_type="application/x-ndjson", headers={
            "Content-Disposition": f'attachment; filename="arena-log-{stamp}.jsonl"',
            "Cache-Control": "no-store",
        })

    async def detailed_health(self) -> JSONResponse:
        report = await self.health()
        return JSONResponse(report, status_code=200 if report.get("ok") else 503)
