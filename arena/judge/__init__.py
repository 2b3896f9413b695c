"""LLM judges measured against the humans (docs/judge.md).

- `template`: versioned prompt templates (TOML files, hashed) rendered into chat messages;
- `model`: a `[[models]]` entry asked through serving.client with every sampling parameter,
  a seed, structured output (only the template's choices) and log-probabilities;
- `verdict`: a verdict as a battle record of mode "judge" (deterministic ids, shown order);
- `panel`: several judges' verdicts combined by a stated rule (majority);
- `store`: sources (the vote log, an export) and resumable sinks (the vote log, JSONL);
- `runner`: `run_judges`, bounded concurrency, per-call errors, resume;
- `live`: `LiveJudge`, the background queue of `arena serve`;
- `report`: the judge report (position, self-preference, style, agreement, boards).
"""

from arena.judge.model import JudgeModel, JudgeUnavailable, judge_params
from arena.judge.panel import Panel, PanelError, majority
from arena.judge.runner import JudgeRun, RunReport, run_judges
from arena.judge.template import (
    DEFAULT_TEMPLATE,
    JudgeTemplate,
    TemplateError,
    builtin_templates,
    load_template,
)
from arena.judge.verdict import ORDERS, call_seed, verdict_id

__all__ = [
    "DEFAULT_TEMPLATE",
    "ORDERS",
    "JudgeModel",
    "JudgeRun",
    "JudgeTemplate",
    "JudgeUnavailable",
    "Panel",
    "PanelError",
    "RunReport",
    "TemplateError",
    "builtin_templates",
    "call_seed",
    "judge_params",
    "load_template",
    "majority",
    "run_judges",
    "verdict_id",
]
