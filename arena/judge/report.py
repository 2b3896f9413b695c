"""`write_judge_report`: the judge report of a vote log, from the arena's database or an export.

The statistics are `ratings.judge_report` (pure pandas/numpy/scipy, docs/judge.md, "The judge
report"); this module only finds the data: a database URL is exported to a JSONL file in the
output folder first (voted battles, human votes and verdicts alike, the file the report
reads, kept so the report can be computed again from the same bytes), a file is read as it
is (our JSONL or Parquet export). Model families come from the caller, or from the
`[[models]]` `family` keys of an arena config (`families_from_config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ratings.judge_report import DEFAULT_ROUNDS, JudgeReport, judge_report

# A source containing "://" is a database URL (sqlite:///..., postgresql://...), else a file.
URL_MARK = "://"
EXPORT_NAME = "battles.jsonl"


def families_from_config(config: str | Path) -> dict[str, str]:
    """Model name -> family of every `[[models]]` entry of `config` (an entry without a
    `family` is its own family)."""
    from serving.config import load_models_config

    return {spec.name: getattr(spec, "family", "") or spec.name
            for spec in load_models_config(Path(config)).models}


def export_source(db_url: str, out_dir: Path) -> Path:
    """The voted battles of the database at `db_url` as `out_dir/battles.jsonl`."""
    from arena.store import BattleLog
    from arena.transfer.export import export_battles

    target = out_dir / EXPORT_NAME
    with BattleLog(db_url) as log:
        export_battles(log, "jsonl", target, status="voted", progress=False)
    return target


def read_source(source: str | Path, out_dir: Path) -> tuple[Any, Path]:
    """(the battles frame, the file it was read from) of a database URL or an export."""
    from ratings.io import read_battles

    text = str(source)
    path = export_source(text, out_dir) if URL_MARK in text else Path(source)
    return read_battles(path), path


def write_judge_report(source: str | Path, *, out_dir: str | Path,
                       judge_model: str | None = None,
                       families: dict[str, str] | None = None, seed: int = 0,
                       bootstrap_rounds: int = DEFAULT_ROUNDS, options: Any = None,
                       plots: bool = True) -> JudgeReport:
    """Compute the judge report of `source` and write it into `out_dir`.

    `source`: a database URL (exported to `out_dir/battles.jsonl` first) or an exported log
    (.jsonl or .parquet). `judge_model`: whose verdicts (default: the log's only judge; a
    panel's name for a panel's combined verdicts). `families`: model -> family. `seed`,
    `bootstrap_rounds`: the battle bootstrap of the intervals. `options`: the boards'
    `ratings.RatingOptions` (default: Bradley–Terry, ties half, sandwich intervals at 95%).
    Writes judge_report.md/.json, one CSV per table and (with `plots`) the figures; returns
    the report. Raises `ratings.errors.BattleDataError` when the log holds no verdict on a
    battle with a human vote (the message says what to pass).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame, _ = read_source(source, out)
    report = judge_report(frame, judge_model=judge_model, families=families, options=options,
                          seed=seed, rounds=bootstrap_rounds)
    report.write(out, plots=plots)
    return report
