"""The battle record: one per battle, written when the battle ends.

This is the unit of the vote log (see DESIGN.md, "The battle record"). It holds enough to
replay the battle: both full conversations (system prompts included) and, per turn and side,
the `serving.records.GenerationRecord` with endpoint, served model id, every sampling parameter
sent, seed, timings, token counts, finish reason and error. Plus the left/right assignment, how
the pair was chosen and with what probability, the salted rater hash, the vote, flags, and the
schema and app versions, and the rater's answer to the publication terms
(`publish_consent`, `terms_version`; both None when the rater was never asked), the automatic
labels of the prompts (`labels`, `language`, `labeller_version`; see arena.labels and
docs/categories.md), each side's model lifecycle state when the battle started
(`model_state_a`, `model_state_b`; None in records from before states existed), the turns a
Regenerate replaced (`discarded_turns`, so a regenerated battle still replays exactly), the
rater's optional reason for the vote (`reason_tags`, `reason_comment`) and, on a judge's
verdict (mode "judge", docs/judge.md), what the judge was asked and answered (`judge`).

`winner` uses FastChat's words. `model_a` is always the model shown on the left.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _package_version
from typing import Any

from serving.records import GenerationRecord

SCHEMA_VERSION = 1

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
# judge: a verdict of an LLM judge on a logged battle (arena.judge), never a human vote.
MODES = ("anonymous", "named", "replay", "judge")
# The keys every `judge` dict of a judge verdict holds (docs/judge.md, "The verdict record").
JUDGE_KEYS = ("model", "template", "template_hash", "order", "raw_output", "choice_logprobs",
              "generation", "panel")
JUDGE_ORDERS = ("original", "swapped")
# voted: the rater voted; abandoned: ended without a vote (new round, tab closed, expired);
# error: a side failed, so the battle cannot be voted.
STATUSES = ("voted", "abandoned", "error")
# A model's lifecycle state ([[models]] state in the serving config; docs/categories.md).
MODEL_STATES = ("preview", "active", "retired")


@functools.cache
def app_version() -> str:
    """The installed version of this package, or "0+unknown" when run from a bare checkout.

    Cached: reading package metadata parses a file, and every battle record asks.
    """
    try:
        return _package_version("arena")
    except PackageNotFoundError:
        return "0+unknown"


class InvalidRecord(ValueError):
    """A battle record breaks a rule of the schema; the message says which field and why."""


@dataclass(frozen=True)
class Consent:
    """A rater's answer to the operator's publication terms (see arena.consent).

    publish_text: True when the rater agreed that the battle's text may be published (scrubbed
    of personal data); False when they declined (they still battle and vote). terms_version
    names the terms text they were shown (`[arena] consent_terms_version`).
    """

    publish_text: bool
    terms_version: str


@dataclass
class Turn:
    """One user prompt and both sides' answers to it. `index` counts from 0."""

    index: int
    prompt: str
    generation_a: GenerationRecord
    generation_b: GenerationRecord

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "prompt": self.prompt,
            "generation_a": self.generation_a.to_dict(),
            "generation_b": self.generation_b.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return cls(
            index=int(data["index"]),
            prompt=data["prompt"],
            generation_a=GenerationRecord.from_dict(data["generation_a"]),
            generation_b=GenerationRecord.from_dict(data["generation_b"]),
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


@dataclass
class BattleRecord:
    """A finished battle (voted, abandoned or failed).

    conversation_a / conversation_b are the full OpenAI-style message lists each side saw and
    produced, system prompt first when there is one. `pair_probability` is the probability with
    which the sampler chose this unordered pair; `side_seed` seeded the coin that put `model_a`
    on the left. `rater_hash` is a salted hash, never a raw IP or session id.
    """

    battle_id: str
    mode: str
    model_a: str
    model_b: str
    conversation_a: list[dict[str, str]]
    conversation_b: list[dict[str, str]]
    turns: list[Turn]
    started_at: datetime
    ended_at: datetime
    status: str
    rater_hash: str
    system_prompt_a: str = ""
    system_prompt_b: str = ""
    winner: str | None = None
    voted_at: datetime | None = None
    end_reason: str | None = None
    pair_policy: str = "uniform"
    pair_probability: float | None = None
    side_seed: int | None = None
    flags: list[str] = field(default_factory=list)
    language: str | None = None
    category: str | None = None
    replay_of: str | None = None
    publish_consent: bool | None = None
    terms_version: str | None = None
    labels: list[str] = field(default_factory=list)
    labeller_version: str | None = None
    model_state_a: str | None = None
    model_state_b: str | None = None
    discarded_turns: list[Turn] = field(default_factory=list)
    reason_tags: list[str] = field(default_factory=list)
    reason_comment: str | None = None
    judge: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    app_version: str = field(default_factory=app_version)

    def validate(self) -> None:
        """Raise InvalidRecord naming the field when the record breaks a rule."""
        if not self.battle_id:
            raise InvalidRecord("battle_id is empty")
        if self.mode not in MODES:
            raise InvalidRecord(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.status not in STATUSES:
            raise InvalidRecord(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if not self.model_a or not self.model_b:
            raise InvalidRecord("model_a and model_b must both be named")
        if self.winner is not None and self.winner not in WINNERS:
            raise InvalidRecord(
                f"winner {self.winner!r} is not one of {', '.join(repr(w) for w in WINNERS)}"
            )
        if self.status == "voted" and self.winner is None:
            raise InvalidRecord("status is 'voted' but winner is missing")
        if self.status != "voted" and self.winner is not None:
            raise InvalidRecord(f"status is {self.status!r} but a winner is set")
        if self.schema_version > SCHEMA_VERSION:
            raise InvalidRecord(
                f"schema_version {self.schema_version} is newer than this program's "
                f"{SCHEMA_VERSION}; upgrade arena to read it"
            )
        for moment in ("started_at", "ended_at", "voted_at"):
            value = getattr(self, moment)
            if value is not None and value.tzinfo is None:
                raise InvalidRecord(f"{moment} has no timezone; use UTC")
        if self.pair_probability is not None and not 0.0 <= self.pair_probability <= 1.0:
            raise InvalidRecord(f"pair_probability {self.pair_probability} is not in [0, 1]")
        self._validate_consent()
        self._validate_labels()
        _validate_reason(self)
        _validate_judge(self)

    def _validate_labels(self) -> None:
        if not isinstance(self.labels, list) or not all(
            isinstance(label, str) and label for label in self.labels
        ):
            raise InvalidRecord("labels must be a list of non-empty strings")
        if self.labels != sorted(set(self.labels)):
            raise InvalidRecord("labels must be sorted and free of repeats")
        if self.labeller_version is not None and (
            not isinstance(self.labeller_version, str) or not self.labeller_version
        ):
            raise InvalidRecord("labeller_version must be a non-empty string or null")
        for side in ("model_state_a", "model_state_b"):
            state = getattr(self, side)
            if state is not None and state not in MODEL_STATES:
                raise InvalidRecord(
                    f"{side} {state!r} is not one of {', '.join(MODEL_STATES)} (or null)"
                )

    def _validate_consent(self) -> None:
        if self.publish_consent is not None and not isinstance(self.publish_consent, bool):
            raise InvalidRecord(
                f"publish_consent must be true, false or null, got {self.publish_consent!r}"
            )
        if self.terms_version is not None and (
            not isinstance(self.terms_version, str) or not self.terms_version
        ):
            raise InvalidRecord(
                f"terms_version must be a non-empty string or null, got {self.terms_version!r}"
            )
        if (self.publish_consent is None) != (self.terms_version is None):
            raise InvalidRecord(
                "publish_consent and terms_version go together: both set (the rater answered "
                "those terms) or both null (never asked)"
            )

    @property
    def consent(self) -> Consent | None:
        """The rater's answer as a Consent, or None when they were never asked."""
        if self.publish_consent is None or self.terms_version is None:
            return None
        return Consent(publish_text=self.publish_consent, terms_version=self.terms_version)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the JSONL export line); datetimes become ISO 8601 strings."""
        return {
            "schema_version": self.schema_version,
            "app_version": self.app_version,
            "battle_id": self.battle_id,
            "mode": self.mode,
            "status": self.status,
            "end_reason": self.end_reason,
            "model_a": self.model_a,
            "model_b": self.model_b,
            "winner": self.winner,
            "system_prompt_a": self.system_prompt_a,
            "system_prompt_b": self.system_prompt_b,
            "conversation_a": self.conversation_a,
            "conversation_b": self.conversation_b,
            "turns": [turn.to_dict() for turn in self.turns],
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "voted_at": _iso(self.voted_at),
            "rater_hash": self.rater_hash,
            "pair_policy": self.pair_policy,
            "pair_probability": self.pair_probability,
            "side_seed": self.side_seed,
            "flags": list(self.flags),
            "language": self.language,
            "category": self.category,
            "replay_of": self.replay_of,
            "publish_consent": self.publish_consent,
            "terms_version": self.terms_version,
            "labels": list(self.labels),
            "labeller_version": self.labeller_version,
            "model_state_a": self.model_state_a,
            "model_state_b": self.model_state_b,
            "discarded_turns": [turn.to_dict() for turn in self.discarded_turns],
            "reason_tags": list(self.reason_tags),
            "reason_comment": self.reason_comment,
            "judge": self.judge,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BattleRecord:
        """Inverse of `to_dict`. Raises InvalidRecord on a missing or malformed field."""
        try:
            record = cls(
                battle_id=data["battle_id"],
                mode=data["mode"],
                model_a=data["model_a"],
                model_b=data["model_b"],
                conversation_a=data["conversation_a"],
                conversation_b=data["conversation_b"],
                turns=[Turn.from_dict(t) for t in data.get("turns", [])],
                started_at=_time(data["started_at"]),
                ended_at=_time(data["ended_at"]),
                status=data["status"],
                rater_hash=data["rater_hash"],
                system_prompt_a=data.get("system_prompt_a", ""),
                system_prompt_b=data.get("system_prompt_b", ""),
                winner=data.get("winner"),
                voted_at=_time(data.get("voted_at")),
                end_reason=data.get("end_reason"),
                pair_policy=data.get("pair_policy", "uniform"),
                pair_probability=data.get("pair_probability"),
                side_seed=data.get("side_seed"),
                flags=list(data.get("flags", [])),
                language=data.get("language"),
                category=data.get("category"),
                replay_of=data.get("replay_of"),
                publish_consent=data.get("publish_consent"),
                terms_version=data.get("terms_version"),
                labels=data["labels"] if data.get("labels") is not None else [],
                labeller_version=data.get("labeller_version"),
                model_state_a=data.get("model_state_a"),
                model_state_b=data.get("model_state_b"),
                discarded_turns=[Turn.from_dict(t) for t in data.get("discarded_turns") or []],
                reason_tags=list(data.get("reason_tags") or []),
                reason_comment=data.get("reason_comment"),
                judge=data.get("judge"),
                schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
                app_version=data.get("app_version", app_version()),
            )
        except KeyError as missing:
            raise InvalidRecord(f"missing field {missing.args[0]!r}") from None
        except (TypeError, ValueError) as bad:
            raise InvalidRecord(f"malformed field: {bad}") from None
        record.validate()
        return record


def _validate_reason(record: BattleRecord) -> None:
    """The rater's reason: sorted unique tags and an optional comment, only with a vote."""
    tags = record.reason_tags
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise InvalidRecord("reason_tags must be a list of non-empty strings")
    if tags != sorted(set(tags)):
        raise InvalidRecord("reason_tags must be sorted and free of repeats")
    if record.reason_comment is not None and not isinstance(record.reason_comment, str):
        raise InvalidRecord("reason_comment must be a string or null")
    if (tags or record.reason_comment) and record.winner is None:
        raise InvalidRecord("a reason (reason_tags, reason_comment) needs a vote")
    if not all(isinstance(turn, Turn) for turn in record.discarded_turns):
        raise InvalidRecord("discarded_turns must be a list of turns")


def _validate_judge(record: BattleRecord) -> None:
    """`judge` is set exactly on mode "judge" records and holds JUDGE_KEYS."""
    if (record.mode == "judge") != (record.judge is not None):
        raise InvalidRecord('judge is set exactly when mode is "judge"')
    if record.judge is None:
        return
    if not isinstance(record.judge, dict):
        raise InvalidRecord("judge must be an object")
    missing = [key for key in JUDGE_KEYS if key not in record.judge]
    if missing:
        raise InvalidRecord(f"judge lacks {', '.join(missing)}")
    if record.judge["order"] not in JUDGE_ORDERS:
        raise InvalidRecord(f"judge.order {record.judge['order']!r} is not one of "
                            f"{', '.join(JUDGE_ORDERS)}")
    if not record.replay_of:
        raise InvalidRecord("a judge verdict names the judged battle in replay_of")
