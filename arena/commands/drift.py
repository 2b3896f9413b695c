"""`arena replay generate`: re-run logged generations against today's endpoints (drift check).

(`arena serve --replay` — re-voting on logged battles — is a mode of `arena serve`, not here.)

Exit codes: 0 the check ran (endpoint failures are in the report, not fatal); 1 `--fail-on-drift`
failed (a model's exact-match rate below RATE, or a model of which nothing could be replayed);
2 the command line, the log or the config is wrong (the message says what to do).
"""

from __future__ import annotations

from pathlib import Path

import typer

replay_app = typer.Typer(
    help="Replay the vote log: re-generate logged battles and report drift.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(replay_app, name="replay")


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _print_summary(report) -> None:
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


@replay_app.command("generate", help=GENERATE_HELP)
def generate(
    log: Path = typer.Argument(..., help="JSONL export of the vote log (arena export --format "
                               "jsonl)."),
    config: Path = typer.Option(..., "--config", "-c", help="Arena TOML config: where each "
                                "model name is served now."),
    models: str | None = typer.Option(None, "--models", help="Comma-separated model names to "
                                      "replay (default: every model in the log)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Replay only the first N "
                                     "selected battles of the log."),
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
    """Re-run every logged turn of the selected battles and report drift per model.

    Each logged generation is sent again with its logged messages, sampling parameters and seed
    to the endpoint that the config gives the same model name now. Per model the report gives
    the exact-match rate, a text similarity (token-level difflib ratio), changes of the served
    model id or system_fingerprint, failures, and the worst examples side by side, in
    OUT_DIR/drift.json and OUT_DIR/drift.md. Failed logged generations are skipped; endpoint
    failures are reported, not fatal, and retried when the command is run again with the same
    --out-dir (finished generations are kept in OUT_DIR/progress.jsonl).
    """
    from arena.drift import ReplayInputError, run_drift_check
    from arena.drift.check import DEFAULT_TIMEOUTS
    from serving.client import StreamTimeouts
    from serving.config import ModelConfigError, load_models_config

    try:
        cfg = load_models_config(config)
    except ModelConfigError as bad:
        raise _usage_error(str(bad)) from None
    selected = None
    if models is not None:
        selected = {name.strip() for name in models.split(",") if name.strip()}
        if not selected:
            raise _usage_error("--models is empty; give names like tiny-a,tiny-b")
    out = out_dir or Path("data") / "replay" / log.stem
    timeouts = StreamTimeouts(connect=DEFAULT_TIMEOUTS.connect,
                              first_token=min(DEFAULT_TIMEOUTS.first_token, timeout),
                              total=timeout)
    try:
        report = run_drift_check(log, cfg, out, models=selected, limit=limit,
                                 concurrency=concurrency, timeouts=timeouts, worst=worst)
    except ReplayInputError as bad:
        raise _usage_error(str(bad)) from None
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted: finished generations are kept in {out}/progress.jsonl; "
                   "run the same command again to resume", err=True)
        raise typer.Exit(130) from None
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
    if fail_on_drift is not None:
        reasons = report.check(fail_on_drift)
        if reasons:
            for reason in reasons:
                typer.echo(f"drift: {reason}", err=True)
            raise typer.Exit(1)
        typer.echo(f"drift check passed: every model's exact-match rate >= {fail_on_drift:g}")
