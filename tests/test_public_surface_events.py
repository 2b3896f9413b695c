"""The SSE encoder by itself (arena/web/sse.py): whatever a battle event carries, a rater's
stream gets only the allow-listed fields, so the encoder stays safe even if the service
starts sending more. The same streams from a real `arena serve` are checked in
tests/test_api.py and tests/test_public_surface.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from arena.battles import BattleEvent
from arena.errors import RateLimited
from arena.web.sse import BATTLE_FAILED, SIDE_ERROR, event_stream, public_event

# What a generation knows about itself and must not reach a rater before the vote.
SECRETS = {
    "completion_tokens": 23, "finish_reason": "length", "served_model": "secret-model-7b",
    "endpoint": "http://10.0.0.7:8000/v1", "model": "secret-model-7b", "prompt_tokens": 9,
    "error": "ConnectError: secret-model-7b at 10.0.0.7 refused", "latency_s": 0.41,
}


def leaked(payload: dict) -> list[str]:
    """The secret keys and values found in one event as sent."""
    text = json.dumps(payload)
    return [key for key in SECRETS if key in payload and payload.get("kind") != "refused"] + [
        str(value) for value in SECRETS.values() if str(value) in text]


def test_every_kind_keeps_only_its_allowed_fields_whatever_the_event_carries():
    cases = [
        (BattleEvent("battle", data={"battle_id": "b1", **SECRETS}),
            {"kind": "battle", "side": None, "text": "", "battle_id": "b1"}),
        (BattleEvent("delta", "a", "Hello", data=SECRETS),
            {"kind": "delta", "side": "a", "text": "Hello"}),
        (BattleEvent("turn", text="The logged prompt", data={"index": 2, **SECRETS}),
            {"kind": "turn", "side": None, "text": "The logged prompt", "index": 2}),
        (BattleEvent("done", "b", "secret-model-7b stopped", data=SECRETS),
            {"kind": "done", "side": "b", "text": ""}),
        (BattleEvent("error", "a", "secret-model-7b at 10.0.0.7 timed out", data=SECRETS),
            {"kind": "error", "side": "a", "text": SIDE_ERROR}),
        (BattleEvent("failed", text="secret-model-7b failed", data=SECRETS),
            {"kind": "failed", "side": None, "text": BATTLE_FAILED}),
        (BattleEvent("ready", data=SECRETS), {"kind": "ready", "side": None, "text": ""}),
        (BattleEvent("usage", "a", "secret-model-7b", data=SECRETS),
            {"kind": "usage", "side": "a", "text": ""}),
        (BattleEvent("delta", "secret-model-7b", "x"),
            {"kind": "delta", "side": None, "text": "x"}),
    ]
    for event, expected in cases:
        assert public_event(event) == expected, event.kind
        assert not leaked(public_event(event)), event.kind


async def collect(events: AsyncIterator[BattleEvent]) -> bytes:
    return b"".join([chunk async for chunk in event_stream(events)])


def test_the_wire_format_carries_the_filtered_events_and_a_refusal_last():
    async def battle() -> AsyncIterator[BattleEvent]:
        yield BattleEvent("battle", data={"battle_id": "b1"})
        yield BattleEvent("delta", "a", "Hi there", data=SECRETS)
        yield BattleEvent("done", "a", data=SECRETS)
        yield BattleEvent("bad kind\nevent: ready", data=SECRETS)
        raise RateLimited("too many battles; wait 30 s")

    raw = asyncio.run(collect(battle()))
    blocks = raw.decode().strip().split("\n\n")
    events = [json.loads(block.split("data: ", 1)[1]) for block in blocks]
    assert [block.split("\n")[0] for block in blocks] == [
        "event: battle", "event: delta", "event: done", "event: message", "event: refused"]
    assert events[1]["text"] == "Hi there" and events[2] == {"kind": "done", "side": "a",
                                                             "text": ""}
    assert events[-1] == {"kind": "refused", "error": "rate_limited",
                          "detail": "too many battles; wait 30 s"}
    assert not [leaked(event) for event in events if leaked(event)]
    assert b"\nevent: ready" not in raw
