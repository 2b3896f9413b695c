"""FastChat's `clean_battle` format, both ways.

`to_clean_battle` writes the fields the Chatbot Arena notebooks read:

    question_id     our battle_id
    model_a/b       model shown left / right
    winner          "model_a", "model_b", "tie", "tie (bothbad)"
    judge           the salted rater hash
    conversation_a  the left conversation as [{"role", "content"}], system messages left out
    conversation_b  (FastChat's clean_battle has no system prompts; `turn` counts user turns)
    turn            number of user turns
    anony           True for anonymous battles
    language        our language tag (None when unknown)
    tstamp          unix seconds (float) of the vote, or of the battle's end when unvoted

`from_clean_battle` builds a BattleRecord from such a dict (with or without conversations).
What FastChat does not record is synthesised and marked as such:
- battle_id = question_id, or "fastchat-" + the first 32 hex digits of the SHA-256 of the
  record's canonical JSON when there is none (so re-importing finds the same id);
- mode "anonymous" or "named" from `anony` (default anonymous), status "voted";
- started_at = ended_at = voted_at = tstamp; rater_hash = judge ("" when absent);
- pair_policy "unknown", pair_probability/side_seed None, app_version "fastchat";
- one turn per user message, each side's generation holding only served_model (= model
  name), the messages sent and the answer; endpoint "", params {}, no times or token counts;
- without conversations: no turns and empty conversations (`turn` is not kept);
- other FastChat keys (dedup_tag, category_tag, conv_metadata, ...) are not kept.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from arena.record import WINNERS, BattleRecord, InvalidRecord, Turn
from serving.records import GenerationRecord

FASTCHAT_APP_VERSION = "fastchat"
UNKNOWN_POLICY = "unknown"


def battle_tstamp(record: BattleRecord) -> float:
    """Unix seconds of the vote, or of the end of the battle when there was no vote."""
    return (record.voted_at or record.ended_at).timestamp()


def without_system(conversation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [message for message in conversation if message.get("role") != "system"]


def to_clean_battle(record: BattleRecord) -> dict[str, Any]:
    """The FastChat clean_battle dict for one battle."""
    return {
        "question_id": record.battle_id,
        "model_a": record.model_a,
        "model_b": record.model_b,
        "winner": record.winner,
        "judge": record.rater_hash,
        "conversation_a": without_system(record.conversation_a),
        "conversation_b": without_system(record.conversation_b),
        "turn": len(record.turns),
        "anony": record.mode == "anonymous",
        "language": record.language,
        "tstamp": battle_tstamp(record),
    }


def looks_like_clean_battle(data: dict[str, Any]) -> bool:
    """True for a FastChat record (it has no battle_id but names both models)."""
    return "battle_id" not in data and "model_a" in data and "model_b" in data


def derived_battle_id(data: dict[str, Any]) -> str:
    """A stable id for a FastChat record that has no question_id: a hash of its content."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                           default=str)  # a Parquet row may hold timestamps
    return "fastchat-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def from_clean_battle(data: dict[str, Any]) -> BattleRecord:
    """A voted BattleRecord from a FastChat clean_battle dict; InvalidRecord names the field."""
    for name in ("model_a", "model_b"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise InvalidRecord(f"{name} must be a non-empty string")
    winner = data.get("winner")
    if winner not in WINNERS:
        raise InvalidRecord(
            f"winner {winner!r} is not one of {', '.join(repr(w) for w in WINNERS)}"
        )
    tstamp = data.get("tstamp")
    if isinstance(tstamp, bool) or not isinstance(tstamp, int | float):
        raise InvalidRecord("tstamp must be a number (unix seconds)")
    try:
        moment = datetime.fromtimestamp(tstamp, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidRecord(f"tstamp {tstamp} is not a valid time") from None
    question_id = data.get("question_id")
    if question_id is not None and not isinstance(question_id, str | int):
        raise InvalidRecord("question_id must be a string or an integer")
    battle_id = str(question_id) if question_id not in (None, "") else derived_battle_id(data)
    judge = data.get("judge", "")
    if judge is not None and not isinstance(judge, str):
        raise InvalidRecord("judge must be a string")
    anony = data.get("anony", True)
    if not isinstance(anony, bool):
        raise InvalidRecord("anony must be true or false")
    language = data.get("language")
    if language is not None and not isinstance(language, str):
        raise InvalidRecord("language must be a string")

    conversation_a = _conversation(data.get("conversation_a"), "conversation_a")
    conversation_b = _conversation(data.get("conversation_b"), "conversation_b")
    turns = turns_from_conversations(data["model_a"], data["model_b"], conversation_a,
                                     conversation_b)
    record = BattleRecord(
        battle_id=battle_id,
        mode="anonymous" if anony else "named",
        model_a=data["model_a"],
        model_b=data["model_b"],
        conversation_a=conversation_a,
        conversation_b=conversation_b,
        turns=turns,
        started_at=moment,
        ended_at=moment,
        status="voted",
        rater_hash=judge or "",
        system_prompt_a=_system_prompt(conversation_a),
        system_prompt_b=_system_prompt(conversation_b),
        winner=winner,
        voted_at=moment,
        pair_policy=UNKNOWN_POLICY,
        language=language,
        app_version=FASTCHAT_APP_VERSION,
    )
    record.validate()
    return record


def _conversation(value: Any, name: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRecord(f"{name} must be a list of messages")
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidRecord(f"{name}[{i}] must be an object with a string 'role'")
        if not isinstance(message.get("content"), str):
            raise InvalidRecord(f"{name}[{i}].content must be a string")
    return value


def _system_prompt(conversation: list[dict[str, Any]]) -> str:
    if conversation and conversation[0]["role"] == "system":
        return conversation[0]["content"]
    return ""


def turns_from_conversations(
    model_a: str,
    model_b: str,
    conversation_a: list[dict[str, Any]],
    conversation_b: list[dict[str, Any]],
) -> list[Turn]:
    """One turn per user message of two conversations with the same prompts (InvalidRecord
    otherwise); each side's generation holds only the model name, the messages sent and the
    answer. Also used by the Parquet import, whose table keeps conversations, not turns."""
    sides_a = _exchanges(conversation_a)
    sides_b = _exchanges(conversation_b)
    if not conversation_a or not conversation_b:
        if conversation_a or conversation_b:
            raise InvalidRecord("only one of conversation_a and conversation_b is given")
        return []
    prompts_a = [prompt for prompt, _, _ in sides_a]
    if prompts_a != [prompt for prompt, _, _ in sides_b]:
        raise InvalidRecord("conversation_a and conversation_b have different user prompts")
    turns = []
    for index, ((prompt, sent_a, answer_a), (_, sent_b, answer_b)) in enumerate(
        zip(sides_a, sides_b, strict=True)
    ):
        turns.append(
            Turn(
                index=index,
                prompt=prompt,
                generation_a=_generation(model_a, sent_a, answer_a),
                generation_b=_generation(model_b, sent_b, answer_b),
            )
        )
    return turns


def _exchanges(conversation: list[dict[str, Any]]) -> list[tuple[str, list, str]]:
    """(user prompt, messages sent with it, assistant answer) per user message."""
    exchanges: list[tuple[str, list, str]] = []
    for position, message in enumerate(conversation):
        if message["role"] == "user":
            exchanges.append((message["content"], conversation[: position + 1], ""))
        elif message["role"] == "assistant" and exchanges:
            prompt, sent, _ = exchanges[-1]
            exchanges[-1] = (prompt, sent, message["content"])
    return exchanges


def _generation(model: str, sent: list[dict[str, Any]], answer: str) -> GenerationRecord:
    return GenerationRecord(
        endpoint="", served_model=model, messages=list(sent), params={}, output=answer
    )
