"""What every answer of a real `arena serve` carries, and what it refuses before reading:
the request-body limit (413, `[arena] max_request_bytes`, 1 MiB by default) and the security
headers, on the session fixture's re-vote server (no model server needed)."""

from __future__ import annotations

import httpx
from fixtures.arena_server import SESSION_HEADER, new_session


def test_a_body_over_the_limit_is_refused_with_413_and_the_server_keeps_serving(replay_server):
    url = replay_server.url
    headers = {SESSION_HEADER: new_session(url), "content-type": "application/json"}
    huge = b'{"winner": "model_a", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    refused = httpx.post(f"{url}/api/battles/some-battle/vote", content=huge, headers=headers,
                         timeout=30)
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"] == "body_too_large"
    assert "1048576" in refused.json()["detail"] or "1 MiB" in refused.json()["detail"]
    # The same route with a small body reaches the service (an unknown battle: 404).
    small = httpx.post(f"{url}/api/battles/some-battle/vote", json={"winner": "model_a"},
                       headers=headers, timeout=30)
    assert small.status_code == 404, small.text


def test_every_answer_carries_the_security_headers(replay_server):
    for path in ("/", "/healthz", "/api/models", "/api/leaderboard", "/no-such-page"):
        reply = httpx.get(f"{replay_server.url}{path}", timeout=30)
        assert "default-src" in reply.headers.get("content-security-policy", ""), path
        assert reply.headers.get("x-content-type-options") == "nosniff", path
        assert reply.headers.get("referrer-policy") == "no-referrer", path
