"""`arena judge`: an LLM judge's pairwise verdicts on logged battles (docs/judge.md).

Exit codes: 0 done; 1 the data, file, database, config or judge model is wrong (the message
says what to do); 2 the command line is wrong; 3 some judge calls failed (each was printed;
run the same command again to ask those again); 130 interrupted (run it again to resume).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from arena.commands.log import open_log_or_exit

JUDGE_HELP = (
    "Judge voted battles with LLM judges: every battle in both orders, pairwise (A, B or "
    "tie), with a versioned prompt template whose hash is recorded.\n\n"
    "Battles come from the vote log (--db or --config) or an export (--file); verdicts go "
    "into the vote log (default) or a JSONL file (--out), as battle records of mode "
    "\"judge\". A run that is interrupted, or whose calls failed, is finished by running it "
    "again: verdicts already stored are not asked again. With --report DIR the judge report "
    "(agreement with the humans, position, self-preference and style bias, both "
    "leaderboards) is written there.")


def register(app: typer.Typer) -> None:
    app.command("judge", help=JUDGE_HELP)(judge)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=code)


def judge(
    config: Path = typer.Option(None, "--config", help="Arena config: its \\[\\[models]] serve "
                                "the judges; its \\[arena] db_url is the vote log (unless --db) "
                                "and judge_model the default --judge."),
    db: str = typer.Option(None, "--db", help="SQLAlchemy URL of the vote log to read battles "
                           "from (unless --file) and write verdicts to (unless --out)."),
    file: Path = typer.Option(None, "--file", help="Judge the battles of this export (JSONL, "
                              "or FastChat clean_battle JSON) instead of the vote log."),
    out: Path = typer.Option(None, "--out", help="Append verdicts to this JSONL file instead "
                             "of the vote log (resumable too)."),
    judges: list[str] = typer.Option(None, "--judge", help="A \\[\\[models]] name of --config "
                                     "to judge with; repeat for several judges."),
    template: str = typer.Option("", "--template", help="Built-in template name or a .toml "
                                 "path (default: \\[arena] judge_template, else pairwise-v1)."),
    seed: int = typer.Option(0, help="Run seed: each call's seed derives from it (a re-run "
                             "with the same seed asks the same questions)."),
    concurrency: int = typer.Option(4, min=1, help="Judge calls in flight at once."),
    temperature: float = typer.Option(0.0, min=0.0, help="Judge sampling temperature."),
    top_p: float = typer.Option(1.0, min=0.0, max=1.0, help="Judge sampling top_p."),
    modes: list[str] = typer.Option(None, "--mode", help="Battle modes judged (repeatable; "
                                    "default: anonymous only)."),
    limit: int = typer.Option(None, min=1, help="Judge only the first N battles (in log "
                              "order; a larger N later goes on from there)."),
    panel: str = typer.Option(None, "--panel", metavar="NAME", help="Also store the judges' "
                              "combined verdict (strict majority, else tie) under NAME."),
    report: Path = typer.Option(None, "--report", metavar="DIR", help="Write the judge "
                                "report into DIR after judging."),
    report_only: bool = typer.Option(False, "--report-only", help="Skip judging; only "
                                     "write --report."),
    progress: bool = typer.Option(None, "--progress/--no-progress",
                                  help="Progress bar (default: on a TTY)."),
) -> None:
    options = dict(locals())
    _check_usage(options)
    if not report_only:
        _judge_battles(options)
    if report is not None:
        _write_report(options)


def _check_usage(options: dict[str, Any]) -> None:
    """Usage errors (exit 2) the option parser cannot see."""
    from arena.judge.store import JUDGED_MODES
    from arena.record import MODES

    for mode in options["modes"] or ():
        if mode not in MODES or mode == "judge":
            raise typer.BadParameter(f"{mode!r}: choose among {', '.join(MODES[:-1])}",
                                     param_hint="--mode")
    options["modes"] = tuple(options["modes"] or JUDGED_MODES)
    if options["report_only"] and options["report"] is None:
        raise typer.BadParameter("--report-only needs --report DIR", param_hint="--report-only")
    if options["panel"] is not None and len(options["judges"] or ()) < 2:
        raise typer.BadParameter("a panel needs two or more --judge", param_hint="--panel")
    if options["file"] is not None and options["out"] is not None \
            and options["file"].resolve() == options["out"].resolve():
        raise typer.BadParameter("write verdicts to another file than the battles read",
                                 param_hint="--out")


def _settings(config: Path | None) -> Any:
    from arena.config import ConfigError, load_arena_settings

    try:
        return load_arena_settings(config)
    except ConfigError as bad:
        raise _fail(f"error: {bad}") from None


def _judge_models(options: dict[str, Any], template: Any) -> list[Any]:
    """The JudgeModels of --judge (else [arena] judge_model) on --config's [[models]]."""
    from arena.judge.model import JudgeModel
    from serving.api_keys import with_launched_keys
    from serving.config import ModelConfigError, load_models_config

    config = options["config"]
    names = list(options["judges"] or ())
    if not names and config is not None:
        names = [name for name in [getattr(_settings(config), "judge_model", "")] if name]
    if not names:
        raise typer.BadParameter("name a judge: --judge MODEL (a [[models]] entry of "
                                 "--config), or set [arena] judge_model", param_hint="--judge")
    if config is None:
        raise typer.BadParameter("--judge needs --config (the [[models]] that serve it)",
                                 param_hint="--config")
    try:
        serving = with_launched_keys(load_models_config(config),
                                     Path(_settings(config).data_dir))
        return [JudgeModel.from_config(serving, name, template,
                                       temperature=options["temperature"],
                                       top_p=options["top_p"]) for name in names]
    except (ModelConfigError, OSError) as bad:
        raise _fail(f"error: {bad}") from None
    except KeyError as bad:
        raise _fail(f"error: --judge: {bad.args[0]}") from None


def _template(options: dict[str, Any]) -> Any:
    from arena.judge.template import TemplateError, load_template

    name = options["template"]
    if not name and options["config"] is not None:
        name = getattr(_settings(options["config"]), "judge_template", "")
    try:
        return load_template(name or "pairwise-v1")
    except TemplateError as bad:
        raise _fail(f"error: {bad}") from None


@contextlib.contextmanager
def _sink(options: dict[str, Any]) -> Iterator[Any]:
    """Where verdicts go: --out's JSONL file, else the vote log."""
    from arena.judge.store import JsonlSink, LogSink
    from arena.transfer.importer import ImportFailed

    if options["out"] is not None:
        try:
            sink = JsonlSink(options["out"])
        except (ImportFailed, OSError) as bad:
            raise _fail(f"error: {bad}") from None
        try:
            yield sink
        finally:
            sink.close()
        return
    with open_log_or_exit(options["db"], options["config"]) as log:
        yield LogSink(log)


@contextlib.contextmanager
def _battles(options: dict[str, Any]) -> Iterator[tuple[Any, int | None]]:
    """(the battles to judge, how many when known) from --file or the vote log."""
    import itertools

    from arena.judge.store import battles_in_file, battles_in_log, count_in_log

    limit, modes = options["limit"], options["modes"]
    if options["file"] is not None:
        battles = battles_in_file(options["file"], modes)
        yield itertools.islice(battles, limit), limit
        return
    with open_log_or_exit(options["db"], options["config"]) as log:
        total = count_in_log(log, modes)
        yield (itertools.islice(battles_in_log(log, modes), limit),
               min(total, limit) if limit else total)


def _judge_battles(options: dict[str, Any]) -> None:
    from arena.judge.runner import JudgeRun
    from arena.transfer.importer import ImportFailed

    template = _template(options)
    judges = _judge_models(options, template)
    run = JudgeRun(judges=judges, template=template, seed=options["seed"],
                   concurrency=options["concurrency"], panel=_panel(options))
    try:
        with _sink(options) as sink, _battles(options) as (battles, total):
            result = asyncio.run(_run(run, battles, sink, total, options["progress"]))
    except ImportFailed as bad:
        raise _fail(f"error: {bad}") from None
    except KeyboardInterrupt:
        raise _fail("interrupted: what was judged is stored; run the same command again "
                    "to go on", code=130) from None
    typer.echo(f"{result.summary()} (template {template.name}, {template.hash}; "
               f"verdicts in {sink.where})")
    if result.failed:
        raise _fail(f"{result.failed} judge calls failed (printed above); run the same "
                    "command again to ask them again", code=3)


def _panel(options: dict[str, Any]) -> Any:
    from arena.judge.panel import Panel, PanelError

    if options["panel"] is None:
        return None
    try:
        return Panel(name=options["panel"], members=tuple(options["judges"]))
    except PanelError as bad:
        raise typer.BadParameter(str(bad), param_hint="--panel") from None


async def _run(run: Any, battles: Any, sink: Any, total: int | None, show: bool | None
               ) -> Any:
    from tqdm import tqdm

    from arena.judge.model import JudgeUnavailable
    from arena.judge.runner import run_judges
    from serving.client import make_http_client

    visible = sys.stderr.isatty() if show is None else show
    async with make_http_client(max_connections=run.concurrency) as http:
        try:
            for judge in run.judges:
                await judge.check(run.template, http=http)
        except JudgeUnavailable as down:
            raise _fail(f"error: {down}") from None
        with tqdm(total=total, unit="battle", disable=not visible, file=sys.stderr,
                  leave=False) as bar:
            return await run_judges(battles, sink, run, http=http,
                                    on_error=lambda line: bar.write(line, file=sys.stderr),
                                    tick=lambda: bar.update(1))


def _write_report(options: dict[str, Any]) -> None:
    """`--report DIR`: J2's judge report over the log that holds the votes and verdicts."""
    from arena.judge.report import families_from_config, write_judge_report

    source = _report_source(options)
    config = options["config"]
    families = families_from_config(config) if config is not None else None
    judges = options["judges"] or []
    # One judge (or the panel) is reported; with several and no panel, the report's choice.
    judge_model = options["panel"] or (judges[0] if len(judges) == 1 else None)
    from ratings.errors import BattleDataError

    try:
        result = write_judge_report(source, out_dir=options["report"],
                                    judge_model=judge_model, families=families,
                                    seed=options["seed"])
    except BattleDataError as bad:
        raise _fail(f"error: the judge report: {bad}") from None
    typer.echo(result.markdown())
    typer.echo(f"judge report written to {options['report']}")


def _report_source(options: dict[str, Any]) -> str | Path:
    """The one log holding both the humans' votes and the verdicts (merged into DIR when
    they are in two places: --file or the vote log, and --out)."""
    from arena.judge.store import merge_logs

    if options["out"] is None:
        if options["file"] is not None:
            raise typer.BadParameter("the verdicts went into the vote log but the votes are "
                                     "in --file: give --out (or import --file first)",
                                     param_hint="--report")
        return _db_url(options)
    options["report"].mkdir(parents=True, exist_ok=True)
    merged = options["report"] / "votes-and-verdicts.jsonl"
    if options["file"] is not None:
        merge_logs(merged, file=options["file"], verdicts=options["out"])
    else:
        with open_log_or_exit(options["db"], options["config"]) as log:
            merge_logs(merged, log=log, verdicts=options["out"])
    return merged


def _db_url(options: dict[str, Any]) -> str:
    from arena.config import ConfigError, resolve_db_url

    try:
        return resolve_db_url(options["db"], options["config"])
    except ConfigError as bad:
        raise _fail(f"error: {bad}") from None
