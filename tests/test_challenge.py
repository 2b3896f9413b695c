"""The session challenge hook and its proof of work, against a real Redis (docs/challenge.md).

Off by default; refused at start-up when misconfigured; an answer is accepted once, and a wrong
nonce, a hash with too few zero bits, an expired, forged or too easy challenge, and a replay
(also through another worker sharing the secret and Redis) are refused with a reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from arena.config import ArenaSettings, ConfigError
from arena.live.connection import LiveConnection
from arena.live.results import LiveStateUnavailable
from arena.web.challenge import ChallengeConfigError, check_challenge_settings, make_challenge
from arena.web.challenge_pow import (
    CHALLENGE_TTL_S,
    ProofOfWork,
    leading_zero_bits,
    solution_digest,
    solve_pow,
)

SECRET = "test session secret"
pytestmark = pytest.mark.asyncio(loop_scope="session")

BITS = 12  # 4096 hashes on average: milliseconds


class Clock:
    """Unix seconds that a test moves forward by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def live(redis_url: str, live_prefix: str) -> AsyncIterator[LiveConnection]:
    connection = LiveConnection.from_url(redis_url, prefix=live_prefix)
    try:
        yield connection
    finally:
        await connection.clear()
        await connection.aclose()


def pow_on(live: LiveConnection, *, bits: int = BITS, secret: str = SECRET,
           clock: Clock | None = None) -> ProofOfWork:
    return ProofOfWork(secret=secret, redis=live.client, key_prefix=live.prefix,
                       difficulty_bits=bits, **({"clock": clock} if clock else {}))


def failing_nonce(token: str, bits: int) -> str:
    """The first nonce whose hash has fewer than `bits` leading zero bits."""
    nonce = 0
    while leading_zero_bits(solution_digest(token, str(nonce))) >= bits:
        nonce += 1
    return str(nonce)


def settings(**values: object) -> SimpleNamespace:
    return SimpleNamespace(**values)


async def test_off_by_default(live: LiveConnection) -> None:
    assert make_challenge(ArenaSettings(), live, secret=SECRET) is None
    assert make_challenge(settings(session_challenge="none"), live) is None


@pytest.mark.parametrize(("values", "fragment"), [
    ({"session_challenge": "captcha"}, "unknown; choose one of 'none', 'pow'"),
    ({"session_challenge": "pow", "pow_difficulty_bits": 7}, "= 7: must be a whole number"),
    ({"session_challenge": "pow", "pow_difficulty_bits": 33}, "from 8"),
    ({"session_challenge": "pow", "pow_difficulty_bits": "20"}, "'20'"),
    ({"session_challenge": "pow", "pow_difficulty_bits": True}, "True"),
])
async def test_a_bad_config_is_refused_at_start_up(live: LiveConnection,
                                                   values: dict, fragment: str) -> None:
    with pytest.raises(ChallengeConfigError) as refused:
        make_challenge(settings(**values), live, secret=SECRET)
    assert fragment in str(refused.value)
    assert isinstance(refused.value, ConfigError)  # `arena serve` reports it and exits 2
    with pytest.raises(ChallengeConfigError, match=fragment.replace("(", r"\(")):
        check_challenge_settings(settings(**values))  # the same, without Redis or secret


async def test_good_settings_pass_the_config_check() -> None:
    for values in ({}, {"session_challenge": "none", "pow_difficulty_bits": 99},
                   {"session_challenge": "pow", "pow_difficulty_bits": 8},
                   {"session_challenge": "pow", "pow_difficulty_bits": 32}):
        assert check_challenge_settings(settings(**values)) is None
    assert check_challenge_settings(ArenaSettings()) is None


async def test_pow_needs_a_secret(live: LiveConnection) -> None:
    with pytest.raises(ChallengeConfigError, match="signing secret"):
        make_challenge(settings(session_challenge="pow"), live)


async def test_make_challenge_builds_the_configured_pow(live: LiveConnection) -> None:
    challenge = make_challenge(settings(session_challenge="pow", pow_difficulty_bits=9),
                               live, secret=SECRET)
    assert challenge is not None and challenge.name == "pow"
    issued = await challenge.issue()
    assert issued["kind"] == "pow" and issued["algorithm"] == "sha256"
    assert issued["difficulty_bits"] == 9
    assert await challenge.verify(issued, solve_pow(issued)) is None
    # The used id lives under the connection's prefix and expires with the challenge.
    keys = await live.client.keys(live.prefix + "challenge:used:*")
    assert len(keys) == 1
    assert 0 < await live.client.pttl(keys[0]) <= (CHALLENGE_TTL_S + 1) * 1000


async def test_a_solved_challenge_is_accepted(live: LiveConnection) -> None:
    proof = pow_on(live)
    issued = await proof.issue()
    answer = solve_pow(issued)
    digest = solution_digest(issued["challenge"], answer["nonce"])
    assert leading_zero_bits(digest) >= BITS
    assert await proof.verify(issued, answer) is None


async def test_a_wrong_nonce_is_refused_and_does_not_use_the_challenge_up(
        live: LiveConnection) -> None:
    proof = pow_on(live)
    issued = await proof.issue()
    reason = await proof.verify(issued, {"nonce": failing_nonce(issued["challenge"], BITS)})
    assert reason is not None and f"{BITS} are required" in reason
    assert await proof.verify(issued, solve_pow(issued)) is None


@pytest.mark.parametrize("nonce", ["", "12a", "-1", "+5", " 7", "007", "1" * 21, "١٢", 42, None])
async def test_a_nonce_that_is_not_a_plain_decimal_string_is_refused(
        live: LiveConnection, nonce: object) -> None:
    proof = pow_on(live)
    issued = await proof.issue()
    reason = await proof.verify(issued, {"nonce": nonce})
    assert reason == "answer.nonce must be a decimal string (digits only, at most 20)"


async def test_too_few_bits_for_the_current_difficulty_is_refused(
        live: LiveConnection) -> None:
    easy = pow_on(live, bits=8)
    issued = await easy.issue()
    answer = solve_pow(issued)
    # The operator raised the difficulty: a challenge issued before, even solved, is too easy.
    reason = await pow_on(live, bits=16).verify(issued, answer)
    assert reason is not None and "asks for 8 bits but this server now requires 16" in reason


async def test_an_expired_challenge_is_refused(live: LiveConnection) -> None:
    clock = Clock()
    proof = pow_on(live, clock=clock)
    issued = await proof.issue()
    assert issued["expires_at"] == int(clock.now) + CHALLENGE_TTL_S
    answer = solve_pow(issued)
    clock.now += CHALLENGE_TTL_S + 1
    reason = await proof.verify(issued, answer)
    assert reason is not None and "expired" in reason
    clock.now -= 2  # just inside its lifetime
    assert await proof.verify(issued, answer) is None


async def test_a_forged_or_foreign_challenge_is_refused(live: LiveConnection) -> None:
    proof = pow_on(live)
    issued = await proof.issue()
    token = issued["challenge"]
    body, _, signature = token.rpartition(".")
    version, challenge_id, bits, expires_at = body.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    easier = f"{version}.{challenge_id}.8.{expires_at}.{signature}"  # difficulty lowered
    later = f"{version}.{challenge_id}.{bits}.{int(expires_at) + 3600}.{signature}"
    foreign = (await pow_on(live, secret="another arena's secret").issue())["challenge"]
    for forged in (f"{body}.{flipped}", easier, later, foreign, body, "v1.x.12.1.é"):
        candidate = {**issued, "challenge": forged}
        reason = await proof.verify(candidate, {"nonce": "1"})
        assert reason is not None and "not issued by this server" in reason, forged
    for missing in ({}, {"challenge": 5}, {"challenge": "x" * 201}):
        reason = await proof.verify(missing, {"nonce": "1"})
        assert reason is not None and "token this server issued" in reason


async def test_a_replayed_solution_is_refused_by_every_worker(live: LiveConnection) -> None:
    proof = pow_on(live)
    other_worker = pow_on(live)  # same secret and Redis, as in another process or host
    issued = await proof.issue()
    answer = solve_pow(issued)
    assert await other_worker.verify(issued, answer) is None
    for verifier in (proof, other_worker):
        reason = await verifier.verify(issued, answer)
        assert reason == "this challenge was already used; ask for a new one"
    # Another solution to the same challenge is a replay too.
    second = solve_pow(issued, start=int(answer["nonce"]) + 1)
    assert await proof.verify(issued, second) == (
        "this challenge was already used; ask for a new one")


async def test_each_issued_challenge_is_new(live: LiveConnection) -> None:
    proof = pow_on(live)
    tokens = {(await proof.issue())["challenge"] for _ in range(50)}
    assert len(tokens) == 50


async def test_redis_down_is_reported_as_unavailable(own_redis, own_redis_url: str) -> None:
    connection = LiveConnection.from_url(own_redis_url, prefix="test:down:")
    proof = ProofOfWork(secret=SECRET, redis=connection.client, difficulty_bits=BITS)
    issued = await proof.issue()
    own_redis.stop()
    try:
        with pytest.raises(LiveStateUnavailable, match="challenge cannot be checked"):
            await proof.verify(issued, solve_pow(issued))
    finally:
        await connection.aclose()
