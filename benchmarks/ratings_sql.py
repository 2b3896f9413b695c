"""Ratings straight from SQL (#15.1, #15.2): `arena ratings --db` against the same options on
the Parquet export of the same log, and the live leaderboard's refresh, in one run.

    nice -n 19 .venv/bin/python benchmarks/ratings_sql.py build --out /tmp/arena-scale/s1
    nice -n 19 .venv/bin/python benchmarks/ratings_sql.py compare /tmp/arena-scale/s1
    nice -n 19 .venv/bin/python benchmarks/ratings_sql.py job /tmp/arena-scale/s1
    nice -n 19 .venv/bin/python benchmarks/ratings_sql.py postgres /tmp/arena-scale/s1

`build` writes a SQLite vote log of --battles battles (default 1.7 M) among 130 models
(pairs, sides and Bradley–Terry outcomes of `make_synthetic_log.py`), one turn each with
realistic text (about 2 KB of conversation per battle: a prompt and two markdown answers of
a few hundred words; generations with their messages, output, timings and token counts), in
store schema version 5 (rows written straight through sqlite3, as `record_to_rows` builds
them), then its Parquet peer: the columns of `arena export --format parquet` the ratings read,
written straight from SQLite (`peer`; `build --peer-only` rewrites it).

`compare` times, for each option set (default sandwich board; bootstrap 1,000 rounds; style
control), `arena.jobs.db_ratings.rate_database` (what `arena ratings --db` runs: aggregate in
SQL, expand, rate) and `ratings.manifest.rate_file` on the Parquet export with the same
options, alternating, --repeat times each; it prints the medians and their ratio (goal: SQL
within 2x of Parquet).

`postgres` copies the log into a throw-away PostgreSQL cluster (Debian's binaries) and runs
`compare` on it: the same goal on PostgreSQL.

`job` times the live leaderboard's refresh at that size (what `LeaderboardJob.refresh` runs,
without Redis): the first (full) read, then refreshes after 50 new votes each (delta read,
overall board, category boards; goal: under 1 s), then one with robustness and one style
fit (the job runs those every `style_every_s`).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fixtures

from make_synthetic_log import synthetic_battles

from arena.store import BattleLog
from arena.store.derived import speed_columns, style_columns

LOG = "log.db"
EXPORT = "battles.parquet"
WORDS = ("model", "answer", "value", "function", "list", "result", "data", "because", "the",
         "a", "of", "and", "to", "in", "is", "that", "for", "it", "with", "as", "on", "this")
START = datetime(2025, 1, 1, tzinfo=UTC)


def answer_pool(size: int, seed: int) -> list[str]:
    """Markdown answers of about 50 to 130 words (300 to 900 bytes): headers, lists, bold
    and code blocks in varying amounts."""
    chance = random.Random(seed)
    pool = []
    for _ in range(size):
        parts = []
        for _ in range(chance.randint(2, 4)):
            kind = chance.random()
            words = " ".join(chance.choice(WORDS) for _ in range(chance.randint(8, 30)))
            if kind < 0.2:
                parts.append(f"## {words[:30]}")
            elif kind < 0.5:
                parts.append("\n".join(f"- {words[i:i + 25]}" for i in range(0, 75, 25)))
            elif kind < 0.6:
                parts.append(f"```python\nprint({words[:20]!r})\n```")
            parts.append(words.replace(" of ", " **of** ", chance.randint(0, 2)))
        pool.append("\n\n".join(parts))
    return pool


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def battle_rows(count: int, seed: int, batch: int) -> Iterator[tuple[list, list, list, list]]:
    """(battles, votes, turns, generations) tuples, `batch` battles at a time."""
    frame = synthetic_battles(count, 130, seed)
    answers = answer_pool(2000, seed)
    prompts = [" ".join(random.Random(i).choice(WORDS) for _ in range(25)) + "?"
               for i in range(500)]
    rng = np.random.default_rng(seed)
    pick_a, pick_b = rng.integers(0, len(answers), count), rng.integers(0, len(answers), count)
    pick_p = rng.integers(0, len(prompts), count)
    seconds = np.sort(rng.random(count)) * 3e7
    ttft = rng.uniform(0.05, 0.9, (count, 2))
    style_cache: dict[tuple[int, int], dict] = {}
    model_a, model_b = frame["model_a"].astype(str).to_numpy(), frame["model_b"].astype(
        str).to_numpy()
    winner = frame["winner"].astype(str).to_numpy()
    tokens = frame[["tokens_a", "tokens_b"]].to_numpy(dtype=np.int64)
    params = json.dumps({"temperature": 0.7, "top_p": 0.9, "max_tokens": 1024, "seed": 1})
    for start in range(0, count, batch):
        battles, votes, turns, generations = [], [], [], []
        for i in range(start, min(start + batch, count)):
            battle_id = f"b{i:08d}"
            began = START + timedelta(seconds=float(seconds[i]))
            ended = began + timedelta(seconds=20)
            prompt = prompts[pick_p[i]]
            texts = (answers[pick_a[i]], answers[pick_b[i]])
            system = {"role": "system", "content": "You are a helpful assistant."}
            user = {"role": "user", "content": prompt}
            conversations = [[system, user, {"role": "assistant", "content": t}] for t in texts]
            key = (int(pick_a[i]), int(pick_b[i]))
            if key not in style_cache:
                style_cache[key] = style_columns(conversations[0], conversations[1], [1], [1])
            style = dict(style_cache[key])
            style["tokens_a"], style["tokens_b"] = int(tokens[i, 0]), int(tokens[i, 1])
            battles.append((battle_id, "anonymous", "voted", "vote", model_a[i], model_b[i],
                            system["content"], system["content"],
                            json.dumps(conversations[0]), json.dumps(conversations[1]),
                            _stamp(began), _stamp(ended), f"rater-{i % 20011:05d}", "weighted",
                            0.001, i, "[]", "en", None, None, 1, "0.1.0", None, None,
                            "[]", None, None, None, "[]", None,
                            *(style[c] for c in STYLE_ORDER)))
            votes.append((battle_id, winner[i], _stamp(ended), "[]", None, None))
            turns.append((battle_id, 0, 0, prompt))
            for s, side in enumerate("ab"):
                first = began + timedelta(seconds=float(ttft[i, s]))
                done = first + timedelta(seconds=5)
                completion = int(tokens[i, s])
                generations.append((
                    battle_id, 0, side, f"http://127.0.0.1:800{s}/v1",
                    (model_a, model_b)[s][i], json.dumps([system, user]), params, 1000 + s,
                    texts[s], _stamp(began), _stamp(first), _stamp(done), 40, completion,
                    "stop", None, (model_a, model_b)[s][i], None, "{}",
                    *speed_columns(began, first, done, completion).values()))
        yield battles, votes, turns, generations


STYLE_ORDER = ("tokens_a", "tokens_b", "words_a", "words_b", "headers_a", "headers_b",
               "lists_a", "lists_b", "bold_a", "bold_b")


def build(out: Path, count: int, seed: int) -> None:
    """Write the SQLite log and its Parquet export (module docstring)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOG
    if path.exists():
        sys.exit(f"{path} exists; remove it first")
    BattleLog(f"sqlite:///{path}").close()  # the schema, at the newest version
    start = time.perf_counter()
    with sqlite3.connect(path, isolation_level=None) as raw:
        raw.execute("PRAGMA synchronous=OFF")
        columns = {t: [r[1] for r in raw.execute(f"PRAGMA table_info({t})")]
                   for t in ("battle", "vote", "turn", "generation")}
        assert columns["battle"][-10:] == list(STYLE_ORDER), columns["battle"][-10:]
        for rows in battle_rows(count, seed, 20_000):
            raw.execute("BEGIN")
            for table, values in zip(("battle", "vote", "turn", "generation"), rows,
                                     strict=True):
                marks = ", ".join("?" * len(columns[table]))
                raw.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
            raw.execute("COMMIT")
    print(f"wrote {path}: {count:,} battles, {path.stat().st_size / 1e9:.2f} GB in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    peer(out)


PEER_QUERY = """
SELECT b.battle_id, b.model_a, b.model_b, v.winner, b.rater_hash AS judge, v.voted_at,
       b.mode, b.status, b.flags, b.conversation_a, b.conversation_b, b.language, b.category,
       b.pair_policy, b.pair_probability, b.labels, b.tokens_a AS completion_tokens_a,
       b.tokens_b AS completion_tokens_b
FROM battle b JOIN vote v ON v.battle_id = b.battle_id
WHERE b.status = 'voted' ORDER BY b.started_at, b.battle_id
"""


def peer(out: Path, chunk: int = 100_000) -> None:
    """Write the Parquet peer: the columns of `arena export --format parquet` that the
    ratings read (PARQUET_SCHEMA's names and types, conversations as JSON text), straight
    from SQLite. `arena export` itself ran at about 6,800 battles/s here (4+ minutes for this
    log; #15.3 makes it faster), too slow for this run; the content is the same."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from arena.transfer.parquet import PARQUET_SCHEMA

    start = time.perf_counter()
    writer = None
    with sqlite3.connect(out / LOG) as raw:
        cursor = raw.execute(PEER_QUERY)
        names = [d[0] for d in cursor.description]
        while rows := cursor.fetchmany(chunk):
            frame = pd.DataFrame.from_records(rows, columns=names)
            stamps = pd.to_datetime(frame.pop("voted_at"), utc=True, format="ISO8601")
            frame["tstamp"] = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
            for column in ("flags", "labels"):
                frame[column] = frame[column].map(json.loads)
            schema = pa.schema([PARQUET_SCHEMA.field(name) for name in frame.columns])
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            writer = writer or pq.ParquetWriter(out / EXPORT, schema)
            writer.write_table(table)
    if writer is not None:
        writer.close()
    print(f"wrote {out / EXPORT} ({(out / EXPORT).stat().st_size / 1e9:.2f} GB) in "
          f"{time.perf_counter() - start:.0f} s", flush=True)


OPTION_SETS = {
    "default": {},  # Bradley–Terry, sandwich intervals
    "bootstrap": {"ci": "bootstrap", "rounds": 1000},
    "style": {"style": True},  # 4 features, sandwich intervals
}


def compare(folder: Path, repeat: int, names: list[str], url: str | None = None) -> None:
    """Median seconds of `arena ratings --db` (SQL; the folder's SQLite log unless `url`)
    and of the Parquet export, per option set, measured alternately in this process."""
    from arena.jobs.db_ratings import rate_database
    from ratings.manifest import rate_file
    from ratings.options import RatingOptions

    url = url or f"sqlite:///{folder / LOG}"
    print(f"{'options':30} {'SQL s':>8} {'Parquet s':>10} {'ratio':>6}  aggregated rows")
    for name in names:
        options = RatingOptions(**OPTION_SETS[name])
        sql_times, file_times, rows = [], [], 0
        for _ in range(repeat):
            start = time.perf_counter()
            with BattleLog(url) as log:
                _, source = rate_database(log, options)
            sql_times.append(time.perf_counter() - start)
            rows = len(source.rows)
            start = time.perf_counter()
            rate_file(folder / EXPORT, options)
            file_times.append(time.perf_counter() - start)
        sql, parquet = statistics.median(sql_times), statistics.median(file_times)
        print(f"{name:30} {sql:8.2f} {parquet:10.2f} {sql / parquet:6.2f}  {rows:,}",
              flush=True)


def postgres(folder: Path, repeat: int, names: list[str]) -> None:
    """Copy the SQLite log into a throw-away PostgreSQL cluster under `folder` (Debian's
    binaries, fsync off for the load; `COPY` table by table, the vote's commit key set by its
    trigger), ANALYZE it, then time `rate_database` on it against the Parquet peer, as
    `compare` does for SQLite. The cluster is removed at the end."""
    import psycopg
    from fixtures.deployment import LocalPostgres
    from sqlalchemy.engine import make_url

    with LocalPostgres(folder, fsync=False) as cluster:
        url = cluster.create_database("arena_scale")
        BattleLog(url).close()  # the schema, at the newest version
        target = make_url(url)
        start = time.perf_counter()
        with sqlite3.connect(f"file:{folder / LOG}?mode=ro", uri=True) as source, \
                psycopg.connect(host=target.query["host"], port=int(target.query["port"]),
                                user="postgres", dbname=target.database) as connection:
            connection.execute("SET TIME ZONE 'UTC'")
            for table in ("battle", "vote", "turn", "generation"):
                columns = [r[1] for r in source.execute(f"PRAGMA table_info({table})")
                           if r[1] != "commit_key"]
                names_sql = ", ".join(f'"{c}"' for c in columns)
                rows = source.execute(f"SELECT {names_sql} FROM {table}")
                with connection.cursor().copy(
                        f"COPY {table} ({names_sql}) FROM STDIN") as copy:
                    while chunk := rows.fetchmany(10_000):
                        for row in chunk:
                            copy.write_row(row)
                connection.commit()
                print(f"copied {table} ({time.perf_counter() - start:.0f} s)", flush=True)
            connection.execute("ANALYZE")
            connection.commit()
        print(f"PostgreSQL log ready in {time.perf_counter() - start:.0f} s", flush=True)
        compare(folder, repeat, names, url)


def job(folder: Path, repeat: int) -> None:
    """The live board's refresh at the log's size: the first update (reads everything), then
    refreshes after 50 new votes each (delta read + overall board with robustness + category
    boards, written with their manifests), and one style fit."""
    import tempfile
    from dataclasses import replace

    from arena.jobs.live_board import LiveCounts, rate_categories, rate_overall, rate_style

    url = f"sqlite:///{folder / LOG}"
    common = {"provisional_votes": 300, "model_states": ()}
    with BattleLog(url) as log, tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        counts = LiveCounts()
        start = time.perf_counter()
        source = counts.update(log)
        first_read = time.perf_counter() - start
        rate_overall(source, common, out, "first.json")
        first = time.perf_counter() - start
        print(f"first refresh: {first:.2f} s (full read {first_read:.2f} s, "
              f"{len(source.rows):,} aggregated rows, {len(source.speeds):,} generations)",
              flush=True)
        template = [log.get_battle(f"b{i:08d}") for i in range(50)]
        reads, totals = [], []
        for round_ in range(repeat):
            stamp = time.time_ns()
            log.record_battles([replace(b, battle_id=f"job-{stamp}-{i}")
                                for i, b in enumerate(template)])
            start = time.perf_counter()
            source = counts.update(log)
            reads.append(time.perf_counter() - start)
            rate_overall(source, common, out, f"board-{round_}.json", robustness=False)
            rate_categories(source, common, 50, out / f"categories-{round_}.json")
            totals.append(time.perf_counter() - start)
        print(f"refresh after 50 votes: median {statistics.median(totals):.2f} s over "
              f"{repeat} (delta read {statistics.median(reads) * 1000:.0f} ms)", flush=True)
        start = time.perf_counter()
        rate_overall(source, common, out, "robust.json", robustness=True)
        print(f"the same with robustness: {time.perf_counter() - start:.2f} s", flush=True)
        start = time.perf_counter()
        rate_style(log, counts.below, (), common, out / "style.json")
        print(f"style fit (full read, battle by battle): {time.perf_counter() - start:.2f} s",
              flush=True)


def median_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("build")
    make.add_argument("--out", type=Path, default=Path("/tmp/arena-scale/s1"))
    make.add_argument("--battles", type=int, default=1_700_000)
    make.add_argument("--seed", type=int, default=20240601)
    make.add_argument("--peer-only", action="store_true",
                      help="Only (re)write the Parquet peer of an existing log.")
    for name in ("compare", "job", "postgres"):
        command = sub.add_parser(name)
        command.add_argument("folder", type=Path)
        command.add_argument("--repeat", type=int, default=3)
        command.add_argument("--options", default=",".join(OPTION_SETS),
                             help="Comma-separated option sets: " + ", ".join(OPTION_SETS))
    args = parser.parse_args()
    if args.command == "build" and args.peer_only:
        peer(args.out)
    elif args.command == "build":
        build(args.out, args.battles, args.seed)
    elif args.command == "compare":
        compare(args.folder, args.repeat, args.options.split(","))
    elif args.command == "postgres":
        postgres(args.folder, args.repeat, args.options.split(","))
    else:
        job(args.folder, args.repeat)


if __name__ == "__main__":
    main()
