"""`arena drift generate`: re-generate logged battles against today's endpoints (drift check).

`arena replay` is the same command group under a hidden name, so scripts that use it keep
working. Re-voting on logged battles is a mode of `arena serve` (`--revote`), not here.

Exit codes: 0 the check ran (endpoint failures are in the report, not fatal); 1 `--fail-on-drift`
failed (a model's exact-match rate below RATE, or a model of which nothing could be
re-generated); 2 the command line, the log or the config is wrong (the message says what to do).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from arena.drift import DriftReport
    from serving.client import StreamTimeouts

drift_app = typer.Typer(
    help="Drift checks: re-generate logged battles and report how far the answers moved.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(drift_app, name="drift")
    app.add_typer(drift_app, name="replay", hidden=True)


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _print_summary(report: DriftReport) -> None:
    header = ("MODEL", "REPLAYED", "EXACT", "SIMILARITY", "SERVED_ID_CHANGED", "FAILED",
              "SKIPPED")
    rows = [header] + [
        (m.model, str(m.replayed),
         "-" if m.exact_match_rate is None else f"{m.exact_match_rate:.3f}",
         "-" if m.mean_similarity is None else f"{m.mean_similarity:.3f}",
         str(m.served_model_changes), str(m.failed), str(m.skipped))
        for m in report.models
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


# Where the reports and progress of a log go without --out-dir; kept so old runs resume.
DEFAULT_OUT_ROOT = Path("data") / "replay"

GENERATE_HELP = (
    "Re-run every logged turn of the selected battles and report drift per model.\n\n"
    "Each logged generation is sent again with its logged messages, sampling parameters and "
    "seed to the endpoint that the config gives the same model name now. Per model the report "
    "gives the exact-match rate, a text similarity (token-level difflib ratio), changes of the "
    "served model id or system_fingerprint, failures, and the worst examples side by side, in "
    "OUT_DIR/drift.json and OUT_DIR/drift.md.\n\n"
    "Failed logged generations are skipped. Endpoint failures are reported, not fatal, and "
    "tried again when the command is run again with the same --out-dir; finished generations "
    "are kept in OUT_DIR/progress.jsonl.\n\n"
    "Exit codes: 0 done; 1 --fail-on-drift failed; 2 bad command line, log or config."
)


@drift_app.command("generate", help=GENERATE_HELP)
def generate(
    log: Path = typer.Argument(..., help="JSONL export of the vote log (arena export --format "
                               "jsonl)."),
    config: Path = typer.Option(..., "--config", "-c", help="Arena TOML config: where each "
                                "model name is served now."),
    models: str | None = typer.Option(None, "--models", help="Comma-separated model names to "
                                      "re-generate (default: every model in the log)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Re-generate only the first "
                                     "N selected battles of the log."),
    out_dir: Path | None = typer.Option(None, "--out-dir", help="Reports and progress go here "
                                        "(default: data/replay/<log name>). Re-running with the "
                                        "same directory resumes."),
    fail_on_drift: float | None = typer.Option(None, "--fail-on-drift", min=0.0, max=1.0,
                                               help="Exit 1 when a model's exact-match rate is "
                                               "below RATE (0..1)."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Requests in flight at "
                                    "once, over all endpoints."),
    timeout: float = typer.Option(300.0, "--timeout", min=1.0, help="Seconds one generation "
                                  "may take in total before it counts as failed."),
    worst: int = typer.Option(3, "--worst", min=0, help="Worst examples shown per model."),
) -> None:
    from arena.config import ConfigError, load_arena_settings
    from arena.drift import DriftInputError, run_drift_check
    from serving.api_keys import with_launched_keys
    from serving.config import ModelConfigError, load_models_config

    try:
        cfg = with_launched_keys(load_models_config(config),
                                 Path(load_arena_settings(config).data_dir))
    except (ModelConfigError, ConfigError) as bad:
        raise _usage_error(str(bad)) from None
    selected = _selected_models(models)
    out = out_dir or DEFAULT_OUT_ROOT / log.stem
    try:
        report = run_drift_check(log, cfg, out, models=selected, limit=limit,
                                 concurrency=concurrency, timeouts=_timeouts(timeout),
                                 worst=worst)
    except DriftInputError as bad:
        raise _usage_error(str(bad)) from None
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted: finished generations are kept in {out}/progress.jsonl; "
                   "run the same command again to resume", err=True)
        raise typer.Exit(130) from None
    _print_outcome(report, out)
    if fail_on_drift is not None:
        _apply_gate(report, fail_on_drift)


def _selected_models(models: str | None) -> set[str] | None:
    """The `--models` names as a set (None: every model), or a usage error when empty."""
    if models is None:
        return None
    selected = {name.strip() for name in models.split(",") if name.strip()}
    if not selected:
        raise _usage_error("--models is empty; give names like tiny-a,tiny-b")
    return selected


def _timeouts(timeout_s: float) -> StreamTimeouts:
    """The client's timeouts with `--timeout` as the total (and the first-token cap)."""
    from arena.drift.check import DEFAULT_TIMEOUTS
    from serving.client import StreamTimeouts

    return StreamTimeouts(connect=DEFAULT_TIMEOUTS.connect,
                          first_token=min(DEFAULT_TIMEOUTS.first_token, timeout_s),
                          total=timeout_s)


def _print_outcome(report: DriftReport, out: Path) -> None:
    """The summary table, where the reports went, and each model's endpoint failures."""
    if not report.models:
        typer.echo("nothing to replay: no battle of the log has a turn of the selected models",
                   err=True)
    _print_summary(report)
    meta = report.meta
    typer.echo(f"\nresumed {meta['resumed']}, attempted now {meta['attempted_now']}; "
               f"reports: {out / 'drift.json'}, {out / 'drift.md'}")
    for m in report.models:
        for error, count in m.failures.items():
            typer.echo(f"{m.model}: {count} failed: {error}", err=True)


def _apply_gate(report: DriftReport, min_exact_rate: float) -> None:
    """`--fail-on-drift`: exit 1 with the reasons, else say that the check passed."""
    reasons = report.check(min_exact_rate)
    if reasons:
        for reason in reasons:
            typer.echo(f"drift: {reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"drift check passed: every model's exact-match rate >= {min_exact_rate:g}")
