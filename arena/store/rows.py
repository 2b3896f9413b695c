"""Turning a BattleRecord into table rows and back, field for field.

`record_to_rows` and `rows_to_record` are exact inverses for every record that passes
`check_storable`, with one normalisation: datetimes come back in UTC (the same instant, so
they compare equal to what was stored). `record_to_rows` also fills the derived columns
(arena.store.derived: style features per battle, speed per generation) and leaves the vote's
commit key to the database's trigger; `rows_to_record` ignores them (they follow from the
record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from arena.record import BattleRecord, Turn
from arena.store.derived import speed_columns, style_columns
from serving.records import GenerationRecord

BATTLE_FIELDS = (
    "battle_id", "mode", "status", "end_reason", "model_a", "model_b", "system_prompt_a",
    "system_prompt_b", "conversation_a", "conversation_b", "started_at", "ended_at",
    "rater_hash", "pair_policy", "pair_probability", "side_seed", "flags", "language",
    "category", "replay_of", "schema_version", "app_version", "publish_consent", "terms_version",
    "labels", "labeller_version", "model_state_a", "model_state_b", "judge",
)  # fmt: skip
GENERATION_FIELDS = (
    "endpoint", "served_model", "messages", "params", "seed", "output", "started_at",
    "first_token_at", "finished_at", "prompt_tokens", "completion_tokens", "finish_reason",
    "system_fingerprint", "response_model", "error", "extra",
)  # fmt: skip
SIDES = ("a", "b")


@dataclass
class BattleRows:
    """The rows of one battle, ready for `insert()`: dicts keyed by column name."""

    battle: dict[str, Any]
    vote: dict[str, Any] | None
    turns: list[dict[str, Any]]
    generations: list[dict[str, Any]]


def record_to_rows(record: BattleRecord) -> BattleRows:
    battle = {name: getattr(record, name) for name in BATTLE_FIELDS}
    battle["flags"] = list(record.flags)
    battle["labels"] = list(record.labels)
    battle["discarded_turns"] = [turn.to_dict() for turn in record.discarded_turns]
    battle.update(style_columns(
        record.conversation_a, record.conversation_b,
        [turn.generation_a.completion_tokens for turn in record.turns],
        [turn.generation_b.completion_tokens for turn in record.turns]))
    vote = None
    if record.winner is not None:
        vote = {"battle_id": record.battle_id, "winner": record.winner, "voted_at": record.voted_at,
                "reason_tags": list(record.reason_tags), "reason_comment": record.reason_comment,
                "commit_key": None}  # the trigger sets it (arena.store.tables)
    turns = []
    generations = []
    for position, turn in enumerate(record.turns):
        turns.append(
            {
                "battle_id": record.battle_id,
                "position": position,
                "turn_index": turn.index,
                "prompt": turn.prompt,
            }
        )
        for side, generation in zip(SIDES, (turn.generation_a, turn.generation_b), strict=True):
            row = {name: getattr(generation, name) for name in GENERATION_FIELDS}
            row.update(battle_id=record.battle_id, position=position, side=side)
            row.update(speed_columns(generation.started_at, generation.first_token_at,
                                     generation.finished_at, generation.completion_tokens))
            generations.append(row)
    return BattleRows(battle=battle, vote=vote, turns=turns, generations=generations)


def rows_to_record(
    battle: Mapping[str, Any],
    vote: Mapping[str, Any] | None,
    turns: Sequence[Mapping[str, Any]],
    generations: Sequence[Mapping[str, Any]],
) -> BattleRecord:
    """Rebuild the record; `turns` in any order, `generations` those of this battle."""
    by_key = {(g["position"], g["side"]): g for g in generations}
    rebuilt_turns = []
    for turn in sorted(turns, key=lambda t: t["position"]):
        sides = [by_key[(turn["position"], side)] for side in SIDES]
        rebuilt_turns.append(
            Turn(
                index=turn["turn_index"],
                prompt=turn["prompt"],
                generation_a=_generation(sides[0]),
                generation_b=_generation(sides[1]),
            )
        )
    values = {name: battle[name] for name in BATTLE_FIELDS}
    return BattleRecord(
        **values,
        turns=rebuilt_turns,
        discarded_turns=[Turn.from_dict(turn) for turn in battle["discarded_turns"] or []],
        winner=vote["winner"] if vote else None,
        voted_at=vote["voted_at"] if vote else None,
        reason_tags=list(vote["reason_tags"] or []) if vote else [],
        reason_comment=vote["reason_comment"] if vote else None,
    )


def _generation(row: Mapping[str, Any]) -> GenerationRecord:
    return GenerationRecord(**{name: row[name] for name in GENERATION_FIELDS})
