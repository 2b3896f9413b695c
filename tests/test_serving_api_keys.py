"""Launched model servers require a random API key per run: passed in their environment, never
on their command line, kept 0600 next to the run record, sent by every client of the arena
(readiness, `arena models status`, the streaming client), gone when the server stops.

The servers are the stand-in of tests/fixtures/vllm.py (an OpenAI-compatible server that
checks `Bearer $VLLM_API_KEY` on /v1/* as vLLM does), started through the launcher's public
functions and the `arena models` commands.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fixtures.ports import reserved_port
from fixtures.vllm import write_stand_in_python

from serving.api_keys import key_path, read_api_key, with_launched_keys
from serving.client import complete_chat
from serving.config import ModelSpec, SamplingSettings, load_models_config
from serving.launcher import serve_models, start_server, stop_server
from serving.processes import group_members
from serving.vllm_command import server_env

REPO = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def stand_in(tmp_path: Path) -> tuple[Path, ModelSpec]:
    """The stand-in's Python and a launch spec for it."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    python = write_stand_in_python(tmp_path / "stand-in")
    return python, ModelSpec(name="keyed", model=str(model_dir), port=reserved_port())


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(pair.decode().split("=", 1) for pair in pairs if b"=" in pair)


async def test_a_launched_server_requires_its_own_key_which_is_never_on_a_command_line(
        tmp_path, stand_in):
    python, spec = stand_in
    data = tmp_path / "data"
    with serve_models([spec], data_dir=data, python=python, startup_timeout_s=60) as handles:
        (handle,) = handles
        key = handle.spec.api_key
        assert key and len(key) == 48
        path = key_path(data, "keyed")
        assert read_api_key(path) == key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        members = group_members(handle.record.pgid)
        assert members
        for pid in members:
            assert key not in cmdline(pid)
        assert environ(handle.record.pid)["VLLM_API_KEY"] == key
        assert key not in " ".join(handle.record.command)
        assert key not in (data / "run" / "keyed.json").read_text()
        assert key not in repr(handle)
        with httpx.Client() as client:
            assert client.get(f"{spec.url}/v1/models").status_code == 401
            assert client.get(f"{spec.url}/health").status_code == 200
        params = SamplingSettings().request_params()
        done = await complete_chat(handle.spec.endpoint(), MESSAGES, params)
        assert done.ok and done.output == "hello from keyed"
        refused = await complete_chat(spec.endpoint(), MESSAGES, params)  # the spec has no key
        assert refused.error.startswith("HTTP 401 from") and key not in refused.error
    assert not path.exists() and not (data / "run" / "keyed.json").exists()


def test_each_run_gets_a_fresh_key_and_a_restart_of_a_handle_keeps_its_own(tmp_path, stand_in):
    python, spec = stand_in
    data = tmp_path / "data"
    started = []
    try:
        for launched in (spec, "restart", spec):
            # "restart": start again from the last handle's spec, which carries its key.
            which = started[-1].spec if launched == "restart" else launched
            started.append(start_server(which, data_dir=data, python=python, attach=True))
            stop_server(started[-1].record, grace_s=5.0, process=started[-1].process)
    finally:
        for handle in started:
            stop_server(handle.record, grace_s=1.0, process=handle.process)
    first, again, fresh = (handle.spec.api_key for handle in started)
    assert again == first
    assert fresh not in (None, first)


def arena(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, cwd=REPO, timeout=120,
                          env={**os.environ, **(env or {})})


def test_models_up_status_and_down_find_the_key_under_the_configs_data_dir(tmp_path, stand_in):
    python, spec = stand_in
    data = tmp_path / "data"
    config = tmp_path / "arena.toml"
    config.write_text(f'[arena]\ndata_dir = "{data}"\n\n[serving]\nvllm_python = "{python}"\n\n'
                      f'[[models]]\nname = "keyed"\nmodel = "{spec.model}"\nport = {spec.port}\n',
                      encoding="utf-8")
    up = arena("models", "up", "--config", str(config))  # no --data-dir: the config's
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        key = read_api_key(key_path(data, "keyed"))
        assert key and key not in up.stdout + up.stderr
        status = arena("models", "status", "--config", str(config))
        assert status.returncode == 0, status.stderr
        assert status.stdout.splitlines()[1].split()[2] == "ready"  # probed with the key
        keyed = with_launched_keys(load_models_config(config), data).model("keyed")
        assert keyed.api_key == key and key not in repr(keyed)
    finally:
        down = arena("models", "down", "--config", str(config))
    assert down.returncode == 0, down.stderr
    assert not key_path(data, "keyed").exists()


def test_a_server_gets_neither_the_arenas_secrets_nor_an_inherited_key(monkeypatch):
    for name in ("ARENA_DB_URL", "ARENA_REDIS_URL", "ARENA_OPERATOR_TOKEN", "VLLM_API_KEY"):
        monkeypatch.setenv(name, f"secret-{name}")
    spec = ModelSpec(name="m", model="/models/m", port=8001)
    env = server_env(spec)
    assert not {"ARENA_DB_URL", "ARENA_REDIS_URL", "ARENA_OPERATOR_TOKEN",
                "VLLM_API_KEY"} & set(env)
    keyed = server_env(ModelSpec(name="m", model="/models/m", port=8001, api_key="k1",
                                 env={"VLLM_API_KEY": "from-config"}))
    assert keyed["VLLM_API_KEY"] == "k1"  # the key the arena sends is the one checked
