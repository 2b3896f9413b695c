"""`arena label`: (re)label the battles of a vote log or of a JSONL export.

Exit codes: 0 done; 1 the data, file, database or labelling model is wrong (the message says
what to do); 2 the command line is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arena.commands.log import open_log_or_exit


def register(app: typer.Typer) -> None:
    app.command("label")(label)


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


def label(
    db: Annotated[
        str | None,
        typer.Option("--db", help="SQLAlchemy URL of the vote log to label in place."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML config: its \\[arena] db_url is the log labelled "
                     "(unless --db or --file) and its models serve --llm-model."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Label a JSONL export (arena export --format jsonl) "
                     "instead of the database; rewritten in place unless --out."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="With --file: write the labelled records here."),
    ] = None,
    llm_model: Annotated[
        str | None,
        typer.Option("--llm-model", help="Judge the hard-prompt criteria with this model "
                     "of --config (default: its \\[arena] label_model; heuristics when "
                     "neither is set)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Label every battle again, also those already "
                     "labelled by this labeller version."),
    ] = False,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: on a TTY)."),
    ] = None,
) -> None:
    """Label every battle (language, code, math, multi_turn, long_query, hard-prompt
    criteria; docs/categories.md) not yet labelled by this labeller version."""
    from arena.transfer.importer import ImportFailed
    from arena.transfer.relabel import relabel_file, relabel_log

    if out is not None and file is None:
        raise typer.BadParameter("--out goes with --file", param_hint="--out")
    if file is not None and db is not None:
        raise typer.BadParameter("label either --db or --file, not both", param_hint="--file")
    labeller = _labeller(llm_model, config)
    try:
        if file is not None:
            report = relabel_file(file, labeller, out=out, force=force, progress=progress)
            where = str(out or file)
        else:
            with open_log_or_exit(db, config) as log:
                report = relabel_log(log, labeller, force=force, progress=progress)
            where = "the vote log"
    except ImportFailed as bad:
        raise _fail(f"error: {bad}") from None
    finally:
        close = getattr(labeller, "close", None)
        if close is not None:
            close()
    typer.echo(f"{report.summary(labeller.version)} ({where})")


def _labeller(llm_model: str | None, config: Path | None):
    """The heuristic labeller, or the LLM labeller on a model of the config."""
    from arena.config import ConfigError, load_arena_settings
    from arena.transfer.relabel import HeuristicLabeller

    chosen = llm_model
    if chosen is None and config is not None:
        try:
            chosen = load_arena_settings(config).label_model or None
        except ConfigError as bad:
            raise _fail(f"error: {bad}") from None
    if chosen is None:
        return HeuristicLabeller()
    if config is None:
        raise typer.BadParameter("--llm-model needs --config (the [[models]] that serve it)",
                                 param_hint="--llm-model")
    from arena.labels.llm import LlmLabeller, LlmLabellerError
    from serving.api_keys import with_launched_keys
    from serving.config import ModelConfigError, load_models_config

    labeller = None
    try:
        data_dir = Path(load_arena_settings(config).data_dir)
        serving = with_launched_keys(load_models_config(config), data_dir)
        spec = serving.model(chosen)
        labeller = LlmLabeller.for_model(spec, serving.sampling_for(chosen))
        labeller.check()
        return labeller
    except LlmLabellerError as bad:
        labeller.close()  # type: ignore[union-attr]  # check() failed: it was made
        raise _fail(f"error: {bad}") from None
    except ConfigError as bad:
        raise _fail(f"error: {bad}") from None
    except (ModelConfigError, OSError) as bad:
        raise _fail(f"error: {bad}") from None
    except KeyError as bad:
        raise _fail(f"error: --llm-model: {bad.args[0]}") from None
