"""The outcome of a drift check for one logged generation (battle, turn, side).

`TurnResult` is what `arena.drift.check` produces, `arena.drift.progress` keeps between runs
and `arena.drift.report` sums up per model. Its field names and status words are the format of
`progress.jsonl` and of the examples in `drift.json`, so a re-generated answer is
`status == "replayed"` with the new text in `replayed_output`: old out dirs stay resumable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from arena.drift.similarity import text_similarity
from arena.drift.tasks import RegenerationTask, SkippedGeneration
from serving.config import ServingConfig
from serving.records import GenerationRecord

STATUSES = ("replayed", "failed", "skipped")


@dataclass
class TurnResult:
    """The outcome for one logged generation (battle, turn, side).

    status: "replayed" (a new answer came back), "failed" (the endpoint failed; `error` says
    how) or "skipped" (nothing to re-generate; `error` says why). `exact` and `similarity` are
    set for re-generated results only. `served_*` is the model id the server answered with,
    `fingerprint_*` its `system_fingerprint`, each as logged and as re-generated. `seconds`:
    wall time of the new request.
    """

    battle_id: str
    turn: int
    side: str
    model: str
    status: str
    seed: int | None
    logged_output: str
    replayed_output: str | None = None
    exact: bool | None = None
    similarity: float | None = None
    served_logged: str | None = None
    served_replayed: str | None = None
    fingerprint_logged: str | None = None
    fingerprint_replayed: str | None = None
    endpoint: str | None = None
    error: str | None = None
    seconds: float | None = None

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.battle_id, self.turn, self.side)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnResult:
        return cls(**data)


def served_id(record: GenerationRecord) -> str | None:
    """The model id the server answered with (`response_model`), else the id asked for."""
    return record.response_model or record.served_model or None


def compare(task: RegenerationTask, regenerated: GenerationRecord, seconds: float) -> TurnResult:
    """The result of one re-generation: failed when the new one has an error, else compared."""
    logged = task.logged
    result = TurnResult(
        battle_id=task.battle_id, turn=task.turn, side=task.side, model=task.model,
        status="failed" if regenerated.error is not None else "replayed",
        seed=logged.seed if logged.seed is not None else logged.params.get("seed"),
        logged_output=logged.output, served_logged=served_id(logged),
        fingerprint_logged=logged.system_fingerprint, endpoint=regenerated.endpoint,
        seconds=round(seconds, 4),
    )
    if regenerated.error is not None:
        result.error = regenerated.error
        return result
    result.replayed_output = regenerated.output
    result.exact = regenerated.output == logged.output
    result.similarity = text_similarity(logged.output, regenerated.output)
    result.served_replayed = served_id(regenerated)
    result.fingerprint_replayed = regenerated.system_fingerprint
    return result


def skipped_result(skip: SkippedGeneration) -> TurnResult:
    """The result of a logged generation that is not sent again, with the reason."""
    return TurnResult(
        battle_id=skip.battle_id, turn=skip.turn, side=skip.side, model=skip.model,
        status="skipped", seed=skip.logged.seed, logged_output=skip.logged.output,
        served_logged=served_id(skip.logged), fingerprint_logged=skip.logged.system_fingerprint,
        error=skip.reason,
    )


def not_configured(task: RegenerationTask, config: ServingConfig) -> TurnResult:
    """The failed result of a task whose model the config does not serve now."""
    where = f" {config.path}" if config.path is not None else ""
    return TurnResult(
        battle_id=task.battle_id, turn=task.turn, side=task.side, model=task.model,
        status="failed", seed=task.logged.seed, logged_output=task.logged.output,
        served_logged=served_id(task.logged), fingerprint_logged=task.logged.system_fingerprint,
        error=f"model {task.model!r} is not in the config{where}; known: "
              f"{', '.join(config.names)}",
    )
