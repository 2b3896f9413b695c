"""Cost of the board's robustness figures next to one plain Bradley–Terry fit, in one run.

On a synthetic log (`make_synthetic_log.synthetic_battles`: Bradley–Terry outcomes, 15 % ties,
5 % both-bad, zipf-like pair frequencies; 100,000 battles among 20 models by default) it times,
as the median over --repeat runs (wall and CPU seconds of this process):

- fit: aggregate the selected battles + one penalised BT fit (`count_battles`, `fit_bt`),
- robustness: aggregate + `ratings.robustness.board_robustness` (swap costs of rank 1 and of
  every adjacent pair; exact where at most --exact-limit refits prove it, greedy otherwise),

and prints their ratio, then the figures themselves: votes per pair, which are exact, and a
check that every reported removal, refitted, does swap its pair.

    .venv/bin/python benchmarks/ratings_robustness.py
    .venv/bin/python benchmarks/ratings_robustness.py --battles 1000000 --models 60 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from make_synthetic_log import synthetic_battles

from ratings import count_battles, fit_bt, select_battles
from ratings.robustness import EXACT_LIMIT, SWAP_TOLERANCE, board_robustness


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds over `repeat` runs, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--exact-limit", type=int, default=EXACT_LIMIT)
    args = parser.parse_args()

    battles = select_battles(synthetic_battles(args.battles, args.models, args.seed)).battles
    print(f"{len(battles):,} battles used among {args.models} models; median of "
          f"{args.repeat} runs")
    fit_wall, fit_cpu, _ = timed(lambda: fit_bt(count_battles(battles)), args.repeat)
    rob_wall, rob_cpu, result = timed(
        lambda: board_robustness(count_battles(battles), exact_limit=args.exact_limit),
        args.repeat)
    print(f"{'':12}{'wall s':>10}{'cpu s':>10}")
    print(f"{'fit':12}{fit_wall:>10.4f}{fit_cpu:>10.4f}")
    print(f"{'robustness':12}{rob_wall:>10.4f}{rob_cpu:>10.4f}")
    print(f"ratio robustness / fit: {rob_wall / fit_wall:.0f}x wall, "
          f"{rob_cpu / fit_cpu:.0f}x cpu")

    costs = [result.leader, *result.adjacent]
    print(f"\n{result.headline()} (challenger: {result.leader.lower})")
    for rank, cost in enumerate(result.adjacent, start=1):
        print(f"  #{rank:<3} {cost.upper} over {cost.lower}: {cost.votes} votes "
              f"({'exact' if cost.exact else 'upper bound'})")
    verified = all(c.gap_after <= SWAP_TOLERANCE for c in costs)
    print(f"exact: {sum(c.exact for c in costs)} of {len(costs)}; every removal refitted "
          f"swaps its pair: {verified}")


if __name__ == "__main__":
    main()
