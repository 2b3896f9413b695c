"""Operator access in-process (arena/web/operator.py): where the token comes from, what an
unusable one does, how the gate answers, and the log export's bytes. The same routes against a
real `arena serve` are in tests/test_operator_serve.py and tests/test_public_surface.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import make_battle
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from arena.config import ArenaSettings, ConfigError
from arena.store import BattleLog
from arena.transfer.export import export_battles
from arena.web.operator import (
    CHUNK_BYTES,
    MIN_TOKEN_CHARS,
    TOKEN_ENV,
    OperatorGate,
    OperatorTokenError,
    install_operator_handler,
    load_operator_token,
    log_export_lines,
)

TOKEN = "op-" + "x" * 40


def token_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "operator-token"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_no_token_configured_means_operator_access_is_off():
    assert load_operator_token(ArenaSettings(), environ={}) is None


def test_the_file_wins_over_the_environment_and_whitespace_is_dropped(tmp_path):
    path = token_file(tmp_path, f"  {TOKEN}\n\n")
    settings = ArenaSettings(operator_token_file=str(path))
    assert load_operator_token(settings, environ={TOKEN_ENV: "e" * 40}) == TOKEN
    assert load_operator_token(ArenaSettings(), environ={TOKEN_ENV: f"{TOKEN}\n"}) == TOKEN


@pytest.mark.parametrize("text, says", [
    ("", "empty"), ("   \n", "empty"), ("changeme", "too short"),
    ("s" * (MIN_TOKEN_CHARS - 1), "too short"),
])
def test_an_empty_or_short_token_is_refused_without_showing_it(tmp_path, text, says):
    path = token_file(tmp_path, text)
    with pytest.raises(OperatorTokenError) as refused:
        load_operator_token(ArenaSettings(operator_token_file=str(path)), environ={})
    message = str(refused.value)
    assert says in message and str(path) in message and f"at least {MIN_TOKEN_CHARS}" in message
    assert "secrets.token_urlsafe" in message  # how to make a good one
    if text.strip():
        assert text.strip() not in message
    assert isinstance(refused.value, ConfigError)
    with pytest.raises(OperatorTokenError, match=TOKEN_ENV):
        load_operator_token(ArenaSettings(), environ={TOKEN_ENV: text})


def test_a_missing_token_file_is_refused_with_its_name(tmp_path):
    missing = tmp_path / "nowhere" / "token"
    with pytest.raises(OperatorTokenError, match="cannot read the operator token") as refused:
        load_operator_token(ArenaSettings(operator_token_file=str(missing)), environ={})
    assert str(missing) in str(refused.value)


def test_a_token_file_others_can_read_is_used_with_a_warning(tmp_path, caplog):
    path = token_file(tmp_path, TOKEN, mode=0o644)
    assert load_operator_token(ArenaSettings(operator_token_file=str(path)), environ={}) == TOKEN
    assert "chmod 600" in caplog.text and TOKEN not in caplog.text


def gated_client(token: str | None) -> TestClient:
    app = FastAPI()
    install_operator_handler(app)
    gate = OperatorGate(token)

    @app.get("/secret", dependencies=[Depends(gate)])
    def secret() -> dict[str, str]:
        return {"the": "log"}

    return TestClient(app)


def test_the_gate_answers_404_when_off_401_without_the_token_and_200_with_it():
    off = gated_client(None).get("/secret", headers={"Authorization": f"Bearer {TOKEN}"})
    assert off.status_code == 404 and off.json()["error"] == "not_found"
    assert "log" not in off.text
    client = gated_client(TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong-token"},
                    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN},
                    {"Authorization": f"Bearer {TOKEN[:-1]}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):
        refused = client.get("/secret", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        body = refused.json()
        assert body["error"] == "unauthorized" and "Authorization: Bearer" in body["detail"]
        assert TOKEN not in refused.text and "log" not in body
    for scheme in ("Bearer", "bearer"):
        allowed = client.get("/secret", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert allowed.status_code == 200 and allowed.json() == {"the": "log"}


def test_the_log_export_is_the_jsonl_export_byte_for_byte_sent_in_chunks(tmp_path):
    """Enough battles for several chunks: the HTTP export streams the same bytes as
    `arena export --format jsonl` writes, a chunk at a time."""
    with BattleLog(f"sqlite:///{tmp_path / 'arena.db'}") as log:
        for index in range(120):
            log.record_battle(make_battle(
                status=("voted", "abandoned", "error")[index % 3],
                winner="tie" if index % 3 == 0 else None,
                outputs=[f"Réponse {index}: " + "word " * 100, "Zweite Antwort."]))
        exported = tmp_path / "battles.jsonl"
        assert export_battles(log, "jsonl", exported, progress=False) == 120
        chunks = list(log_export_lines(log, mode=None, status=None, since=None))
        assert b"".join(chunks) == exported.read_bytes()
        assert len(chunks) > 1 and all(len(c) < 2 * CHUNK_BYTES for c in chunks)
        voted = b"".join(log_export_lines(log, mode=None, status="voted", since=None))
        rows = [json.loads(line) for line in voted.decode().splitlines()]
        assert len(rows) == 40 and {row["status"] for row in rows} == {"voted"}
