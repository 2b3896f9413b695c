"""What a drift check re-generates: one task per logged generation (battle, turn, side).

The input is our JSONL export (one `BattleRecord.to_dict()` per line; `arena export --format
jsonl`). Each turn of a battle holds two `GenerationRecord`s, and each of them is sent again
on its own: same messages (system prompt included, exactly as sent), same sampling parameters and
seed, sent to whichever endpoint the config now gives the same public model name.

Generations that cannot be sent again are not tasks but skipped results with the reason: the
logged generation failed (there is no answer to compare with), or its parameters lack keys the
client must send (a log imported from elsewhere).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from arena.record import BattleRecord, InvalidRecord
from serving.records import SAMPLING_KEYS, GenerationRecord

SIDES = ("a", "b")


class DriftInputError(ValueError):
    """The log to check cannot be read, or the out dir holds another log's run; the message
    names the file, line and reason."""


@dataclass(frozen=True)
class RegenerationTask:
    """One logged generation to run again. `side` is "a" (shown left) or "b"."""

    battle_id: str
    turn: int
    side: str
    model: str
    logged: GenerationRecord

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.battle_id, self.turn, self.side)


@dataclass(frozen=True)
class SkippedGeneration:
    """A logged generation that is not sent again, and why."""

    battle_id: str
    turn: int
    side: str
    model: str
    reason: str
    logged: GenerationRecord


def read_battle_log(path: Path) -> Iterator[BattleRecord]:
    """Stream the BattleRecords of a JSONL export; blank lines are ignored.

    Raises DriftInputError naming the line for invalid JSON or an invalid record.
    """
    if not path.is_file():
        raise DriftInputError(f"{path}: file not found (write one with `arena export "
                              "--format jsonl --out FILE`)")
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as bad:
                raise DriftInputError(f"{path}:{number}: not valid JSON: {bad}") from None
            if not isinstance(data, dict) or "battle_id" not in data:
                raise DriftInputError(
                    f"{path}:{number}: not a battle record of our JSONL export (no battle_id); "
                    "drift checks need the logged generations, which only that format keeps"
                )
            try:
                yield BattleRecord.from_dict(data)
            except (InvalidRecord, TypeError) as bad:
                raise DriftInputError(f"{path}:{number}: invalid battle record: {bad}") from None


def _skip_reason(generation: GenerationRecord) -> str | None:
    if generation.error is not None:
        return f"logged generation failed: {generation.error}"
    if generation.finished_at is None:
        return "logged generation never finished"
    missing = [key for key in SAMPLING_KEYS if key not in generation.params]
    if missing:
        return f"logged parameters lack {', '.join(missing)}; cannot send the same request"
    return None


def collect_tasks(
    battles: Iterator[BattleRecord] | list[BattleRecord],
    models: set[str] | None = None,
    limit: int | None = None,
) -> tuple[list[RegenerationTask], list[SkippedGeneration]]:
    """Tasks and skipped generations of the selected battles, in log order.

    `models`: only generations of these public model names (None: all). `limit`: only the first
    `limit` battles (in file order) that have at least one generation of a selected model.
    """
    tasks: list[RegenerationTask] = []
    skipped: list[SkippedGeneration] = []
    taken = 0
    for battle in battles:
        if limit is not None and taken >= limit:
            break
        names = {"a": battle.model_a, "b": battle.model_b}
        chosen = [side for side in SIDES if models is None or names[side] in models]
        if not chosen or not battle.turns:
            continue
        taken += 1
        for turn in battle.turns:
            for side in chosen:
                generation = turn.generation_a if side == "a" else turn.generation_b
                reason = _skip_reason(generation)
                if reason is None:
                    tasks.append(RegenerationTask(battle.battle_id, turn.index, side, names[side],
                                                  generation))
                else:
                    skipped.append(SkippedGeneration(battle.battle_id, turn.index, side,
                                                     names[side], reason, generation))
    return tasks, skipped
