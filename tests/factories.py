"""Realistic BattleRecords for tests: `make_battle(**overrides)`.

The defaults describe a finished, voted, anonymous two-turn battle between two small models,
with a system prompt on each side, full sampling parameters, timings and token counts, the
way the battle service records one. Every keyword of BattleRecord may be overridden; a few
shortcuts build the less common shapes:

    make_battle(turn_count=3)                        # three user prompts
    make_battle(status="abandoned")                  # no vote (winner None, voted_at None)
    make_battle(status="error")                      # side b failed on the last turn
    make_battle(outputs=["x" * 1_000_000])           # custom answers (used for both sides)
    make_battle(system_prompt_a="", system_prompt_b="")   # no system message at all
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from arena.record import BattleRecord, Turn
from serving.records import GenerationRecord

_counter = itertools.count()
BASE_TIME = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def sampling_params(seed: int) -> dict[str, Any]:
    """Every parameter the serving client sends explicitly."""
    return {
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 50,
        "min_p": 0.0,
        "max_tokens": 512,
        "seed": seed,
        "repetition_penalty": 1.05,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "stop": ["</s>"],
    }


def make_generation(
    *,
    model: str,
    messages: list[dict[str, str]],
    output: str,
    seed: int,
    started_at: datetime,
    port: int,
    error: str | None = None,
) -> GenerationRecord:
    failed = error is not None
    return GenerationRecord(
        endpoint=f"http://127.0.0.1:{port}/v1",
        served_model=model,
        messages=messages,
        params=sampling_params(seed),
        seed=seed,
        output=output,
        started_at=started_at,
        first_token_at=None if failed else started_at + timedelta(milliseconds=87),
        finished_at=None if failed else started_at + timedelta(seconds=1, microseconds=250),
        prompt_tokens=None if failed else 12 + 10 * len(messages),
        completion_tokens=None if failed else max(1, len(output) // 4),
        finish_reason=None if failed else "stop",
        system_fingerprint=None,
        response_model=None if failed else model,
        error=error,
        extra={} if failed else {"usage": {"cached_tokens": 0}},
    )


def make_battle(
    *,
    turn_count: int = 2,
    prompts: list[str] | None = None,
    outputs: list[str] | None = None,
    start: datetime | None = None,
    **overrides: Any,
) -> BattleRecord:
    """A consistent BattleRecord; `overrides` replace fields after it is built."""
    n = next(_counter)
    model_a = overrides.get("model_a", "qwen2.5-0.5b-instruct")
    model_b = overrides.get("model_b", "smollm2-360m-instruct")
    system_a = overrides.get("system_prompt_a", "You are a helpful assistant.")
    system_b = overrides.get("system_prompt_b", "You are a helpful assistant.")
    status = overrides.get("status", "voted")
    started = start or overrides.get("started_at") or BASE_TIME + timedelta(minutes=n)
    prompts = prompts or [
        f"Question {i + 1} of battle {n}: what is {i} + {n}?" for i in range(turn_count)
    ]
    outputs = outputs or [f"The answer is {i + n}." for i in range(len(prompts))]

    conversation_a = [{"role": "system", "content": system_a}] if system_a else []
    conversation_b = [{"role": "system", "content": system_b}] if system_b else []
    turns = []
    for index, prompt in enumerate(prompts):
        conversation_a.append({"role": "user", "content": prompt})
        conversation_b.append({"role": "user", "content": prompt})
        sent_at = started + timedelta(seconds=10 * index)
        last = index == len(prompts) - 1
        error_b = "HTTP 500 from endpoint: engine died" if status == "error" and last else None
        output = outputs[index % len(outputs)]
        generation_a = make_generation(
            model=model_a, messages=list(conversation_a), output=output,
            seed=1000 + 2 * index, started_at=sent_at, port=8001,
        )  # fmt: skip
        generation_b = make_generation(
            model=model_b, messages=list(conversation_b), output="" if error_b else output[::-1],
            seed=1001 + 2 * index, started_at=sent_at, port=8002, error=error_b,
        )  # fmt: skip
        conversation_a.append({"role": "assistant", "content": generation_a.output})
        if error_b is None:
            conversation_b.append({"role": "assistant", "content": generation_b.output})
        turns.append(Turn(index=index, prompt=prompt, generation_a=generation_a,
                          generation_b=generation_b))  # fmt: skip

    ended = started + timedelta(seconds=10 * len(prompts) + 5)
    fields: dict[str, Any] = {
        "battle_id": f"battle-{n:06d}",
        "mode": "anonymous",
        "model_a": model_a,
        "model_b": model_b,
        "conversation_a": conversation_a,
        "conversation_b": conversation_b,
        "turns": turns,
        "started_at": started,
        "ended_at": ended,
        "status": status,
        "rater_hash": f"rater-{n % 7:02d}-5f2a9c",
        "system_prompt_a": system_a,
        "system_prompt_b": system_b,
        "winner": "model_a" if status == "voted" else None,
        "voted_at": ended if status == "voted" else None,
        "end_reason": {"voted": "vote", "abandoned": "new_round", "error": "generation_error"}[
            status
        ],
        "pair_policy": "uniform",
        "pair_probability": 1 / 3,
        "side_seed": 987654321 + n,
        "flags": [],
        "language": "English",
        "category": None,
        "replay_of": None,
    }
    fields.update(overrides)
    record = BattleRecord(**fields)
    record.validate()
    return record


def varied_battles() -> list[BattleRecord]:
    """One battle of each shape the log must keep exactly: one turn and four, unicode,
    a 1 MB answer, empty and one-sided system prompts, abandoned, failed, no turns at all,
    named, replay, ties, flags."""
    return [
        make_battle(turn_count=1),
        make_battle(turn_count=4, flags=["identity_leak", "moderation"]),
        make_battle(
            prompts=["Erkläre 量子 🤖 «ñ» \u200b\t\n", "и ещё"],
            outputs=["Ответ: ∑ ≠ ∞ 😀", "\U0001f600" * 100],
            model_a="模型-a",
            language="mixed",
            category="coding",
        ),
        make_battle(outputs=["y" * 1_000_000], turn_count=1),
        make_battle(system_prompt_a="", system_prompt_b=""),
        make_battle(system_prompt_a="Answer in French.", system_prompt_b=""),
        make_battle(status="abandoned"),
        make_battle(status="error", pair_probability=None, side_seed=None),
        make_battle(turn_count=0, status="abandoned", end_reason="tab_closed"),
        make_battle(mode="named", winner="tie (bothbad)", pair_policy="active"),
        make_battle(mode="replay", winner="tie", replay_of="battle-000001", app_version="9.9"),
    ]
