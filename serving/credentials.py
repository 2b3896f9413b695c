"""Secrets in URLs and fresh random secrets: what the arena may show of a URL, and how a
password or API key for one run is made.

A URL may carry credentials (``https://user:pass@host/v1``, ``redis://:pass@host:6379/0``,
``postgresql://user:pass@host/db``). Nothing that is logged, printed, stored in the vote log or
shown on `/healthz` may contain them: `split_credentials` takes them out of a model's URL (the
client sends them as a header instead), `redact_url` masks the password wherever a URL is only
shown, and `redact` masks any of a set of known secrets inside a longer text.
"""

from __future__ import annotations

import secrets
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"


def new_secret(nbytes: int = 24) -> str:
    """A fresh random secret of ``nbytes`` random bytes as hex (URL- and config-safe)."""
    return secrets.token_hex(nbytes)


def _host_part(netloc: str) -> str:
    """The ``host[:port]`` of a URL's netloc, without any ``user:password@`` in front."""
    return netloc.rpartition("@")[2]


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its ``user:password@`` part, and that part decoded (None if none).

    ``https://bob:s3cret@host/v1`` -> (``https://host/v1``, (``bob``, ``s3cret``)).
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo = parts.netloc.rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=_host_part(parts.netloc)))
    return clean, (unquote(user), unquote(password))


def strip_credentials(url: str) -> str:
    """``url`` without its ``user:password@`` part (unchanged when it has none)."""
    return split_credentials(url)[0]


def redact_url(url: str) -> str:
    """``url`` with its password (or a lone user part, often a token) replaced by ``***``.

    ``redis://:pw@127.0.0.1:6379/0`` -> ``redis://:***@127.0.0.1:6379/0``;
    ``postgresql+psycopg://arena:pw@db/arena`` -> ``postgresql+psycopg://arena:***@db/arena``.
    A string that is not a URL with credentials comes back unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK  # unparseable: show nothing rather than risk showing a secret
    if "@" not in parts.netloc:
        return url
    userinfo = parts.netloc.rpartition("@")[0]
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:{MASK}" if colon else MASK
    return urlunsplit(parts._replace(netloc=f"{shown}@{_host_part(parts.netloc)}"))


def redact(text: str, known_secrets: list[str] | tuple[str, ...]) -> str:
    """``text`` with every occurrence of each non-empty secret in ``known_secrets`` masked."""
    for secret in sorted((s for s in known_secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
