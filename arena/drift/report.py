"""The drift report: per-model numbers from the turn results, written as JSON and Markdown.

Per model:
- generations: logged generations selected (= replayed + failed + skipped), where `replayed`
  counts the re-generated ones;
- exact_match_rate: exact matches / replayed (None when nothing was re-generated);
- mean_similarity, min_similarity: over re-generated answers (token-level ratio, 0..1);
- served_model_changes / fingerprint_changes: re-generated answers whose served model id or
  `system_fingerprint` differs from the logged one, with each distinct "before -> after";
- failures: endpoint errors by message; skipped: reasons by count;
- worst: the `worst` re-generated answers with the lowest similarity (non-exact only), logged
  and new text side by side.

`DriftReport.check(rate)` is the `--fail-on-drift` rule: a model fails when its exact-match
rate is below `rate`, or when none of its generations could be re-generated (a gate that checked
nothing must not pass).
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.drift.results import TurnResult

JSON_REPORT = "drift.json"
MARKDOWN_REPORT = "drift.md"
# Characters of each text kept in the reports' examples.
JSON_TEXT_CHARS = 4000
MARKDOWN_TEXT_CHARS = 600


@dataclass
class ModelDrift:
    """Drift numbers of one public model name (see the module docstring)."""

    model: str
    generations: int = 0
    replayed: int = 0
    exact_matches: int = 0
    failed: int = 0
    skipped: int = 0
    exact_match_rate: float | None = None
    mean_similarity: float | None = None
    min_similarity: float | None = None
    served_model_changes: int = 0
    served_model_transitions: dict[str, int] = field(default_factory=dict)
    fingerprint_changes: int = 0
    fingerprint_transitions: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    skip_reasons: dict[str, int] = field(default_factory=dict)
    worst: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DriftReport:
    """All models' drift numbers plus run metadata (`meta`: log, SHA-256, config, times)."""

    models: list[ModelDrift]
    meta: dict[str, Any] = field(default_factory=dict)

    def model(self, name: str) -> ModelDrift:
        for drift in self.models:
            if drift.model == name:
                return drift
        raise KeyError(f"no model {name!r} in the report")

    def check(self, min_exact_rate: float) -> list[str]:
        """Reasons the `--fail-on-drift min_exact_rate` gate fails (empty: it passes)."""
        reasons = []
        for drift in self.models:
            if drift.replayed == 0 and drift.failed:
                reasons.append(f"{drift.model}: nothing could be replayed "
                               f"({drift.failed} failed)")
            elif drift.exact_match_rate is not None and drift.exact_match_rate < min_exact_rate:
                reasons.append(f"{drift.model}: exact-match rate {drift.exact_match_rate:.3f} "
                               f"< {min_exact_rate:g}")
        return reasons

    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "models": [m.to_dict() for m in self.models]}

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write drift.json and drift.md into `out_dir`; returns both paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path, md_path = out_dir / JSON_REPORT, out_dir / MARKDOWN_REPORT
        json_path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        md_path.write_text(to_markdown(self), encoding="utf-8")
        return json_path, md_path


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more characters]"


def _transition(before: str | None, after: str | None) -> str:
    return f"{before or '(none)'} -> {after or '(none)'}"


def summarise(results: list[TurnResult], worst: int = 3) -> DriftReport:
    """Per-model drift numbers from turn results (any order), models sorted by name."""
    by_model: dict[str, list[TurnResult]] = {}
    for result in results:
        by_model.setdefault(result.model, []).append(result)
    models = []
    for name in sorted(by_model):
        rows = by_model[name]
        drift = ModelDrift(model=name, generations=len(rows))
        regenerated = [r for r in rows if r.status == "replayed"]
        drift.replayed = len(regenerated)
        drift.failed = sum(r.status == "failed" for r in rows)
        drift.skipped = sum(r.status == "skipped" for r in rows)
        drift.failures = dict(Counter(r.error for r in rows if r.status == "failed"))
        drift.skip_reasons = dict(Counter(r.error for r in rows if r.status == "skipped"))
        if regenerated:
            similarities = [float(r.similarity or 0.0) for r in regenerated]
            drift.exact_matches = sum(bool(r.exact) for r in regenerated)
            drift.exact_match_rate = drift.exact_matches / len(regenerated)
            drift.mean_similarity = sum(similarities) / len(similarities)
            drift.min_similarity = min(similarities)
            served = [r for r in regenerated if r.served_replayed != r.served_logged]
            drift.served_model_changes = len(served)
            drift.served_model_transitions = dict(Counter(
                _transition(r.served_logged, r.served_replayed) for r in served))
            prints = [r for r in regenerated if r.fingerprint_replayed != r.fingerprint_logged]
            drift.fingerprint_changes = len(prints)
            drift.fingerprint_transitions = dict(Counter(
                _transition(r.fingerprint_logged, r.fingerprint_replayed) for r in prints))
            changed = sorted((r for r in regenerated if not r.exact),
                             key=lambda r: (r.similarity or 0.0, r.battle_id, r.turn, r.side))
            drift.worst = [{
                "battle_id": r.battle_id, "turn": r.turn, "side": r.side, "seed": r.seed,
                "similarity": r.similarity,
                "logged": _clip(r.logged_output, JSON_TEXT_CHARS),
                "replayed": _clip(r.replayed_output, JSON_TEXT_CHARS),
            } for r in changed[:worst]]
        models.append(drift)
    return DriftReport(models=models)


def _cell(text: str | None, limit: int = MARKDOWN_TEXT_CHARS) -> str:
    """Text safe inside a Markdown table cell: HTML-escaped, pipes escaped, newlines as <br>."""
    if text is None:
        return "—"
    clipped = _clip(text, limit) or ""
    return html.escape(clipped).replace("|", "\\|").replace("\r", "").replace("\n", "<br>") or " "


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def to_markdown(report: DriftReport) -> str:
    """The human-readable report: a summary table, then per model changes, failures and the
    worst examples side by side."""
    meta = report.meta
    lines = ["# Drift check", ""]
    if meta:
        lines += [
            f"- log: `{meta.get('log')}` (SHA-256 `{str(meta.get('log_sha256'))[:16]}…`)",
            f"- config: `{meta.get('config')}`",
            f"- finished: {meta.get('finished_at')}; resumed {meta.get('resumed', 0)} results, "
            f"attempted {meta.get('attempted_now', 0)} now",
            "- exact match: identical text; similarity: token-level difflib ratio (0–1)",
            "",
        ]
    lines += [
        "| model | replayed | exact match | mean similarity | served id changed "
        "| fingerprint changed | failed | skipped |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in report.models:
        lines.append(
            f"| {_cell(m.model)} | {m.replayed} | {_rate(m.exact_match_rate)} "
            f"| {_rate(m.mean_similarity)} | {m.served_model_changes} "
            f"| {m.fingerprint_changes} | {m.failed} | {m.skipped} |"
        )
    for m in report.models:
        lines += ["", f"## {m.model}", ""]
        for title, table in (("Served model id", m.served_model_transitions),
                             ("system_fingerprint", m.fingerprint_transitions),
                             ("Failures", m.failures), ("Skipped", m.skip_reasons)):
            if table:
                lines.append(f"{title}:")
                lines += [f"- {_cell(k, 300)} — {v}" for k, v in table.items()]
                lines.append("")
        if not m.worst:
            lines.append("No replayed answer differs from the logged one."
                         if m.replayed else "Nothing was replayed.")
            continue
        lines += ["Worst examples (lowest similarity first):", "",
                  "| where | similarity | logged | replayed |", "|---|---:|---|---|"]
        for ex in m.worst:
            where = f"{ex['battle_id']} turn {ex['turn']} side {ex['side']} (seed {ex['seed']})"
            lines.append(f"| {_cell(where)} | {ex['similarity']:.3f} | {_cell(ex['logged'])} "
                         f"| {_cell(ex['replayed'])} |")
    return "\n".join(lines) + "\n"
