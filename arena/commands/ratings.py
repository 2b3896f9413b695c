"""`arena ratings`: leaderboards with confidence intervals from an exported vote log.

A thin wrapper over the `ratings` package (which knows nothing about the arena): it parses
flags into `ratings.RatingOptions`, runs `ratings.manifest.rate_file`, prints the table and
writes the output, its manifest and optional plots. With --db/--config and no INPUT it rates
the database where it lies (`arena.jobs.db_ratings`: counts aggregated in SQL, no export),
unless the options need the battles one by one: then it says why and rates an export.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from ratings.manifest import RatingRun
    from ratings.options import RatingOptions


def _parse_pairs(values: list[str] | None, flag: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{flag} {value!r}: expected NAME=VALUE")
        pairs.append((name, rest))
    return pairs


RATINGS_HELP = """Compute a leaderboard (rating, CI, rank bounds) from a vote log and write it.

Prints the table; with --out also writes it and FILE.manifest.json (input SHA-256,
rows used and dropped per reason, vote filters and the votes they removed, every
option, versions). --robustness adds how many removed votes would change #1 and
each adjacent pair. --by category rates one board per label (and the overall
board, with each model's rank change); --correct-sampling weights battles by
1 / pair_probability. --from-manifest
re-runs a manifest and says whether the table came out byte-identical.
--compare-replay REPLAY compares the judges of INPUT (original votes) and REPLAY
(re-votes, mode replay); with --out FILE.json it writes the comparison there."""


DB_HELP = ("Rate the battles in this database, counted in SQL (options that need each "
           "battle: exported to a JSONL file first, kept for the manifest).")
JUDGE_HELP = ("Rate LLM judge verdicts (mode judge, from `arena judge`) instead of human votes: "
              "NAME = that judge's (or panel's), '*' = every judge's. Without it verdicts never "
              "enter a board (counted as dropped 'judge').")
DEDUPE_HELP = ("Count a rater's identical first prompt once: keep their first battle with "
               "it (needs the conversations).")
ROBUSTNESS_HELP = ("Report the fewest votes whose removal would change #1 and each adjacent "
                   "pair (Bradley–Terry refits; ties half or drop).")
EXACT_LIMIT_HELP = ("Most removals refitted to prove a robustness number minimal; above it "
                    "the number found by search is given as an upper bound.")
MIN_VOTES_HELP = ("A board (each --by group, and the overall one) with fewer votes says "
                  "so instead of ranking.")
PROVISIONAL_HELP = "Models with fewer votes are marked provisional."
CORRECT_SAMPLING_HELP = (
    "Weight each battle by 1 / pair_probability (mean 1) in the Bradley–Terry fit and its "
    "intervals, undoing uneven pair sampling; battles without one are dropped.")
COMPARE_REPLAY_HELP = (
    "Judge comparison: REPLAY export of an `arena serve --replay` log (may be INPUT itself "
    "when one file holds both): agreement of original and replay votes on the same battles, "
    "confusion table, a leaderboard from each.")


def register(app: typer.Typer) -> None:
    app.command("ratings", help=RATINGS_HELP)(ratings)


def ratings(
    input: Path = typer.Argument(None, help="Vote log: .parquet, .jsonl (our export), "
                                 ".json (FastChat clean_battle) or .csv. Omit it to "
                                 "rate the arena's database (--db or --config)."),
    db: str = typer.Option(None, "--db", help=DB_HELP),
    config: Path = typer.Option(None, "--config",
                                help="Arena config: rate the database of its [arena] "
                                "db_url (without INPUT); its [[models]] states fill the "
                                "state column."),
    out: Path = typer.Option(None, "--out", "-o",
                             help="Write the table to FILE.csv|.json|.md (+ manifest)."),
    input_format: str = typer.Option(None, "--format",
                                     help="Input format, overriding the file extension."),
    method: str = typer.Option("bt", help="bt (Bradley–Terry MLE) or elo (online Elo)."),
    ties: str = typer.Option("half", help="half (half a win each), drop, or davidson."),
    bothbad: str = typer.Option("tie", help="'tie (bothbad)' votes: tie or drop."),
    ci: str = typer.Option(None, help="sandwich (default for bt), bootstrap, or none."),
    rounds: int = typer.Option(1000, help="Bootstrap rounds."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
    level: float = typer.Option(0.95, help="Confidence level of the intervals."),
    scale: float = typer.Option(400.0, help="Elo scale: points per factor `base` of odds."),
    base: float = typer.Option(10.0, help="Elo base."),
    mean: float = typer.Option(1000.0, help="Average rating (unless --anchor)."),
    anchor: str = typer.Option(None, help="MODEL=RATING: pin one model's rating."),
    prior: float = typer.Option(1e-3, help="L2 penalty on log-strengths (N(0, 1/prior) "
                                "prior); keeps never-lost/never-won models finite."),
    allow_disconnected: bool = typer.Option(
        False, help="Rate each component of a disconnected comparison graph separately."),
    k: float = typer.Option(4.0, help="Online Elo K factor."),
    initial: float = typer.Option(1000.0, help="Online Elo initial rating."),
    include_named: bool = typer.Option(False, help="Keep battles in 'named' mode."),
    include_flagged_battles: bool = typer.Option(
        False, help="Keep battles with flags (e.g. identity_leak)."),
    where: list[str] = typer.Option(None, help="COLUMN=VALUE filter (repeatable)."),
    by: str = typer.Option(None, help="One leaderboard per value of COLUMN."),
    style: bool = typer.Option(False, help="Add a style-controlled leaderboard."),
    style_features: str = typer.Option("tokens,headers,lists,bold",
                                       help="Comma-separated style features."),
    position_bias: bool = typer.Option(False, help="Report the left side's advantage."),
    raters: bool = typer.Option(False, help="Test every judge for anomalous votes."),
    exclude_flagged: bool = typer.Option(False, help="Drop battles of flagged judges."),
    rater_alpha: float = typer.Option(0.01, help="Family-wise level of the rater test."),
    rater_min_votes: int = typer.Option(5, help="Judges with fewer votes are not tested."),
    max_votes_per_rater_per_day: int = typer.Option(
        None, metavar="N", help="Keep each rater's first N votes of every UTC day."),
    dedupe_prompts: bool = typer.Option(False, help=DEDUPE_HELP),
    robustness: bool = typer.Option(False, help=ROBUSTNESS_HELP),
    robustness_exact_limit: int = typer.Option(20_000, metavar="N", help=EXACT_LIMIT_HELP),
    min_votes: int = typer.Option(0, metavar="N", help=MIN_VOTES_HELP),
    provisional_votes: int = typer.Option(300, metavar="N", help=PROVISIONAL_HELP),
    sampling_correction: bool = typer.Option(False, "--correct-sampling",
                                             help=CORRECT_SAMPLING_HELP),
    judge: str = typer.Option(None, "--judge", metavar="NAME", help=JUDGE_HELP),
    plot: Path = typer.Option(None, help="Write PNG figures into this directory."),
    from_manifest: Path = typer.Option(
        None, help="Re-run a FILE.manifest.json (checks the input's SHA-256 first)."),
    compare_replay: Path = typer.Option(None, "--compare-replay", help=COMPARE_REPLAY_HELP),
) -> None:
    # Every option by name; those RatingOptions takes as they are pass straight through.
    rate(**locals())


def rate(
    *,
    input: Path | None,
    db: str | None,
    config: Path | None,
    out: Path | None,
    input_format: str | None,
    anchor: str | None,
    where: list[str] | None,
    style_features: str,
    by: str | None,
    plot: Path | None,
    from_manifest: Path | None,
    compare_replay: Path | None,
    **options: Any,
) -> None:
    """`arena ratings`: re-run a manifest, compare judges, or rate INPUT and write the outputs.

    `options` are the `ratings.RatingOptions` fields given as they are on the command line.
    """
    from ratings.errors import BattleDataError
    from ratings.manifest import ManifestError, rate_file

    try:
        if from_manifest is not None:
            _rerun_manifest(from_manifest, input, out, db, config)
            return
        anchor_pair = _parse_anchor(anchor)
        options["model_states"] = _config_states(config)
        rating_options = _rating_options(options, anchor_pair, where, style_features)
        if input is None and (db or config) and compare_replay is None:
            run = _rate_in_database(db, config, rating_options, by, out)
            if run is not None:
                _check_anchor(run, anchor_pair)
                _write_outputs(run, by, out, plot)
                return
        input = _input_file(input, db, config, out)
        if compare_replay is not None:
            _compare_judges(input, compare_replay, rating_options, input_format, out)
            return
        run = rate_file(input, rating_options, by, input_format)
        _check_anchor(run, anchor_pair)
    except (BattleDataError, ManifestError, ValueError) as bad:
        if isinstance(bad, typer.BadParameter):
            raise
        typer.echo(f"error: {bad}", err=True)
        raise typer.Exit(2) from None
    _write_outputs(run, by, out, plot)


def _check_anchor(run: RatingRun, anchor: tuple[str, float] | None) -> None:
    if anchor and all(anchor[0] not in b.table["model"].values for b in run.boards.values()):
        raise typer.BadParameter(f"--anchor: no model named {anchor[0]!r}")


def _rate_in_database(db: str | None, config: Path | None, options: RatingOptions,
                      by: str | None, out: Path | None) -> RatingRun | None:
    """Rate the database in SQL (the run, its manifest written with --out); None, after
    saying why, when the options need an export."""
    from arena.config import ConfigError, resolve_db_url
    from arena.jobs.db_ratings import NotInSql, rate_database, write_db_run
    from arena.store import BattleLog
    from ratings.report import OUTPUT_SUFFIXES

    if out is not None and out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise typer.BadParameter(f"--out {out}: use a .csv, .json or .md file name")
    try:
        url = resolve_db_url(db, config)
    except ConfigError as bad:
        raise typer.BadParameter(str(bad)) from None
    try:
        with BattleLog(url) as log:
            run, source = rate_database(log, options, by)
    except NotInSql as reason:
        typer.echo(f"rating an export of the database: {reason}", err=True)
        return None
    typer.echo(f"rated {run.rows_read} voted battles in {source.url} (counted in SQL, "
               f"{len(source.rows)} aggregated rows, watermark {source.window.below})", err=True)
    if out is not None:
        typer.echo(f"wrote its manifest {write_db_run(run, source, out)}", err=True)
    return run


def _rerun_manifest(manifest: Path, input: Path | None, out: Path | None,
                    db: str | None = None, config: Path | None = None) -> None:
    """`--from-manifest`: re-run it, print the table, exit 1 unless it came out identical.
    A manifest of a database run reads the same votes again (--db/--config, else the
    recorded database)."""
    import json

    from arena.jobs.db_ratings import is_db_manifest, rerun_db_manifest
    from ratings.manifest import rerun_manifest
    from ratings.report import render_text

    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        data = {}  # rerun_manifest says what is wrong with it
    if isinstance(data, dict) and is_db_manifest(data):
        url = None
        if db or config:
            from arena.config import resolve_db_url
            url = resolve_db_url(db, config)
        result = rerun_db_manifest(manifest, data, url, out)
        if not result.same_votes:
            typer.echo("note: the votes below the watermark are not those recorded (a "
                       "relabelled or deleted battle?)", err=True)
    else:
        result = rerun_manifest(manifest, input_path=input, output=out)
    typer.echo(render_text(result.run.boards, result.run.by, result.run.overall))
    verdict = "identical to" if result.identical else "DIFFERENT from"
    typer.echo(f"\nwrote {result.output} ({verdict} the recorded output, SHA-256 "
               f"{result.actual_sha256[:16]}...) and {result.manifest}")
    if not result.identical:
        raise typer.Exit(1)


def _input_file(input: Path | None, db: str | None, config: Path | None,
                out: Path | None) -> Path:
    """INPUT, else an export of the arena's database; a usage error without either, or for
    an --out we cannot write."""
    from ratings.report import OUTPUT_SUFFIXES

    if input is None and (db or config):
        input = _export_for_rating(db, config, out)
    if input is None:
        raise typer.BadParameter(
            "give an INPUT file, --db/--config (the arena's database) or "
            "--from-manifest")
    if out is not None and out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise typer.BadParameter(f"--out {out}: use a .csv, .json or .md file name")
    return input


def _config_states(config: Path | None) -> tuple[tuple[str, str], ...]:
    """(model, state) of every [[models]] entry of the arena config (the board's `state`
    column); none without --config or [[models]]. Models that cannot be read are an error."""
    if config is None:
        return ()
    from arena.config import ConfigError, read_toml
    from serving.config import ModelConfigError, load_models_config

    try:
        if "models" not in read_toml(config):
            return ()
    except ConfigError as bad:
        raise typer.BadParameter(str(bad)) from None
    try:
        models = load_models_config(config).models
    except ModelConfigError as bad:
        raise typer.BadParameter(f"--config {config}: {bad}") from None
    return tuple(sorted((spec.name, getattr(spec, "state", None) or "active")
                        for spec in models))


def _parse_anchor(anchor: str | None) -> tuple[str, float] | None:
    """`--anchor MODEL=RATING` as (model, rating in Elo points)."""
    if not anchor:
        return None
    (name, value), = _parse_pairs([anchor], "--anchor")
    try:
        return (name, float(value))
    except ValueError:
        raise typer.BadParameter(f"--anchor {anchor!r}: RATING must be a number") from None


def _rating_options(options: dict[str, Any], anchor: tuple[str, float] | None,
                    where: list[str] | None, style_features: str) -> RatingOptions:
    """The RatingOptions of the command line: the plain options plus the parsed ones."""
    from ratings.options import RatingOptions

    return RatingOptions(
        **options, anchor=anchor, where=tuple(_parse_pairs(where, "--where")),
        style_features=tuple(f.strip() for f in style_features.split(",") if f.strip()),
    )


def _write_outputs(run: RatingRun, by: str | None, out: Path | None, plot: Path | None) -> None:
    """Print the table; write it with its manifest (--out) and the figures (--plot)."""
    from ratings.manifest import manifest_path, write_run
    from ratings.report import render_text

    typer.echo(render_text(run.boards, by, run.overall))
    if out is not None and run.input_format == "database":
        typer.echo(f"\nwrote {out} and {manifest_path(out)}")
    elif out is not None:
        manifest = write_run(run, out)
        typer.echo(f"\nwrote {out} and {manifest}")
    if plot is not None:
        from ratings.plots import plot_leaderboard

        for key, board in run.boards.items():
            prefix = "" if key is None else f"{by}={key}_".replace("/", "_")
            for path in plot_leaderboard(board, plot, prefix):
                typer.echo(f"wrote {path}")


def _export_for_rating(db: str | None, config: Path | None, out: Path | None) -> Path:
    """Export the voted battles of the arena's database to a JSONL file and return its path.

    The file is kept (beside --out, else under the data directory) because the manifest
    names it by SHA-256: it is the exact input a re-run needs.
    """
    from datetime import UTC, datetime

    from arena.config import ConfigError, resolve_db_url
    from arena.store import BattleLog
    from arena.transfer.export import export_battles

    try:
        url = resolve_db_url(db, config)
    except ConfigError as bad:
        raise typer.BadParameter(str(bad)) from None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = (out.with_name(f"{out.stem}.battles.jsonl") if out is not None
              else Path("data") / "ratings" / f"battles-{stamp}.jsonl")
    with BattleLog(url) as log:
        count = export_battles(log, "jsonl", target, status="voted")
    typer.echo(f"exported {count} voted battles from {url} to {target}")
    return target


def _compare_judges(original_path: Path, revote_path: Path, options: RatingOptions,
                    input_format: str | None, out: Path | None) -> None:
    """Print (and with --out FILE.json write) the judge comparison of the original votes and
    the re-votes (mode `replay`) on the same battles, read from one or two exports."""
    import json

    import pandas as pd

    from ratings.agreement import agreement_text, boards_by_judge, compare_judges, split_replay
    from ratings.io import read_battles
    from ratings.report import text_table

    if out is not None and out.suffix.lower() != ".json":
        raise typer.BadParameter(f"--out {out}: the judge comparison is written as .json")
    frames = [read_battles(original_path, input_format)]
    if revote_path.resolve() != original_path.resolve():
        frames.append(read_battles(revote_path, input_format))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    original, revotes = split_replay(frame)
    result = compare_judges(original, revotes, options.level)
    boards = boards_by_judge(original, revotes, result, options)
    typer.echo(agreement_text(result))
    for name, board in boards.items():
        title = {"original": "Original votes on the re-voted battles",
                 "replay": "Replay votes on the same battles"}[name]
        typer.echo(f"\n== {title} ==")
        typer.echo(board if isinstance(board, str) else text_table(board.table))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "original": str(original_path), "replay": str(revote_path),
            "agreement": result.to_dict(),
            "boards": {name: board if isinstance(board, str) else board.to_dict()
                       for name, board in boards.items()},
        }
        out.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        typer.echo(f"\nwrote {out}")
