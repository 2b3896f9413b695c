"""Signed rater sessions and client addresses, in-process: tokens the server issued pass and
nothing else does; the session secret is kept once and shared; `X-Forwarded-For` counts only
from trusted proxies; limits key on the IPv4 address or the IPv6 /64. (Against a real
`arena serve`: tests/test_limits_serve.py.)"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import multiprocessing
import stat
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from itsdangerous import TimestampSigner

from arena.config import ArenaSettings, ConfigError, load_arena_settings
from arena.web.client_address import ProxyTrust, limit_key, parse_address
from arena.web.identity import ClientIdentity, SessionCookies
from arena.web.routes import install_error_handlers
from arena.web.sessions import (
    SIGNER_SALT,
    InvalidSession,
    SessionRequired,
    SessionSecretError,
    SessionSigner,
    kept_secret,
    load_session_secret,
)

SECRET = "s" * 48


def test_an_issued_token_carries_its_id_and_anything_else_is_refused():
    signer = SessionSigner(SECRET, max_age_s=3600)
    token = signer.issue()
    session = signer.verify(token)
    assert token.startswith(session + ".") and len(session) >= 20
    assert signer.issue() != token
    other = SessionSigner("t" * 48, max_age_s=3600).issue()
    tampered = session[:-1] + ("A" if session[-1] != "A" else "B") + token[len(session):]
    for bad in (other, tampered, session, "garbage", token + "x", "x" * 500, "a.b.c"):
        with pytest.raises(InvalidSession, match="POST /api/sessions"):
            signer.verify(bad)
        assert signer.session_of(bad) is None
    with pytest.raises(SessionRequired, match="X-Arena-Session"):
        signer.require(None)


def test_an_expired_token_is_refused_as_expired():
    signer = SessionSigner(SECRET, max_age_s=60)
    old = TimestampSigner(SECRET, salt=SIGNER_SALT, digest_method=hashlib.sha256)
    old.get_timestamp = lambda: 1_000_000  # type: ignore[method-assign]  # issued in 1970
    with pytest.raises(InvalidSession, match="expired"):
        signer.verify(old.sign("abc").decode())


def _read_kept(path: str) -> str:
    return kept_secret(Path(path))


def test_the_kept_secret_is_made_once_private_and_shared_by_processes_starting_together(
        tmp_path):
    path = tmp_path / "data" / "session_secret"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        secrets = pool.map(_read_kept, [str(path)] * 8)
    assert len(set(secrets)) == 1 and len(secrets[0]) >= 48
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["session_secret"]  # no staging left
    settings = replace(ArenaSettings(), data_dir=str(tmp_path / "data"))
    assert load_session_secret(settings, environ={}) == secrets[0]


def test_a_configured_secret_wins_and_an_unusable_one_stops_the_start(tmp_path):
    file = tmp_path / "secret"
    file.write_text("f" * 40 + "\n")
    settings = replace(ArenaSettings(), data_dir=str(tmp_path), session_secret_file=str(file))
    assert load_session_secret(settings, environ={"ARENA_SESSION_SECRET": "e" * 40}) == "f" * 40
    plain = replace(settings, session_secret_file="")
    assert load_session_secret(plain, environ={"ARENA_SESSION_SECRET": "e" * 40}) == "e" * 40
    with pytest.raises(SessionSecretError, match="too short") as short:
        load_session_secret(plain, environ={"ARENA_SESSION_SECRET": "tiny-secret"})
    assert "tiny-secret" not in str(short.value)
    with pytest.raises(SessionSecretError, match="cannot read"):
        load_session_secret(replace(settings, session_secret_file=str(tmp_path / "none")))


def test_forwarded_for_is_believed_only_from_trusted_proxies():
    trust = ProxyTrust(["10.0.0.0/8", "2001:db8:ffff::/48"])
    client = ipaddress.ip_address("203.0.113.9")
    # An untrusted peer's header is ignored: the peer is the client.
    assert trust.client_address("198.51.100.4", ["203.0.113.9"]) == ipaddress.ip_address(
        "198.51.100.4")
    # From a proxy: the rightmost hop that is not a proxy; what the client wrote left of it
    # (a forged first hop) does not count.
    assert trust.client_address("10.1.2.3", ["1.1.1.1, 203.0.113.9, 10.9.9.9"]) == client
    assert trust.client_address("10.1.2.3", ["1.1.1.1", "203.0.113.9:4431"]) == client
    assert trust.client_address("2001:db8:ffff::1", ["[2001:db8:1:2::7]:443"]) == \
        ipaddress.ip_address("2001:db8:1:2::7")
    # No header, or garbage beyond the last proxy: count on that proxy.
    assert trust.client_address("10.1.2.3", []) == ipaddress.ip_address("10.1.2.3")
    assert trust.client_address("10.1.2.3", ["unknown, 10.4.4.4"]) == ipaddress.ip_address(
        "10.4.4.4")
    assert ProxyTrust().client_address("10.1.2.3", ["203.0.113.9"]) == ipaddress.ip_address(
        "10.1.2.3")
    assert trust.is_https("http", "10.1.2.3", ["https"])
    assert not trust.is_https("http", "198.51.100.4", ["https"])
    assert trust.is_https("https", None, [])


def test_limits_key_on_the_ipv4_address_or_the_ipv6_slash_64():
    assert limit_key(parse_address("203.0.113.9")) == "203.0.113.9"
    assert limit_key(parse_address("::ffff:203.0.113.9")) == "203.0.113.9"
    same = {limit_key(parse_address(a)) for a in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9")}
    assert same == {"2001:db8:1:2::/64"}
    assert limit_key(parse_address("2001:db8:1:3::1")) == "2001:db8:1:3::/64"
    assert limit_key(parse_address("not an address")) == "unknown"


def test_trusted_proxies_and_the_new_limits_are_read_and_checked(tmp_path):
    config = tmp_path / "arena.toml"
    config.write_text('[arena]\ntrusted_proxies = ["10.0.0.0/8", "127.0.0.1"]\n'
                      "votes_per_day = 50\nstreams_per_address = 3\n")
    settings = load_arena_settings(config)
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert (settings.votes_per_day, settings.streams_per_address) == (50, 3)
    for bad, reason in (('trusted_proxies = ["10.0.0.0/33"]', "not an IP"),
                        ('trusted_proxies = "10.0.0.0/8"', "array of strings"),
                        ("votes_per_day_per_address = 0", "at least 1"),
                        ("max_concurrent_streams = -1", "0 \\(derived")):
        config.write_text(f"[arena]\n{bad}\n")
        with pytest.raises(ConfigError, match=reason):
            load_arena_settings(config)


def test_the_page_gets_a_signed_cookie_and_a_forged_one_is_replaced():
    signer = SessionSigner(SECRET, max_age_s=3600)
    identity = ClientIdentity(signer, ProxyTrust(["10.0.0.0/8"]))
    app = FastAPI()

    @app.get("/")
    async def page(request: Request) -> dict[str, str]:  # the rater a page handler sees
        return {"rater": identity.page_client(request).session}

    app.add_middleware(SessionCookies, identity=identity)

    async def visit(peer: str, **headers: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://arena") as client:
            return await client.get("/", headers=headers)

    fresh = asyncio.run(visit("203.0.113.9"))
    cookie = fresh.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert fresh.json()["rater"] == signer.verify(token)  # the handler acts as it at once
    again = asyncio.run(visit("203.0.113.9", cookie=f"arena_session={token}"))
    assert "set-cookie" not in again.headers and again.json()["rater"] == signer.verify(token)
    forged = asyncio.run(visit("203.0.113.9", cookie="arena_session=chosen-by-me"))
    replaced = forged.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert forged.json()["rater"] == signer.verify(replaced) != "chosen-by-me"
    proxied = asyncio.run(visit("10.0.0.2", **{"x-forwarded-proto": "https"}))
    assert "Secure" in proxied.headers["set-cookie"]
    spoofed = asyncio.run(visit("203.0.113.9", **{"x-forwarded-proto": "https"}))
    assert "Secure" not in spoofed.headers["set-cookie"]


def test_with_a_challenge_a_session_costs_a_solved_puzzle(redis_url, live_prefix):
    from arena.live import LiveState
    from arena.web.challenge import make_challenge
    from arena.web.challenge_pow import solve_pow
    from arena.web.identity import SessionRoutes

    settings = replace(ArenaSettings(), session_challenge="pow", pow_difficulty_bits=8)

    async def scenario() -> None:
        async with LiveState.from_url(redis_url, prefix=live_prefix) as live:
            signer = SessionSigner(SECRET, max_age_s=3600)
            identity = ClientIdentity(signer, ProxyTrust(),
                                      challenge=make_challenge(settings, live, secret=SECRET))
            app = FastAPI()
            routes = SessionRoutes(identity)
            app.add_api_route("/api/sessions", routes.create, methods=["POST"], status_code=201)
            app.add_api_route("/api/sessions/challenge", routes.issue_challenge)
            install_error_handlers(app)
            app.add_middleware(SessionCookies, identity=identity)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://arena") as http:
                assert "set-cookie" not in (await http.get("/")).headers  # none minted
                bare = await http.post("/api/sessions")
                assert bare.status_code == 403 and bare.json()["error"] == "challenge_failed"
                issued = (await http.get("/api/sessions/challenge")).json()
                wrong = await http.post("/api/sessions", json={
                    "challenge": issued, "answer": {"nonce": "0"}})
                if solve_pow(issued)["nonce"] != "0":
                    assert wrong.status_code == 403 and wrong.json()["detail"]
                solved = await http.post("/api/sessions", json={
                    "challenge": issued, "answer": solve_pow(issued)})
                assert solved.status_code == 201
                token = solved.json()["session"]
                assert signer.verify(token) and "HttpOnly" in solved.headers["set-cookie"]
                again = await http.post("/api/sessions", json={
                    "challenge": issued, "answer": solve_pow(issued)})
                assert again.status_code == 403  # each challenge is used once
                # The page, now holding its cookie, is asked nothing more.
                http.cookies.set("arena_session", token)
                assert (await http.get("/api/sessions/challenge")).json() == {"kind": "none"}

    asyncio.run(scenario())
