"""The built-in session challenge: a SHA-256 proof of work (docs/challenge.md).

`ProofOfWork.issue()` hands out a signed, expiring token:
``v1.<random id>.<difficulty bits>.<expiry, unix seconds>.<HMAC-SHA256, base64url>``.
The client finds a nonce, a decimal string, such that ``SHA-256(token + ":" + nonce)`` starts
with at least `difficulty_bits` zero bits (2**bits tries on average), and sends it back.

The server keeps no state per challenge it issues: the token carries its own id, difficulty and
expiry under the signature. The only state is the set of used ids in Redis (SET NX, expiring
with the token), shared by every worker and host, so each solution is accepted once.

`solve_pow(issued)` is the Python solver (REST clients, tests, the benchmark); the browser's
solver is `arena.web.challenge_js.POW_SOLVER_JS`. Both count nonces up from 0, so they find
the same answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from arena.live.results import LiveStateUnavailable

KIND = "pow"
ALGORITHM = "sha256"
TOKEN_VERSION = "v1"
# Below 8 bits a challenge costs nothing; 32 bits is minutes to hours in a browser.
MIN_DIFFICULTY_BITS = 8
MAX_DIFFICULTY_BITS = 32
CHALLENGE_TTL_S = 300  # long enough for a slow phone at the highest sane difficulty
MAX_TOKEN_CHARS = 200
# A nonce is a plain decimal number below 10**20, no sign, no leading zero.
_NONCE = re.compile(r"(?:0|[1-9][0-9]{0,19})")
# Keeps the signing key of challenges apart from other uses of the same secret.
_KEY_CONTEXT = b"arena session challenge: proof of work v1"


def redis_client_and_prefix(redis: Any, default_prefix: str = "arena:") -> tuple[Any, str]:
    """`redis` as a client and a key prefix: an `arena.live` connection lends its own."""
    client = getattr(redis, "client", None)
    if client is not None and isinstance(getattr(redis, "prefix", None), str):
        return client, redis.prefix
    return redis, default_prefix


def solution_digest(token: str, nonce: str) -> bytes:
    """SHA-256 of ``token + ":" + nonce`` (both ASCII), the digest that must start with zeros."""
    return hashlib.sha256(f"{token}:{nonce}".encode("ascii")).digest()


def leading_zero_bits(digest: bytes) -> int:
    """How many zero bits `digest` starts with (0 to 8 * len(digest))."""
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solve_pow(issued: dict[str, Any], *, start: int = 0) -> dict[str, str]:
    """The answer to an issued proof-of-work challenge: ``{"nonce": "<decimal>"}``.

    Tries nonces start, start+1, ... (the browser solver does the same) on one core: about
    2**difficulty_bits hashes on average (docs/challenge.md has the measured times).
    """
    token = issued["challenge"]
    bits = int(issued["difficulty_bits"])
    # A digest below this bound (as big-endian bytes compare) has >= bits leading zeros.
    bound = (1 << (256 - bits)).to_bytes(33, "big")[1:] if bits else b"\xff" * 33
    prefix = hashlib.sha256(f"{token}:".encode("ascii"))
    nonce = start
    while True:
        attempt = prefix.copy()
        attempt.update(str(nonce).encode("ascii"))
        if attempt.digest() < bound:
            return {"nonce": str(nonce)}
        nonce += 1


class ProofOfWork:
    """Issues and verifies SHA-256 proof-of-work challenges (see the module docstring).

    `secret` signs tokens (any process with the same secret verifies any token); `redis` is a
    `redis.asyncio.Redis` holding the used ids under `key_prefix`; `clock` gives unix seconds.
    """

    name = KIND

    def __init__(self, *, secret: bytes | str, redis: Any, difficulty_bits: int,
                 key_prefix: str = "arena:", ttl_s: int = CHALLENGE_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        if not MIN_DIFFICULTY_BITS <= difficulty_bits <= MAX_DIFFICULTY_BITS:
            raise ValueError(f"difficulty_bits {difficulty_bits} outside "
                             f"{MIN_DIFFICULTY_BITS}..{MAX_DIFFICULTY_BITS}")
        raw = secret.encode() if isinstance(secret, str) else secret
        self._key = hmac.new(raw, _KEY_CONTEXT, hashlib.sha256).digest()
        self.redis = redis
        self.difficulty_bits = difficulty_bits
        self.used_prefix = f"{key_prefix}challenge:used:"
        self.ttl_s = ttl_s
        self.clock = clock

    async def issue(self) -> dict[str, Any]:
        """A new challenge: its signed token, difficulty, algorithm and expiry (unix s)."""
        expires_at = int(self.clock()) + self.ttl_s
        body = f"{TOKEN_VERSION}.{secrets.token_hex(16)}.{self.difficulty_bits}.{expires_at}"
        return {"kind": KIND, "challenge": f"{body}.{self._sign(body)}",
                "difficulty_bits": self.difficulty_bits, "algorithm": ALGORITHM,
                "expires_at": expires_at}

    async def verify(self, challenge: dict[str, Any], answer: dict[str, Any]) -> str | None:
        """None when `answer["nonce"]` solves the token in `challenge["challenge"]`, which is
        then used up; else why not. Only the signed token is believed: the other fields of
        `challenge` are the client's copy. Raises `LiveStateUnavailable` when Redis is down."""
        token = challenge.get("challenge") if isinstance(challenge, dict) else None
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            return "challenge.challenge must be the token this server issued (a string)"
        parsed = self._parse(token)
        if parsed is None:
            return ("the challenge was not issued by this server (bad signature or format); "
                    "ask for a new one")
        challenge_id, bits, expires_at = parsed
        if self.clock() > expires_at:
            return "the challenge expired; ask for a new one and solve it within " \
                   f"{self.ttl_s} seconds"
        if bits < self.difficulty_bits:
            return (f"the challenge asks for {bits} bits but this server now requires "
                    f"{self.difficulty_bits}; ask for a new one")
        nonce = answer.get("nonce") if isinstance(answer, dict) else None
        if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
            return "answer.nonce must be a decimal string (digits only, at most 20)"
        found = leading_zero_bits(solution_digest(token, nonce))
        if found < bits:
            return (f"SHA-256(challenge + \":\" + nonce) starts with {found} zero bits; "
                    f"{bits} are required")
        if not await self._use_once(challenge_id, expires_at):
            return "this challenge was already used; ask for a new one"
        return None

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def _parse(self, token: str) -> tuple[str, int, int] | None:
        """(id, bits, expires_at) of a token signed by this key, else None."""
        body, _, signature = token.rpartition(".")
        if not token.isascii() or not hmac.compare_digest(self._sign(body), signature):
            return None
        parts = body.split(".")
        if len(parts) != 4 or parts[0] != TOKEN_VERSION:
            return None
        _, challenge_id, bits, expires_at = parts
        return challenge_id, int(bits), int(expires_at)

    async def _use_once(self, challenge_id: str, expires_at: int) -> bool:
        """Mark the id used (kept until the token expires, plus a second); False if it was."""
        keep_ms = max(1000, int((expires_at - self.clock() + 1) * 1000))
        try:
            return bool(await self.redis.set(self.used_prefix + challenge_id, "1",
                                             nx=True, px=keep_ms))
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise LiveStateUnavailable(
                f"Redis is unreachable, so a challenge cannot be checked ({error}); "
                "check that Redis is running") from error
