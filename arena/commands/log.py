"""`arena export` and `arena import`: moving the vote log in and out of SQL.

Exit codes: 0 done; 1 the data, file or database is wrong (the message says where and what to
do; nothing was written); 2 the command line is wrong (Typer's usage errors).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from arena.record import MODES, STATUSES

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL of the vote log, e.g. sqlite:///./data/arena.db."),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="TOML config whose \\[arena] db_url names the vote log."),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=1)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _parse_since(value: str | None) -> datetime | None:
    """An ISO 8601 date or date-time; without a zone it is read as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date or date-time (e.g. 2026-03-01 or "
            "2026-03-01T12:00:00+00:00)",
            param_hint="--since",
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def open_log_or_exit(db: str | None, config: Path | None):
    """The BattleLog, or a clean exit 1 with the reason (bad config, newer schema, no server)."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from arena.config import ConfigError, resolve_db_url
    from arena.store import BattleLog, SchemaError
    from arena.store.engine import describe_url

    try:
        url = resolve_db_url(db, config)
    except ConfigError as bad:
        raise _fail(f"error: {bad}") from None
    try:
        return BattleLog(url)
    except SchemaError as bad:
        raise _fail(f"error: {bad}") from None
    except ArgumentError as bad:
        raise _fail(f"error: {url!r} is not a database URL: {bad}") from None
    except (SQLAlchemyError, OSError) as bad:
        shown = describe_url(url) if "://" in url else url
        raise _fail(f"error: cannot open the vote log at {shown}: {_first_line(bad)}") from None


FORMATS = ("jsonl", "parquet", "fastchat")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)


def export(
    out: Annotated[Path, typer.Option("--out", help="File to write (replaced if present).")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="jsonl: full records, every status (lossless, re-importable). "
            "parquet: flat battles table. fastchat: clean_battle JSON list.",
        ),
    ] = "jsonl",
    db: DbOption = None,
    config: ConfigOption = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only battles started at or after this ISO date/time (UTC)."),
    ] = None,
    mode: Annotated[str | None, typer.Option(help="anonymous, named or replay.")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="voted, abandoned, error or all. Default: all for jsonl, voted otherwise."
        ),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: on a TTY)."),
    ] = None,
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="Write the public data release instead (docs/release.md): the file the "
            "leaderboard links, no rater data, text only where the rater agreed. Public ids "
            "are keyed by <data_dir>/release_key of --config.",
        ),
    ] = False,
    withhold: Annotated[
        list[Path] | None,
        typer.Option(
            "--withhold", metavar="<pool.jsonl>",
            help="With --public: a re-voting pool file (as given to `arena serve --revote`) "
            "still being served; its battles and their re-votes are left out. Repeatable.",
        ),
    ] = None,
) -> None:
    """Write the vote log (JSONL, Parquet, FastChat clean_battle) or the public release."""
    if public:
        _check_public_options(out, fmt, since, mode, status)
        _write_public(db, config, out, withhold or [])
        return
    _check_export_options(out, fmt, mode, status, withhold)
    moment = _parse_since(since)
    from arena.transfer.export import DEFAULT_STATUS

    written = _write_export(db, config, fmt, out, since=moment, mode=mode, status=status,
                            progress=progress)
    chosen = status or DEFAULT_STATUS[fmt] or "all"
    noun = "battle" if written == 1 else "battles"
    typer.echo(f"exported {written} {noun} (status: {chosen}) to {out} as {fmt}")


def _check_export_options(out: Path, fmt: str, mode: str | None, status: str | None,
                          withhold: list[Path] | None = None) -> None:
    """Usage errors (exit 2) for a format, mode or status we do not know, `--out -`, or
    `--withhold` without `--public`."""
    if withhold:
        raise typer.BadParameter("only the public release (--public) withholds battles",
                                 param_hint="--withhold")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    if mode is not None and mode not in MODES:
        raise typer.BadParameter(f"choose one of {', '.join(MODES)}", param_hint="--mode")
    if status is not None and status not in (*STATUSES, "all"):
        raise typer.BadParameter(
            f"choose one of {', '.join(STATUSES)}, all", param_hint="--status"
        )
    if str(out) == "-":
        raise typer.BadParameter("give a file name; writing to stdout is not supported",
                                 param_hint="--out")  # fmt: skip


def _check_public_options(out: Path, fmt: str, since: str | None, mode: str | None,
                          status: str | None) -> None:
    """Usage errors (exit 2): the public release has one format and fixed rules."""
    chosen = [flag for flag, value in (("--since", since), ("--mode", mode),
                                       ("--status", status)) if value is not None]
    if fmt != "jsonl":
        chosen.insert(0, "--format")
    if chosen:
        raise typer.BadParameter(
            "the public release is always JSONL of the battles the public leaderboard rates; "
            f"drop {', '.join(chosen)}", param_hint="--public")
    if str(out) == "-":
        raise typer.BadParameter("give a file name; writing to stdout is not supported",
                                 param_hint="--out")


def _write_public(db: str | None, config: Path | None, out: Path, withhold: list[Path]) -> None:
    """`arena export --public`: the release (and its manifest) the leaderboard job writes."""
    from arena.config import ConfigError, load_arena_settings
    from arena.transfer.public import export_public, load_release_key

    try:
        data_dir = Path(load_arena_settings(config).data_dir)
        key = load_release_key(data_dir)
    except (ConfigError, ValueError, OSError) as bad:
        raise _fail(f"error: {bad}") from None
    withheld = _withheld_ids(withhold)
    with _exporting_from(db, config, out) as log:
        release = export_public(log, out, key=key, withheld=withheld)
    left = ", ".join(f"{reason.replace('_', ' ')} {count}"
                     for reason, count in release.manifest()["left_out"].items())
    noun = "battle" if release.rows == 1 else "battles"
    typer.echo(f"wrote the public release of {release.rows} {noun} ({release.rows_with_text} "
               f"with text; left out: {left}) to {out} and {release.manifest_path}")


def _withheld_ids(pools: list[Path]) -> set[str]:
    """The battle ids of re-voting pool files (our JSONL export), or exit 1 naming the file."""
    from arena.revote.pool import ReplayPool, ReplayPoolError

    withheld: set[str] = set()
    for path in pools:
        try:
            withheld |= set(ReplayPool.load(path, require_consent=False).battles)
        except ReplayPoolError as bad:
            raise _fail(f"error: --withhold: {bad}") from None
    return withheld


def _write_export(
    db: str | None, config: Path | None, fmt: str, out: Path, **selection: Any
) -> int:
    """Export the battles `selection` picks (since, mode, status; progress): how many were
    written, or exit 1 with the reason."""
    from arena.transfer.export import export_battles

    with _exporting_from(db, config, out) as log:
        return export_battles(log, fmt, out, **selection)


@contextlib.contextmanager
def _exporting_from(db: str | None, config: Path | None, out: Path) -> Iterator[Any]:
    """The open vote log (a BattleLog) for an export to `out`; a failed write or read exits 1
    with the reason, and the log is closed either way."""
    from sqlalchemy.exc import SQLAlchemyError

    log = open_log_or_exit(db, config)
    try:
        yield log
    except OSError as bad:
        raise _fail(f"error: cannot write {out}: {bad.strerror or bad}") from None
    except SQLAlchemyError as bad:
        raise _fail(f"error: reading the vote log failed: {_first_line(bad)}") from None
    finally:
        log.close()


def import_(
    file: Annotated[
        Path,
        typer.Argument(help="JSONL or Parquet from `arena export`, FastChat clean_battle JSON, "
                       "or a FastChat-style Parquet table."),
    ],
    db: DbOption = None,
    config: ConfigOption = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(help="Report and leave out invalid records instead of stopping."),
    ] = False,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bars (default: on a TTY)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes that decode and check records (default: 1 for a "
                     "file under 32 MB, else one per CPU, at most 8)."),
    ] = None,
) -> None:
    """Add the battles of a JSONL, FastChat clean_battle or Parquet file to the vote log.

    Every record is validated first; on an invalid one nothing is imported.

    Battles already stored (same id) are left as they are: importing twice adds nothing.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from arena.transfer.importer import ImportFailed, import_file

    if not file.exists():
        raise _fail(f"error: {file}: no such file")
    log = open_log_or_exit(db, config)
    try:
        report = import_file(
            file,
            log,
            skip_invalid=skip_invalid,
            progress=progress,
            workers=workers,
            on_skip=lambda problem: typer.echo(f"skipped {problem}", err=True),
        )
    except ImportFailed as bad:
        hint = "" if skip_invalid else " (--skip-invalid imports the valid records)"
        raise _fail(f"error: {bad}\nnothing was imported{hint}") from None
    except SQLAlchemyError as bad:
        raise _fail(
            f"error: writing to the vote log failed: {_first_line(bad)}\n"
            "batches written before the failure are kept; run the same import again "
            "to finish (it skips what is already stored)"
        ) from None
    finally:
        log.close()
    typer.echo(report.summary())
