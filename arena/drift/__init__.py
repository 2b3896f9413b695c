"""Drift checks: re-generate logged battles against today's endpoints and measure how far the
answers moved (`arena drift generate`). Not to be confused with re-voting (arena.revote).

    from arena.drift import run_drift_check
    report = run_drift_check(Path("battles.jsonl"), load_models_config("arena.toml"),
                             Path("drift-out"))
    report.model("tiny-a").exact_match_rate
"""

from arena.drift.check import regenerate, run_drift_check
from arena.drift.report import DriftReport, ModelDrift, summarise
from arena.drift.results import TurnResult
from arena.drift.similarity import text_similarity
from arena.drift.tasks import DriftInputError, RegenerationTask, collect_tasks, read_battle_log

__all__ = [
    "DriftInputError", "DriftReport", "ModelDrift", "RegenerationTask", "TurnResult",
    "collect_tasks", "read_battle_log", "regenerate", "run_drift_check", "summarise",
    "text_similarity",
]
