"""Secrets in the config: where a model's API key may come from, credentials in a `base_url`
taken out of it before anything shows or stores the URL, and reprs that print no secret."""

from __future__ import annotations

import asyncio
import base64
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from arena.config import ArenaSettings, load_arena_settings
from arena.live.embedded import EmbeddedRedis
from serving.client import Endpoint, complete_chat
from serving.config import (
    ModelConfigError,
    ModelSpec,
    SamplingSettings,
    ServingSettings,
    load_models_config,
    parse_models_config,
)
from serving.credentials import redact_url, split_credentials, strip_credentials
from serving.health import probe_endpoint
from serving.readiness import model_statuses

SECRET = "s3cr3t-pa55"


def models(toml: str, path: Path | None = None):
    return parse_models_config(tomllib.loads(toml), path)


def test_urls_lose_their_credentials_and_redaction_masks_only_the_password():
    assert split_credentials("https://bob:s%40cret@host:8443/v1") == (
        "https://host:8443/v1", ("bob", "s@cret"))
    assert strip_credentials("http://host:8000") == "http://host:8000"
    assert redact_url(f"redis://:{SECRET}@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact_url(f"postgresql+psycopg://arena:{SECRET}@db/arena?sslmode=require") == (
        "postgresql+psycopg://arena:***@db/arena?sslmode=require")
    assert redact_url("sqlite:///./data/arena.db") == "sqlite:///./data/arena.db"
    assert redact_url(f"https://{SECRET}@host/v1") == "https://***@host/v1"  # a lone token


def test_credentials_in_a_base_url_become_basic_auth_and_leave_the_url():
    spec = models(f'[[models]]\nname = "m"\nbase_url = "https://bob:{SECRET}@api.example/v1"\n'
                  ).model("m")
    assert spec.base_url == spec.url == "https://api.example"
    endpoint = spec.endpoint()
    assert endpoint.base_url == "https://api.example"
    assert endpoint.headers() == {
        "Authorization": "Basic " + base64.b64encode(f"bob:{SECRET}".encode()).decode()}
    for shown in (repr(spec), repr(endpoint), str(endpoint), endpoint.chat_url):
        assert SECRET not in shown
    # Built in code, too: the Endpoint and the ModelSpec take the credentials out themselves.
    assert Endpoint("m", f"http://u:{SECRET}@h:1", "m").base_url == "http://h:1"
    assert ModelSpec(name="m", base_url=f"http://u:{SECRET}@h:1").url == "http://h:1"


def test_a_remote_models_key_comes_from_an_environment_variable_or_a_file(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("TEST_MODEL_KEY", SECRET)
    (tmp_path / "model.key").write_text(f"{SECRET}-file\n")
    config = models(
        '[[models]]\nname = "env"\nbase_url = "http://h:1"\napi_key_env = "TEST_MODEL_KEY"\n'
        '[[models]]\nname = "file"\nbase_url = "http://h:2"\napi_key_file = "model.key"\n',
        tmp_path / "arena.toml")
    assert config.model("env").api_key == SECRET
    assert config.model("file").api_key == f"{SECRET}-file"  # relative to the config's folder
    assert config.model("env").endpoint().headers() == {"Authorization": f"Bearer {SECRET}"}
    assert SECRET not in repr(config)


@pytest.mark.parametrize(("entry", "message"), [
    ('base_url = "http://h:1"\napi_key_env = "NO_SUCH_VARIABLE_SET"',
     r"models\[0\] \(m\)\.api_key_env: environment variable NO_SUCH_VARIABLE_SET is not set"),
    ('base_url = "http://h:1"\napi_key_file = "missing.key"',
     r"models\[0\] \(m\)\.api_key_file: cannot read .*missing\.key: No such file"),
    ('base_url = "http://h:1"\napi_key = "a"\napi_key_env = "HOME"',
     r"give one way to authenticate, not api_key, api_key_env"),
    (f'base_url = "http://u:{SECRET}@h:1"\napi_key = "a"',
     r"give one way to authenticate, not api_key and user:password@ in base_url"),
    ('model = "."\nport = 8000\napi_key_env = "HOME"',
     r"api_key_env: only applies to models with base_url \(a launched model gets a random"),
    ('base_url = "http://h:1"\nurl_credentials = ["a", "b"]', r"url_credentials: unknown key"),
])
def test_wrong_key_settings_are_refused_with_the_key_and_never_the_secret(tmp_path, entry,
                                                                          message):
    with pytest.raises(ModelConfigError, match=message) as refused:
        models(f'[[models]]\nname = "m"\n{entry}\n', tmp_path / "arena.toml")
    assert SECRET not in str(refused.value)


def test_no_config_object_prints_a_secret_in_its_repr(tmp_path):
    settings = ArenaSettings(
        db_url=f"postgresql+psycopg://arena:{SECRET}@db/arena",
        redis_url=f"redis://:{SECRET}@10.0.0.5:6379/0", rater_salt=SECRET)
    shown = repr(settings)
    assert SECRET not in shown and SECRET not in str(settings)
    assert "db_url='postgresql+psycopg://arena:***@db/arena'" in shown
    assert "redis_url='redis://:***@10.0.0.5:6379/0'" in shown and "rater_salt='***'" in shown
    assert "rater_salt=''" in repr(ArenaSettings())  # unset is shown as unset
    config = tmp_path / "arena.toml"
    config.write_text(f'[arena]\ndb_url = "postgresql+psycopg://a:{SECRET}@db/x"\n')
    assert SECRET not in repr(load_arena_settings(config))
    spec = ModelSpec(name="m", base_url="http://h:1", api_key=SECRET, env={"HF_TOKEN": SECRET})
    assert SECRET not in repr(spec) and SECRET not in repr(spec.endpoint())
    assert SECRET not in repr(ServingSettings(env={"HF_TOKEN": SECRET}))


def test_the_embedded_redis_shows_its_address_but_never_its_password(redis_server):
    password = redis_server.password
    assert password and len(password) == 48
    assert password in redis_server.url
    assert password not in repr(redis_server) and password not in redis_server.address
    assert EmbeddedRedis().password is None  # drawn when started


async def _serve_once(seen: list[str]) -> tuple[asyncio.Server, int]:
    """A server that records the request's Authorization header and streams one answer."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        seen.extend(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                    if line.lower().startswith("authorization:"))
        body = (b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}, '
                b'"finish_reason": "stop"}]}\n\ndata: [DONE]\n\n')
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_the_record_of_a_generation_names_the_endpoint_without_its_credentials():
    seen: list[str] = []
    server, port = await _serve_once(seen)
    try:
        spec = models(f'[[models]]\nname = "m"\nbase_url = "http://bob:{SECRET}@127.0.0.1:{port}"'
                      ).model("m")
        record = await complete_chat(spec.endpoint(), [{"role": "user", "content": "x"}],
                                     SamplingSettings().request_params())
    finally:
        server.close()
    assert record.ok and record.output == "hi"
    assert seen == ["Basic " + base64.b64encode(f"bob:{SECRET}".encode()).decode()]
    assert record.endpoint == f"http://127.0.0.1:{port}"
    assert SECRET not in repr(record.to_dict())


async def test_errors_and_health_reasons_name_the_endpoint_without_its_credentials(tmp_path):
    spec = models(f'[[models]]\nname = "m"\nbase_url = "http://bob:{SECRET}@127.0.0.1:9"'
                  ).model("m")
    record = await complete_chat(spec.endpoint(), [{"role": "user", "content": "x"}],
                                 SamplingSettings().request_params())
    assert record.error.startswith("cannot connect to http://127.0.0.1:9")
    assert SECRET not in record.error and SECRET not in record.endpoint
    probe = await probe_endpoint(spec.endpoint(), timeout_s=2.0)
    assert not probe.ok and SECRET not in probe.reason
    config = tmp_path / "arena.toml"
    config.write_text(f'[[models]]\nname = "m"\nbase_url = "http://bob:{SECRET}@127.0.0.1:9"\n')
    (row,) = model_statuses(load_models_config(config).models, tmp_path)
    assert row.url == "http://127.0.0.1:9" and SECRET not in row.detail


def test_the_rater_salt_comes_from_its_file_and_an_unusable_file_is_named_never_shown(tmp_path):
    from arena.web.runtime import RaterSaltError, load_rater_salt

    salt_file = tmp_path / "rater_salt"
    salt_file.write_text("s3cret-salt-of-hosts-" * 2 + "\n", encoding="utf-8")
    settings = replace(ArenaSettings(), data_dir=str(tmp_path / "data"),
                       rater_salt_file=str(salt_file))
    assert load_rater_salt(settings) == "s3cret-salt-of-hosts-" * 2
    assert not (tmp_path / "data" / "rater_salt").exists()  # no second salt kept
    assert load_rater_salt(replace(settings, rater_salt="inline-wins")) == "inline-wins"

    salt_file.write_text("zq9x", encoding="utf-8")
    with pytest.raises(RaterSaltError, match="too short") as short:
        load_rater_salt(settings)
    assert "zq9x" not in str(short.value) and str(salt_file) in str(short.value)
    with pytest.raises(RaterSaltError, match="cannot read the rater salt: FileNotFoundError"):
        load_rater_salt(replace(settings, rater_salt_file=str(tmp_path / "missing")))
