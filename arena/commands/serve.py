"""`arena serve`: Redis (unless external), the configured models (unless external), N workers.

Worker 0 runs in this process and owns the background jobs (leaderboard). Workers 1..N-1 run as
child processes on consecutive ports, sharing Redis and SQL, so a battle started on one can be
voted on another; put a sticky load balancer in front of them (see docs/deployment.md).
Ctrl-C or SIGTERM stops everything this command started; children die with it
(PR_SET_PDEATHSIG). SIGHUP re-reads the config and publishes the models' lifecycle states
(preview, active, retired) to Redis, where every worker reads them when a battle starts: no
restart, and battles in flight finish (the same as `arena models reload`). Worker 0 publishes
the config's states at start.

Secrets never go on a command line, where every local user can read them (/proc/<pid>/cmdline):
the workers get the database and Redis URLs in their environment (ARENA_DB_URL,
ARENA_REDIS_URL, which `--db` and `--redis-url` also read), the embedded Redis gets its random
password on its standard input, launched models get their random API key in their environment,
and what is printed names Redis and the models without a password.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from arena.battles.lifecycle import ModelStates
    from arena.config import ArenaSettings
    from arena.revote.pool import ReplayPool
    from serving.config import ServingConfig


def register(app: typer.Typer) -> None:
    app.command()(serve)


DB_URL_ENV = "ARENA_DB_URL"
REDIS_URL_ENV = "ARENA_REDIS_URL"


def serve(
    ctx: typer.Context,
    config: Path = typer.Option(..., "--config", help="Arena TOML config file."),
    host: str | None = typer.Option(None, help="Bind address (default: config or 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port of worker 0 (default: config or 7860)."),
    workers: int = typer.Option(1, min=1, help="Worker processes on consecutive ports."),
    db: str | None = typer.Option(
        None, "--db", envvar=DB_URL_ENV,
        help="Database URL (overrides the config). One with a password belongs in the "
        "environment variable, not on the command line.",
    ),
    redis_url: str | None = typer.Option(
        None, envvar=REDIS_URL_ENV,
        help="External Redis URL (overrides the config; default: embedded). One with a "
        "password belongs in the environment variable, not on the command line.",
    ),
    no_models: bool = typer.Option(
        False, "--no-models", help="Do not launch models; they must already be running."
    ),
    no_ui: bool = typer.Option(False, "--no-ui", help="Serve the REST API only."),
    revote: Path | None = typer.Option(
        None, "--revote", "--replay",
        help="Re-vote logged battles from this JSONL export.",
    ),
    worker_index: int = typer.Option(0, hidden=True),
) -> None:
    """Start the arena: Redis, models, the REST API and the browser UI."""
    _configure_logging(worker_index)
    _warn_of_secrets_in_argv(ctx, db=db, redis_url=redis_url)
    settings, serving = _load_config(config, db=db, host=host, port=port, redis_url=redis_url)
    pool = None
    if revote is not None:
        pool = _load_revote_pool(revote, announce=worker_index == 0,
                                 require_consent=not settings.revote_without_consent)
        no_models = True
    with contextlib.ExitStack() as stack:
        url = settings.redis_url or _start_redis(stack, settings)
        # Worker 0 publishes the states for all and reloads them on SIGHUP (also while the
        # models start); a hang-up of the process group must not stop another worker.
        reloaded: list[ModelStates] = []
        if worker_index == 0:
            _publish_states(serving, url)
            _reload_on_sighup(config, url, reloaded)
        else:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        if not no_models and worker_index == 0:
            _start_models(stack, serving, settings)
        serving = _with_model_keys(serving, settings)
        children = [
            _spawn_worker(config, settings, url, index, no_ui, revote)
            for index in range(1, workers)
        ] if worker_index == 0 else []
        for child in children:
            stack.callback(_stop_child, child)
        _run_worker(settings, serving, config, url, worker_index == 0, not no_ui, pool,
                    reloaded)


def _configure_logging(worker_index: int) -> None:
    """Log lines tagged with the worker; level from ARENA_LOG_LEVEL (default INFO)."""
    logging.basicConfig(
        level=os.environ.get("ARENA_LOG_LEVEL", "INFO"),
        format=f"%(asctime)s w{worker_index} %(levelname)s %(name)s: %(message)s",
    )
    # Health probes every few seconds would drown the log at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _warn_of_secrets_in_argv(ctx: typer.Context, **values: str | None) -> None:
    """Warn when a URL with a password was given on the command line, where every local user
    can read it; the environment variable keeps it private."""
    from serving.credentials import split_credentials

    for name, value in values.items():
        source = ctx.get_parameter_source(name)
        # By name: typer carries its own copy of click's ParameterSource enum.
        if value and source is not None and source.name == "COMMANDLINE":
            if split_credentials(value)[1] is not None:
                option, env = ("--db", DB_URL_ENV) if name == "db" else \
                    ("--redis-url", REDIS_URL_ENV)
                typer.echo(f"warning: {option} carries a password on the command line, which "
                           f"every local user can read; set {env} instead", err=True)


def _with_model_keys(serving: ServingConfig, settings: ArenaSettings) -> ServingConfig:
    """The models with the API keys of the launched ones (kept under the data directory by
    whoever launched them: this command or `arena models up`)."""
    from serving.api_keys import with_launched_keys

    return with_launched_keys(serving, Path(settings.data_dir))


def _load_config(
    config: Path, *, db: str | None, host: str | None, port: int | None, redis_url: str | None
) -> tuple[ArenaSettings, ServingConfig]:
    """The arena settings, with the command line's values over the config's, and the models;
    exit 2 with the reason when the config is wrong."""
    from dataclasses import replace

    from arena.config import ConfigError, load_arena_settings
    from arena.web.challenge import check_challenge_settings
    from arena.web.operator import load_operator_token
    from arena.web.runtime import load_rater_salt
    from arena.web.sessions import load_session_secret
    from serving.config import ModelConfigError, load_models_config

    try:
        settings = load_arena_settings(config)
        serving = load_models_config(config)
        # An unusable operator token, session secret, rater salt file or live judge stops
        # here, with its message, before any process starts (the kept session secret and
        # rater salt are created here, before the workers).
        load_operator_token(settings)
        load_session_secret(settings)
        load_rater_salt(settings)
        check_challenge_settings(settings)
        _check_live_judge(settings, serving)
    except (ConfigError, ModelConfigError) as bad:
        typer.echo(f"error: {bad}", err=True)
        raise typer.Exit(2) from None
    settings = replace(
        settings,
        db_url=db or settings.db_url,
        host=host or settings.host,
        port=port or settings.port,
        redis_url=redis_url or settings.redis_url,
    )
    return settings, serving


def _check_live_judge(settings: ArenaSettings, serving: ServingConfig) -> None:
    """ConfigError unless `[arena] judge_model` (when set) is a configured model and
    `judge_template` a template that loads (docs/judge.md)."""
    from arena.config import ConfigError

    if not settings.judge_model:
        return
    if settings.judge_model not in serving.names():
        raise ConfigError(f"arena.judge_model: {settings.judge_model!r} is not a [[models]] "
                          f"name; the models are {', '.join(serving.names())}")
    from arena.judge.template import TemplateError, load_template

    try:
        load_template(settings.judge_template or "pairwise-v1")
    except TemplateError as bad:
        raise ConfigError(f"arena.judge_template: {bad}") from None


def _load_revote_pool(path: Path, *, announce: bool, require_consent: bool) -> ReplayPool:
    """The logged battles to re-vote; exit 2 with the reason when the file is unusable."""
    from arena.revote.pool import ReplayPool, ReplayPoolError

    try:
        pool = ReplayPool.load(path, require_consent=require_consent)
    except ReplayPoolError as bad:
        typer.echo(f"error: {bad}", err=True)
        raise typer.Exit(2) from None
    if announce:
        typer.echo(f"replay: {pool.summary()}; no model is launched or contacted")
    return pool


def _start_redis(stack: contextlib.ExitStack, settings: ArenaSettings) -> str:
    from arena.live.embedded import EmbeddedRedis, EmbeddedRedisError

    data_dir = (Path(settings.data_dir) / "redis").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    redis = EmbeddedRedis(data_dir=data_dir, maxmemory_mb=settings.redis_maxmemory_mb)
    try:
        stack.enter_context(redis)
    except EmbeddedRedisError as failed:
        typer.echo(f"error: could not start the embedded Redis: {failed}\n"
                   "Set [arena] redis_url to use an external Redis instead.", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"redis: embedded redis-server at {redis.address} (password required; "
               f"maxmemory {redis.maxmemory_mb} MiB, noeviction)")
    _keep_live_url(stack, Path(settings.data_dir), redis.url)
    return redis.url


def _keep_live_url(stack: contextlib.ExitStack, data_dir: Path, url: str) -> None:
    """Keep the embedded Redis's URL (a secret) where `arena models reload` finds it,
    readable by its owner only, until the arena stops."""
    from arena.commands.models import live_url_path
    from serving.api_keys import write_api_key

    path = live_url_path(data_dir)
    write_api_key(path, url)
    stack.callback(path.unlink, missing_ok=True)

    # SIGTERM ends `arena serve` by the signal itself (uvicorn raises it again after its
    # graceful stop), past the stack's callbacks: remove the file on the way out.
    def on_terminate(signum: int, _frame: object) -> None:
        path.unlink(missing_ok=True)
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, on_terminate)


def _publish_states(serving: ServingConfig, redis_url: str) -> None:
    """Publish the config's lifecycle states for every worker; exit 1 when Redis cannot be
    reached (no battle could start anyway)."""
    import asyncio

    from arena.commands.models import describe_states
    from arena.live import LiveState, LiveStateUnavailable

    async def publish() -> None:
        async with LiveState.from_url(redis_url) as live:
            await live.set_model_states(serving.states())

    try:
        asyncio.run(publish())
    except LiveStateUnavailable as down:
        typer.echo(f"error: could not publish the model states: {down}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"models: states {', '.join(describe_states({}, serving.states()))}")


def _reload_on_sighup(config: Path, redis_url: str, reloaded: list[ModelStates]) -> None:
    """SIGHUP: re-read the config and publish its lifecycle states (in a thread, off the
    event loop), and give them to the `reloaded` services as their stand-ins; a wrong config
    or unreachable Redis is logged and changes nothing."""
    import threading

    from arena.commands.models import describe_states, publish_config_states
    from arena.live import LiveStateUnavailable
    from serving.config import ModelConfigError

    log = logging.getLogger("arena.reload")

    def reload() -> None:
        try:
            before, after = publish_config_states(config, redis_url)
        except (ModelConfigError, LiveStateUnavailable) as failed:
            log.error("reload (SIGHUP): model states unchanged: %s", failed)
            return
        for states in reloaded:
            states.remember(after)
        log.info("reload (SIGHUP): model states published: %s",
                 "; ".join(describe_states(before, after)))

    def on_hangup(_signum: int, _frame: object) -> None:
        threading.Thread(target=reload, name="arena-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, on_hangup)


def _start_models(
    stack: contextlib.ExitStack, serving: ServingConfig, settings: ArenaSettings
) -> None:
    from serving.launcher import LaunchError, serve_models

    launched = [spec for spec in serving.models if spec.launched]
    if not launched:
        return
    typer.echo(f"models: starting {len(launched)} vLLM server(s); this takes about a minute")
    try:
        handles = stack.enter_context(
            serve_models(
                launched,
                data_dir=Path(settings.data_dir),
                python=serving.serving.vllm_python,
                startup_timeout_s=serving.serving.startup_timeout_s,
                extra_env=serving.serving.env,
            )
        )
    except LaunchError as failed:
        typer.echo(f"error: a model server did not start:\n{failed}", err=True)
        raise typer.Exit(1) from None
    for handle in handles:
        typer.echo(f"models: {handle.spec.name} ready at {handle.spec.url}")


def _spawn_worker(config: Path, settings: ArenaSettings, redis_url: str, index: int,
                  no_ui: bool, revote: Path | None = None) -> subprocess.Popen:
    """Start worker `index`; the database and Redis URLs (secrets: they may hold passwords) go
    in its environment, not on its command line."""
    from serving.processes import die_with_parent

    command = [
        sys.executable, "-m", "arena", "serve", "--config", str(config),
        "--host", settings.host, "--port", str(settings.port + index),
        "--no-models", "--worker-index", str(index),
    ]
    if no_ui:
        command.append("--no-ui")
    if revote is not None:
        command += ["--revote", str(revote.resolve())]
    env = {**os.environ, DB_URL_ENV: settings.db_url, REDIS_URL_ENV: redis_url}
    return subprocess.Popen(command, env=env, preexec_fn=die_with_parent(os.getpid()))


def _stop_child(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _run_worker(settings: ArenaSettings, serving: ServingConfig, config: Path, redis_url: str,
                run_jobs: bool, with_ui: bool, revote_pool: ReplayPool | None = None,
                reloaded: list[ModelStates] | None = None) -> None:
    import uvicorn

    from arena.labels import label_prompts
    from arena.web.app import build_app
    from arena.web.runtime import ArenaRuntime

    runtime = ArenaRuntime(
        settings=settings, serving=serving, redis_url=redis_url, run_jobs=run_jobs,
        config_path=config, revote_pool=revote_pool,
    )
    # The labeller's language model loads on first use (most of a second): now, not during
    # the first battle record this worker writes.
    label_prompts(["Warming up the language model."])
    # Stand-ins for the states in Redis, should it be flushed (arena.battles.lifecycle).
    runtime.service.states.remember(serving.states())
    if reloaded is not None:
        reloaded.append(runtime.service.states)
    app = build_app(runtime, with_ui=with_ui)
    typer.echo(f"arena: serving on http://{settings.host}:{settings.port}")
    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1; the
    # arena reads it only from [arena] trusted_proxies (arena.web.client_address).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5, proxy_headers=False)
