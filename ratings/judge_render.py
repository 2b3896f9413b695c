"""Writing a `ratings.judge_report.JudgeReport`: CSV tables, one JSON, Markdown, figures.

CSV files hold the tables at full precision; the JSON holds every number (NaN as null); the
Markdown is the report to read, rates to three decimals and ratings to one, every interval
beside its estimate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ratings.agreement import OUTCOME_LABELS
from ratings.judge_result import JudgeFindings, plain

RATE_FIELDS = ("battles", "verdicts", "judge", "judge_lower", "judge_upper", "human",
               "human_lower", "human_upper", "difference", "difference_lower",
               "difference_upper")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def report_tables(report: JudgeFindings) -> dict[str, pd.DataFrame]:
    """The report's tables by file stem."""
    rates = pd.DataFrame([{"measure": "first-position win rate", **report.position},
                          {"measure": "longer answer's win rate", **report.longer_answer}])
    confusion = report.agreement.confusion.rename_axis(index="human", columns="judge")
    return {
        "judge_rates": rates[["measure", *RATE_FIELDS]],
        "judge_self_preference": report.self_preference,
        "judge_style": report.style,
        "judge_agreement_by_kind": report.agreement_by_kind,
        "judge_agreement_by_order": report.agreement_by_order,
        "judge_confusion": confusion.reset_index(),
        "judge_boards": report.boards,
    }


def report_dict(report: JudgeFindings) -> dict[str, Any]:
    """JSON-ready: every number of the report."""
    def scalars(values: dict[str, Any]) -> dict[str, Any]:
        return {k: plain(v) for k, v in values.items()}

    return {
        "judge_model": report.judge_model, "families": report.families,
        "level": report.level, "bootstrap_rounds": report.rounds, "seed": report.seed,
        "counts": report.counts, "position_consistency": scalars(report.consistency),
        "position_bias": scalars(report.position),
        "self_preference": _records(report.self_preference),
        "longer_answer": scalars(report.longer_answer),
        "style": _records(report.style),
        "agreement": report.agreement.to_dict(),
        "agreement_by_kind": _records(report.agreement_by_kind),
        "agreement_by_order": _records(report.agreement_by_order),
        "boards": _records(report.boards),
        "rank_correlation": scalars(report.rank_correlation),
        "problems": report.problems,
    }


def _number(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "**yes**" if value else ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.{digits}f}"


def _ci(low: Any, high: Any, digits: int) -> str:
    return f"{_number(low, digits)} to {_number(high, digits)}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _rate_row(name: str, rate: dict[str, Any]) -> list[str]:
    return [name, str(rate["battles"]), _number(rate["judge"], 3),
            _ci(rate["judge_lower"], rate["judge_upper"], 3), _number(rate["human"], 3),
            _ci(rate["human_lower"], rate["human_upper"], 3),
            _number(rate["difference"], 3),
            _ci(rate["difference_lower"], rate["difference_upper"], 3)]


RATE_HEADER = ["", "battles", "judge", "CI", "humans", "CI", "judge − humans", "CI"]


def _position_section(report: JudgeFindings) -> list[str]:
    c = report.consistency
    return [
        "## Position", "",
        f"**Consistency**: {c['consistent']} of {c['battles']} battles judged in both orders "
        f"keep their verdict when the answers swap places: {_number(c['rate'], 3)} "
        f"(Wilson {_ci(c['lower'], c['upper'], 3)}). The first answer won both times in "
        f"{c['first_both_times']}, the second in {c['second_both_times']}.", "",
        "**Position bias**: the share of points won by the answer the judge saw first, "
        "against the humans' left side (ties half).", "",
        _table(RATE_HEADER, [_rate_row("first-position win rate", report.position)]), ""]


def _self_preference_section(report: JudgeFindings) -> list[str]:
    rows = [[(f"**{r['family']}** (judge's)" if r["judge_family"] else str(r["family"])),
             str(r["models"]), *_rate_row("", r)[1:]]
            for r in report.self_preference.to_dict("records")]
    return ["## Self-preference", "",
            "Per family, on the battles with exactly one side of it: the family's win rate "
            "by the judge and by the humans (ties half).", "",
            _table(["family", "models", *RATE_HEADER[1:]], rows), ""]


def _style_section(report: JudgeFindings) -> list[str]:
    lines = ["## Length and style", "",
             _table(RATE_HEADER, [_rate_row("longer answer's win rate",
                                            report.longer_answer)]), "",
             "Style-control coefficients (logits per SD of the normalised difference "
             "(a − b) / (a + b + 1); positive: more of it wins):", ""]
    rows = []
    for r in report.style.to_dict("records"):
        cells = [str(r["feature"])]
        for who in ("judge", "human"):
            cells += [_number(r.get(f"{who}_coefficient"), 3),
                      _ci(r.get(f"{who}_lower"), r.get(f"{who}_upper"), 3)]
        rows.append(cells)
    lines.append(_table(["feature", "judge", "CI", "humans", "CI"], rows))
    lines += [f"\n{key}: {text}" for key, text in report.problems.items()]
    return [*lines, ""]


def _agreement_section(report: JudgeFindings) -> list[str]:
    a = report.agreement
    kinds = [[OUTCOME_LABELS[r["human_vote"]], str(r["pairs"]), str(r["judge_matched"]),
              _number(r["agreement"], 3), _ci(r["lower"], r["upper"], 3),
              _number(r["kappa"], 3)] for r in report.agreement_by_kind.to_dict("records")]
    orders = [[r["order"], str(r["pairs"]), _number(r["agreement"], 3),
               _ci(r["lower"], r["upper"], 3), _number(r["kappa"], 3)]
              for r in report.agreement_by_order.to_dict("records")]
    return ["## Agreement with the humans", "",
            f"{a.agree} of {a.n} verdicts match the human vote: {_number(a.rate, 3)} "
            f"(Wilson {_ci(a.lower, a.upper, 3)}); with ties and both-bad merged "
            f"{_number(a.rate_ties_merged, 3)}; Cohen's κ {_number(a.kappa, 3)}.", "",
            _table(["human vote", "verdicts", "judge matched", "agreement", "Wilson CI",
                    "κ (this kind vs rest)"], kinds), "",
            _table(["order", "verdicts", "agreement", "Wilson CI", "κ"], orders), ""]


def _boards_section(report: JudgeFindings) -> list[str]:
    r = report.rank_correlation
    rows = [[str(b["model"]), _number(b["human_rank"], 0), _number(b["human_rating"], 1),
             _ci(b["human_lower"], b["human_upper"], 1), _number(b["judge_rank"], 0),
             _number(b["judge_rating"], 1), _ci(b["judge_lower"], b["judge_upper"], 1),
             _number(b["difference"], 1), _ci(b["difference_lower"], b["difference_upper"], 1),
             _number(bool(b["flagged"]), 0)] for b in report.boards.to_dict("records")]
    return ["## The two leaderboards", "",
            f"Rank correlation over {r['models']} models: Spearman ρ "
            f"{_number(r['spearman'], 3)}, Kendall τ {_number(r['kendall'], 3)}. Both boards "
            "average the same rating, so a model the judge lifts pushes the others down a "
            "little. Flagged: the two boards' intervals do not overlap.", "",
            _table(["model", "human rank", "human rating", "CI", "judge rank",
                    "judge rating", "CI", "judge − human", "CI", "flagged"], rows), ""]


def report_markdown(report: JudgeFindings) -> str:
    """The whole report as Markdown."""
    n = report.counts
    head = [f"# Judge report: {report.judge_model}", "",
            f"{n['battles']} battles voted by the humans and judged ({n['verdicts']} "
            f"verdicts). Intervals at {report.level:.0%}: rates and differences by a "
            f"bootstrap over battles ({report.rounds} rounds, seed {report.seed}; ratings "
            "too), "
            "consistency and agreement by Wilson's interval.", ""]
    return "\n".join(head + _position_section(report) + _self_preference_section(report)
                     + _style_section(report) + _agreement_section(report)
                     + _boards_section(report))


def write_report(report: JudgeFindings, directory: Path, plots: bool = True) -> list[Path]:
    """judge_report.md, judge_report.json, the CSVs and (with `plots`) the figures."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "judge_report.md", directory / "judge_report.json"]
    paths[0].write_text(report_markdown(report) + "\n", encoding="utf-8")
    paths[1].write_text(json.dumps(report_dict(report), indent=2, allow_nan=False) + "\n",
                        encoding="utf-8")
    for stem, table in report_tables(report).items():
        paths.append(directory / f"{stem}.csv")
        table.to_csv(paths[-1], index=False)
    if plots:
        from ratings.judge_plots import plot_judge_report

        paths += plot_judge_report(report, directory)
    return paths
