"""How fast `arena import` and `arena export` move battles on SQLite, and how much memory they use.

    nice -n 19 .venv/bin/python benchmarks/transfer_speed.py [--battles 200000]
        [--workdir /tmp/arena-scale/transfer] [--before DIR --sample 20000]

Writes a JSONL file of `--battles` synthetic one-turn battles (about 2 KB of conversation each:
a 250-character prompt, two 900-character answers; 130 models) once, then, each step in its
own process (so its peak RSS is its own):

    import jsonl      the JSONL file into an empty SQLite log
    export jsonl / parquet / fastchat   that log to each format
    import fastchat   the FastChat JSON list into an empty log (the streaming-parser case)
    import parquet    the Parquet export into an empty log

and prints, per step, battles per second of wall time and per second of CPU time of that
process (the machine may be shared: CPU time is what the step itself cost) and its peak RSS.
Imports run in one process (`--workers 1`), so their CPU time is all of it; the "/2" steps
run the same import with two worker processes (arena.transfer.prepare), whose CPU time is not
counted: compare their wall time.
With `--before DIR` (a copy of an older tree, e.g.
`git archive <commit> arena serving ratings | tar -x -C DIR`) the same steps run with that
code on the first `--sample` battles, in the same run, and the ratios are printed: the
comparison the goal (#15: >= 50,000 battles/s, RSS < 1 GB) is judged by.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("the of and to in is that for it as with was on be by this are model answer code "
         "function value list error return first second data time because which would "
         "question example result python number string").split()
STEPS = ("import jsonl", "import jsonl/2", "export jsonl", "export parquet", "export fastchat",
         "import fastchat", "import fastchat/2", "import parquet")


def _text(rng: random.Random, characters: int) -> str:
    words: list[str] = []
    length = 0
    while length < characters:
        words.append(rng.choice(WORDS))
        length += len(words[-1]) + 1
    return " ".join(words)


def _generation(model: str, messages: list, output: str, at: datetime, seed: int) -> dict:
    return {
        "endpoint": "http://127.0.0.1:8001/v1", "served_model": model, "messages": messages,
        "params": {"temperature": 0.7, "top_p": 0.9, "max_tokens": 1024, "seed": seed},
        "seed": seed, "output": output, "started_at": at.isoformat(),
        "first_token_at": (at + timedelta(milliseconds=90)).isoformat(),
        "finished_at": (at + timedelta(seconds=4)).isoformat(),
        "prompt_tokens": 70, "completion_tokens": len(output) // 4, "finish_reason": "stop",
        "system_fingerprint": None, "response_model": model, "error": None, "extra": {},
    }


def synthetic_record(index: int) -> dict:
    """One voted one-turn battle as an `arena export` JSONL line's dict."""
    rng = random.Random(index)
    a, b = rng.sample(range(130), 2)
    model_a, model_b = f"model-{a:03d}", f"model-{b:03d}"
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=index * 7, microseconds=index)
    prompt = _text(rng, 250)
    answers = (_text(rng, 900), _text(rng, 900))
    system = {"role": "system", "content": "You are a helpful assistant."}
    user = {"role": "user", "content": prompt}
    sent = [system, user]
    return {
        "schema_version": 1, "app_version": "bench", "battle_id": f"bench-{index:08d}",
        "mode": "anonymous", "status": "voted", "end_reason": "vote",
        "model_a": model_a, "model_b": model_b,
        "winner": rng.choice(("model_a", "model_b", "tie", "tie (bothbad)")),
        "system_prompt_a": system["content"], "system_prompt_b": system["content"],
        "conversation_a": [system, user, {"role": "assistant", "content": answers[0]}],
        "conversation_b": [system, user, {"role": "assistant", "content": answers[1]}],
        "turns": [{"index": 0, "prompt": prompt,
                   "generation_a": _generation(model_a, sent, answers[0], start, 2 * index),
                   "generation_b": _generation(model_b, sent, answers[1], start, 2 * index + 1)}],
        "started_at": start.isoformat(), "ended_at": (start + timedelta(seconds=30)).isoformat(),
        "voted_at": (start + timedelta(seconds=30)).isoformat(),
        "rater_hash": f"rater-{rng.randrange(20000):05d}", "pair_policy": "uniform",
        "pair_probability": 1 / 8385, "side_seed": index, "flags": [], "language": "English",
        "category": None, "replay_of": None,
    }


def write_source(path: Path, battles: int) -> None:
    import orjson

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with open(partial, "wb") as out:
        for index in range(battles):
            out.write(orjson.dumps(synthetic_record(index)) + b"\n")
    partial.replace(path)


STEP_SCRIPT = r"""
import json, resource, sys, time
from pathlib import Path
from arena.store import BattleLog
step, source, db, out = sys.argv[1:5]
step, _, workers = step.partition("/")
log = BattleLog(f"sqlite:///{db}")
wall, cpu = time.perf_counter(), time.process_time()
if step.startswith("import"):
    from arena.transfer.importer import import_file
    import inspect
    # One process unless the step says how many workers (older trees have no workers).
    options = ({"workers": int(workers or 1)}
               if "workers" in inspect.signature(import_file).parameters else {})
    count = import_file(Path(source), log, **options).inserted
else:
    from arena.transfer.export import export_battles
    count = export_battles(log, step.split()[1], Path(out), progress=False)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
log.close()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"battles": count, "wall_s": wall, "cpu_s": cpu, "rss_mb": rss}))
"""


def run_step(code: Path, step: str, source: Path, db: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, "-c", STEP_SCRIPT, step, str(source), str(db),
                           str(out)], capture_output=True, text=True, env=env, cwd=code,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"{step} with {code} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_all(code: Path, source: Path, folder: Path, steps: tuple[str, ...]) -> dict:
    """Every step with the code at `code`, in `folder`; files removed as soon as unused."""
    folder.mkdir(parents=True, exist_ok=True)
    log, results = folder / "log.db", {}
    files = {fmt: folder / f"export.{fmt}" for fmt in ("jsonl", "parquet", "fastchat")}
    for step in steps:
        kind, fmt = step.split("/")[0].split()
        if kind == "export":
            results[step] = run_step(code, step, source, log, files[fmt])
            continue
        target = log if fmt == "jsonl" else folder / f"copy-{fmt}.db"
        _remove_db(target)
        results[step] = run_step(code, step, source if fmt == "jsonl" else files[fmt], target,
                                 folder / "unused")
        if target != log:
            _remove_db(target)
    for path in [*files.values(), log]:
        _remove_db(path)
    return results


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=200_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/arena-scale/transfer"))
    parser.add_argument("--before", type=Path, help="a tree of older code to compare with")
    parser.add_argument("--sample", type=int, default=20_000,
                        help="battles the --before code moves (it is slower)")
    args = parser.parse_args()
    source = args.workdir / f"source-{args.battles}.jsonl"
    if not source.exists():
        began = time.perf_counter()
        write_source(source, args.battles)
        print(f"wrote {source} ({source.stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - began:.0f} s")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    runs = {"now": run_all(ROOT, source, args.workdir / "now", STEPS)}
    if args.before:
        sample = args.workdir / f"source-{args.sample}.jsonl"
        if not sample.exists():
            write_source(sample, args.sample)
        before_steps = tuple(step for step in STEPS if step != "import parquet" and "/" not in step)
        runs["before"] = run_all(args.before.resolve(), sample, args.workdir / "before",
                                 before_steps)
        runs["now (sample)"] = run_all(ROOT, sample, args.workdir / "now-sample", before_steps)
    report(runs)
    peak = max(result["rss_mb"] for result in runs["now"].values())
    print(f"peak RSS of any step now: {peak:.0f} MB; load average {os.getloadavg()[0]:.1f}")


def report(runs: dict) -> None:
    print(f"{'step':18s} {'code':13s} {'battles':>9s} {'wall/s':>9s} {'cpu/s':>9s} "
          f"{'RSS MB':>7s}")
    for step in STEPS:
        for name, results in runs.items():
            if step in results:
                r = results[step]
                print(f"{step:18s} {name:13s} {r['battles']:9d} "
                      f"{r['battles'] / r['wall_s']:9.0f} {r['battles'] / r['cpu_s']:9.0f} "
                      f"{r['rss_mb']:7.0f}")
        if "before" in runs and step in runs["before"]:
            old, new = runs["before"][step], runs["now (sample)"][step]
            print(f"{'':18s} {'ratio now/before (same sample)':30s} wall "
                  f"{(new['battles'] / new['wall_s']) / (old['battles'] / old['wall_s']):.1f}x, "
                  f"cpu {(new['battles'] / new['cpu_s']) / (old['battles'] / old['cpu_s']):.1f}x")


if __name__ == "__main__":
    main()
