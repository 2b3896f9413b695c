"""An optional challenge a client must pass before the server gives it a new session.

A pluggable hook (docs/challenge.md), off by default: `make_challenge(settings, redis)` returns
None when `session_challenge = "none"`, else a `SessionChallenge` whose `issue()` hands the
client a puzzle and whose `verify()` checks the client's answer (None: accepted; else the
reason, in words, for a 403). The web layer asks for a passed challenge only when it mints a
session; every later request carries the signed session and costs nothing more.

Built in: `"pow"`, a SHA-256 proof of work (`arena.web.challenge_pow.ProofOfWork`) that runs
offline. It does not tell humans from scripts; it makes every new session cost CPU time, so a
script that dodges the per-session limits by minting sessions pays for each one.

Another implementation (a CAPTCHA service, say) needs only `name`, `issue` and `verify`, and
an entry in `CHALLENGE_KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from arena.config import ConfigError
from arena.web.challenge_pow import (
    MAX_DIFFICULTY_BITS,
    MIN_DIFFICULTY_BITS,
    ProofOfWork,
    redis_client_and_prefix,
)

DEFAULT_KIND = "none"
DEFAULT_DIFFICULTY_BITS = 20


class SessionChallenge(Protocol):
    """A puzzle a client solves once, before the server mints its session."""

    name: str

    async def issue(self) -> dict[str, Any]:
        """A new challenge, as JSON for the client; it names its `kind`."""
        ...

    async def verify(self, challenge: dict[str, Any], answer: dict[str, Any]) -> str | None:
        """None when `answer` solves `challenge` (which is then used up), else the reason."""
        ...


class ChallengeConfigError(ConfigError):
    """The `[arena]` challenge settings are unusable; the message says which key and why."""


def pow_difficulty(settings: Any) -> int:
    """`settings.pow_difficulty_bits`, checked: a whole number in the sane range."""
    bits = getattr(settings, "pow_difficulty_bits", DEFAULT_DIFFICULTY_BITS)
    if isinstance(bits, bool) or not isinstance(bits, int) or not (
            MIN_DIFFICULTY_BITS <= bits <= MAX_DIFFICULTY_BITS):
        raise ChallengeConfigError(
            f"[arena] pow_difficulty_bits = {bits!r}: must be a whole number from "
            f"{MIN_DIFFICULTY_BITS} (almost free) to {MAX_DIFFICULTY_BITS} (minutes per "
            f"session in a browser); 20 costs a browser about a second (docs/challenge.md)")
    return bits


def _proof_of_work(settings: Any, redis: Any, secret: bytes | str | None) -> SessionChallenge:
    bits = pow_difficulty(settings)
    if not secret:
        raise ChallengeConfigError(
            "session_challenge = \"pow\" needs a signing secret (the session secret); "
            "none was given")
    client, prefix = redis_client_and_prefix(redis)
    return ProofOfWork(secret=secret, redis=client, key_prefix=prefix, difficulty_bits=bits)


# `session_challenge` value -> a factory (settings, redis, secret) -> SessionChallenge.
CHALLENGE_KINDS: dict[str, Callable[[Any, Any, bytes | str | None], SessionChallenge]] = {
    "pow": _proof_of_work,
}


def check_challenge_settings(settings: Any) -> None:
    """Raise `ChallengeConfigError` when the challenge settings are unusable (an unknown kind,
    a difficulty out of range): for the config check before any process starts."""
    kind = getattr(settings, "session_challenge", DEFAULT_KIND)
    if kind != DEFAULT_KIND and kind not in CHALLENGE_KINDS:
        known = ", ".join(repr(k) for k in (DEFAULT_KIND, *CHALLENGE_KINDS))
        raise ChallengeConfigError(
            f"[arena] session_challenge = {kind!r}: unknown; choose one of {known}")
    if kind == "pow":
        pow_difficulty(settings)


def make_challenge(settings: Any, redis: Any, *,
                   secret: bytes | str | None = None) -> SessionChallenge | None:
    """The challenge `settings.session_challenge` names, or None when it is `"none"`.

    `redis` is a `redis.asyncio.Redis` or an `arena.live` connection (its `client` and key
    `prefix` are used): it holds the set of used challenges, shared by every worker and host.
    `secret` signs the challenges (the session secret; any worker holding it can verify any
    challenge). Raises `ChallengeConfigError` at start-up for an unknown kind, a difficulty
    out of range or a missing secret, so a bad config never reaches a rater.
    """
    check_challenge_settings(settings)
    kind = getattr(settings, "session_challenge", DEFAULT_KIND)
    if kind == DEFAULT_KIND:
        return None
    return CHALLENGE_KINDS[kind](settings, redis, secret)
