"""Speed of the ratings engine next to evalica and arena-rank, in one run.

Needs the benchmark venv (`make bench-venv`) and the synthetic log
(`benchmarks/make_synthetic_log.py`). Reports the median wall time over --repeat runs:

- ours: read Parquet + aggregate + BT fit + sandwich CI + bootstrap (--rounds rounds),
- evalica.bradley_terry point fit alone (data already in memory),
- arena-rank PairDataset.from_pandas + BradleyTerry sandwich CI (data already in memory),
- ours: style control (4 features) with --style-rounds bootstrap rounds on the first
  --style-battles row-level battles.

Each row gives the median wall time and the median CPU time of the process (all threads).

    .venv-bench/bin/python benchmarks/ratings_speed.py /tmp/arena-bench/battles.parquet
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def timed(fn: Callable[[], object], repeat: int) -> tuple[tuple[float, float], object]:
    """Median wall seconds and median CPU seconds of this process (all its threads) over
    `repeat` runs, and the last result. CPU time shows the work done when other jobs on a
    shared machine stretch the wall time."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return (statistics.median(walls), statistics.median(cpus)), result


def ours_pipeline(path: Path, rounds: int):
    from ratings import bootstrap_bt, count_battles, fit_bt, read_battles, select_battles

    frame = read_battles(path, columns=["model_a", "model_b", "winner", "status", "mode"])
    counts = count_battles(select_battles(frame).battles)
    fit = fit_bt(counts)
    covariance = fit.sandwich_covariance()
    draws = bootstrap_bt(counts, fit, rounds=rounds, seed=0)
    return counts, fit, covariance, draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parquet", type=Path)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--style-battles", type=int, default=1_000_000)
    parser.add_argument("--style-rounds", type=int, default=100)
    parser.add_argument("--skip", default="", help="comma list: evalica,arena-rank,style")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    rows = []

    frame = pd.read_parquet(args.parquet, columns=["model_a", "model_b", "winner"])
    frame = frame.astype({"model_a": str, "model_b": str, "winner": str})
    frame = frame.replace({"winner": {"tie (bothbad)": "tie"}})

    def run_ours():
        return ours_pipeline(args.parquet, args.rounds)

    run_evalica = None
    if "evalica" not in skip:
        import evalica

        winners = frame["winner"].map({"model_a": evalica.Winner.X, "model_b": evalica.Winner.Y,
                                       "tie": evalica.Winner.Draw}).tolist()
        xs, ys = frame["model_a"].tolist(), frame["model_b"].tolist()

        def run_evalica():
            return evalica.bradley_terry(xs, ys, winners)

    # Ours and evalica alternate, so that a slow stretch of this shared machine hits both;
    # the ratio is the median of the per-repeat ratios.
    ours_runs, evalica_runs, ratios = [], [], []
    for _ in range(args.repeat):
        ours_seconds, (counts, fit, _, draws) = timed(run_ours, 1)
        ours_runs.append(ours_seconds)
        if run_evalica is not None:
            evalica_seconds, result = timed(run_evalica, 1)
            evalica_runs.append(evalica_seconds)
            ratios.append(ours_seconds[0] / evalica_seconds[0])

    def medians(runs):
        return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)

    rows.append(("ours: read Parquet + BT + sandwich + "
                 f"{args.rounds}-round bootstrap", medians(ours_runs)))
    print(f"{counts.n_battles:,.0f} battles, {counts.n_models} models, "
          f"{len(counts.count):,} aggregated rows", flush=True)
    if run_evalica is not None:
        rows.append(("evalica 0.4.2: bradley_terry point fit (lists in memory)",
                     medians(evalica_runs)))
        theirs = np.log(result.scores.reindex(counts.models).to_numpy())
        gap = np.max(np.abs((theirs - theirs.mean()) - fit.theta))
        print(f"evalica vs ours: max |log-strength difference| = {gap:.2e}", flush=True)
        print(f"ours / evalica wall time, median of {len(ratios)} alternating runs: "
              f"{statistics.median(ratios):.2f} (runs: "
              f"{', '.join(f'{r:.2f}' for r in ratios)})", flush=True)

    if "arena-rank" not in skip:
        from arena_rank.models.bradley_terry import BradleyTerry
        from arena_rank.utils.data_utils import PairDataset

        def arena_rank_sandwich():
            dataset = PairDataset.from_pandas(frame)
            model = BradleyTerry(n_competitors=len(dataset.competitors))
            return dataset, model.compute_ratings_and_cis(dataset, ci_method="sandwich")

        seconds, (dataset, result) = timed(arena_rank_sandwich, args.repeat)
        rows.append(("arena-rank 0.1.1: PairDataset + BT fit + sandwich (frame in memory)",
                     seconds))
        theirs = np.asarray(result["ratings"], dtype=float)
        order = [list(dataset.competitors).index(m) for m in counts.models]
        ours = 400 / np.log(10) * fit.theta
        gap = np.max(np.abs((theirs[order] - theirs.mean()) - ours))
        print(f"arena-rank vs ours: max |rating difference| = {gap:.3f} Elo points", flush=True)

    if "style" not in skip:
        from ratings import compute_leaderboard, read_battles

        battles = read_battles(args.parquet).iloc[: args.style_battles]

        def style():
            return compute_leaderboard(battles, style=True, ci="bootstrap",
                                       rounds=args.style_rounds, seed=0)

        seconds, board = timed(style, 1)
        rows.append((f"ours: style control, {args.style_rounds}-round bootstrap, "
                     f"{len(battles):,} battles (1 run)", seconds))
        print(board.style_coefficients.to_string(index=False), flush=True)

    width = max(len(name) for name, _ in rows)
    print(f"\n| {'step'.ljust(width)} | median wall s | median CPU s |")
    print(f"|{'-' * (width + 2)}|--------------:|-------------:|")
    for name, (wall, cpu) in rows:
        print(f"| {name.ljust(width)} | {wall:13.2f} | {cpu:12.2f} |")


if __name__ == "__main__":
    main()
