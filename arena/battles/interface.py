"""What the battle service takes and gives: the models it pits (`Contender`) and how it calls
them (`GenerateFn`); the anonymous stream it sends (`BattleEvent`) and what a vote reveals
(`Reveal`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from serving.records import GenerationRecord


@dataclass(frozen=True)
class Contender:
    """A model as the battle service sees it: a public name and what it needs around a call."""

    name: str
    system_prompt: str = ""
    identity_words: tuple[str, ...] = ()


class GenerateFn(Protocol):
    """Streams one completion: text deltas (str) and GenerationRecords; the last record is final.

    A record whose `finished_at` is unset is the live record of a generation still running
    (kept so that a battle abandoned mid-stream logs what was sent); the record with
    `finished_at` set ends the stream. Its `error` is set when the generation failed; the
    function must not raise for upstream failures, and must stop the upstream request when
    the iterator is closed.
    """

    def __call__(
        self, model: str, messages: list[dict[str, str]]
    ) -> AsyncIterator[str | GenerationRecord]: ...


@dataclass(frozen=True)
class BattleEvent:
    """One event of a battle's stream. Anonymous: carries sides, never model names.

    kinds: `battle` (data: battle_id of the new battle), `delta` (text for a side), `done` (a
    side finished), `error` (a side failed; text is the same words whichever model failed and
    however), `ready` (both finished: the battle can be voted), `failed` (the battle cannot be
    voted; start a new round); in a re-voting arena, `turn` (text is the logged prompt of the
    turn whose deltas follow; data: its index).

    Before the vote nothing but the text may tell the models apart, so events carry no token
    counts, finish reasons, served ids, endpoints, timings or per-model error messages (the
    full generation records go to the log; tests/test_battle_anonymity.py holds the allowed
    fields).
    """

    kind: str
    side: str | None = None
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "side": self.side, "text": self.text, **self.data}


@dataclass(frozen=True)
class Reveal:
    """What a vote returns: the names, now that the vote is durable."""

    battle_id: str
    winner: str
    model_a: str
    model_b: str
    flags: tuple[str, ...]
