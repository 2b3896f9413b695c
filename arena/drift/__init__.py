"""Replaying the vote log: re-generate logged battles against today's endpoints and measure
drift (`arena replay generate`).

    from arena.drift import run_drift_check
    report = run_drift_check(Path("battles.jsonl"), load_models_config("arena.toml"),
                             Path("replay-out"))
    report.model("tiny-a").exact_match_rate
"""

from arena.drift.check import TurnResult, replay_generations, run_drift_check
from arena.drift.report import DriftReport, ModelDrift, summarise
from arena.drift.similarity import text_similarity
from arena.drift.tasks import ReplayInputError, ReplayTask, collect_tasks, read_battle_log

__all__ = [
    "DriftReport", "ModelDrift", "ReplayInputError", "ReplayTask", "TurnResult",
    "collect_tasks", "read_battle_log", "replay_generations", "run_drift_check", "summarise",
    "text_similarity",
]
