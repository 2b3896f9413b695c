"""Votes aggregated in the database: what ratings need crosses into Python, never the log.

`vote_counts` runs one GROUP BY over the voted battles (status "voted", joined to their vote)
and returns one row per distinct combination of the columns asked for, with `count`, the
number of battles sharing it: a log of millions of battles among a hundred models is a few
tens of thousands of rows for a plain board. `battle_rows` returns the same columns battle by
battle in export order (started_at, battle_id), for the fits whose arithmetic depends on the
order of the battles (the z-scores of style control). `generation_speeds` returns the stored
speed of every generation (arena.store.derived) of the battles that pass the filters.

The watermark (`vote.commit_key`, arena.store.tables): every query takes `below`, an exclusive
bound on the commit key, and optionally `since`, an inclusive lower one. `watermark` gives a
bound such that no vote committed later can ever fall below it:
- SQLite: max(commit_key) + 1, read in the same (deferred, WAL snapshot) transaction as the
  counts; one writer commits at a time and takes a key above every committed one;
- PostgreSQL: pg_snapshot_xmin of the current snapshot: every transaction with a smaller id
  has finished, so the votes below it are all visible now and no other one can appear. An old
  open transaction holds it back (its votes, and later ones, wait for the next refresh).
So `[previous watermark, new watermark)` is exactly the votes that became visible between two
refreshes (the live leaderboard adds them to its counts), and "below W" names a set of votes
that never changes: a snapshot's manifest records W and re-derives its board however many
votes came after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import (
    Connection,
    Select,
    Table,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
)

from arena.store.derived import STYLE_COLUMNS
from arena.store.tables import BattleRow, GenerationRow, VoteRow

battle_t = BattleRow.__table__
vote_t = VoteRow.__table__
generation_t = GenerationRow.__table__

# Frame column -> SQL expression. JSON columns are read as their text (PostgreSQL has no
# equality on JSON); the caller decodes the few distinct values.
COLUMNS = {
    "model_a": battle_t.c.model_a, "model_b": battle_t.c.model_b, "winner": vote_t.c.winner,
    "mode": battle_t.c.mode, "flags": cast(battle_t.c.flags, Text),
    "labels": cast(battle_t.c.labels, Text), "category": battle_t.c.category,
    "language": battle_t.c.language, "pair_policy": battle_t.c.pair_policy,
    "model_state_a": battle_t.c.model_state_a, "model_state_b": battle_t.c.model_state_b,
    "terms_version": battle_t.c.terms_version,
    **{name: battle_t.c[name] for name in STYLE_COLUMNS},
}
JSON_COLUMNS = ("flags", "labels")
# The model that wrote a generation: its battle's model on the generation's side.
SIDE_MODEL = case((generation_t.c.side == "a", battle_t.c.model_a), else_=battle_t.c.model_b)


@dataclass(frozen=True)
class Window:
    """The votes with `since` <= commit_key < `below` (`since` None: from the first), except
    the battles in `withheld` and their re-votes (replay_of in it: a re-voting pool being
    served, which the live board leaves out)."""

    below: int
    since: int | None = None
    withheld: frozenset[str] = frozenset()


def watermark(connection: Connection) -> int:
    """The exclusive commit-key bound of every vote visible now (module docstring)."""
    if connection.dialect.name == "postgresql":
        query = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(connection.execute(query).scalar_one())
    return int(connection.execute(
        select(func.coalesce(func.max(vote_t.c.commit_key), 0) + 1)).scalar_one())


def _voted(query: Select, window: Window, join: Table | None = None) -> Select:
    """`query` over the voted battles in `window` (joined to their vote, and to `join`)."""
    source = battle_t.join(vote_t, vote_t.c.battle_id == battle_t.c.battle_id)
    if join is not None:
        source = source.join(join, join.c.battle_id == battle_t.c.battle_id)
    query = query.select_from(source)
    conditions = [battle_t.c.status == "voted", vote_t.c.commit_key < window.below]
    if window.since is not None:
        conditions.append(vote_t.c.commit_key >= window.since)
    if window.withheld:
        pool = sorted(window.withheld)
        conditions.append(~battle_t.c.battle_id.in_(pool))
        conditions.append(or_(battle_t.c.replay_of.is_(None), ~battle_t.c.replay_of.in_(pool)))
    return query.where(and_(*conditions))


def _expressions(columns: Sequence[str]) -> list:
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ValueError(f"no SQL column for {', '.join(unknown)}; known: {', '.join(COLUMNS)}")
    return [COLUMNS[c].label(c) for c in columns]


def vote_counts_query(columns: Sequence[str], window: Window) -> Select:
    """SELECT columns..., count(*) AS count over the voted battles in `window`, grouped by
    the columns (ordered by them, so the result does not depend on the plan)."""
    expressions = _expressions(columns)
    query = _voted(select(*expressions, func.count().label("count")), window)
    return query.group_by(*expressions).order_by(*expressions)


def battle_rows_query(columns: Sequence[str], window: Window) -> Select:
    """The columns of every voted battle in `window`, in export order (started_at,
    battle_id), each with count 1."""
    query = _voted(select(*_expressions(columns), literal(1).label("count")), window)
    return query.order_by(battle_t.c.started_at, battle_t.c.battle_id)


def speeds_query(columns: Sequence[str], window: Window) -> Select:
    """(model, ttft_s, tokens_per_s, *columns) per generation of the voted battles in
    `window`: the side's model, and the battle's columns (to apply the ratings' filters)."""
    query = select(SIDE_MODEL.label("model"), generation_t.c.ttft_s.label("ttft_s"),
                   generation_t.c.tokens_per_s.label("tokens_per_s"), *_expressions(columns))
    return _voted(query, window, join=generation_t)


def speed_medians_query(column: str, window: Window, filters: Sequence[str],
                        values: Sequence[tuple] | None, exclude: bool = False) -> Select:
    """(model, value): the middle generation speed(s) of each model, `column` being "ttft_s"
    or "tokens_per_s", over the generations of the voted battles in `window` that have one.

    With `values`, only the battles whose `filters` columns are (`exclude`: are not) one of
    those tuples. Each value is compared as "v" || value, or "n" for NULL, so that NULL
    matches NULL and the tuples can go into one IN list.

    The rows are numbered per model in order of the value; with n of them, the rows whose
    number p has n <= 2p <= n + 2 are the middle one (n odd: 2p = n + 1) or the middle two
    (n even: 2p = n and n + 2), so the caller's median of what comes back is the median of
    all n, and only one or two rows per model leave the database."""
    value = generation_t.c[column]
    generations = _voted(select(SIDE_MODEL.label("model"), value.label("value")), window,
                         join=generation_t).where(value.is_not(None))
    if values is not None:
        encoded = tuple_(*[func.coalesce(literal("v").concat(COLUMNS[name]), literal("n"))
                           for name in filters])
        listed = [tuple("n" if v is None else f"v{v}" for v in row) for row in values]
        generations = generations.where(encoded.not_in(listed) if exclude
                                        else encoded.in_(listed))
    inner = generations.subquery()
    ranked = select(
        inner.c.model, inner.c.value,
        func.row_number().over(partition_by=inner.c.model, order_by=inner.c.value)
        .label("position"),
        func.count().over(partition_by=inner.c.model).label("n"),
    ).subquery()
    middle = (2 * ranked.c.position).between(ranked.c.n, ranked.c.n + 2)
    return select(ranked.c.model, ranked.c.value).where(middle)


def read_frame(connection: Connection, query: Select) -> pd.DataFrame:
    """Run `query` through the driver's cursor (no per-value SQLAlchemy processing: these are
    plain strings and numbers) into a frame with the query's column names."""
    compiled = query.compile(dialect=connection.dialect,
                             compile_kwargs={"render_postcompile": True})
    cursor = connection.exec_driver_sql(str(compiled), _positional(compiled))
    names = list(cursor.keys())
    return pd.DataFrame.from_records(cursor.fetchall(), columns=names)


def _positional(compiled) -> tuple | dict:
    params = compiled.params
    if compiled.positional:
        return tuple(params[name] for name in compiled.positiontup)
    return params
