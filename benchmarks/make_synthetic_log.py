"""Write a synthetic battle log for benchmarks: 1.7 M battles among 130 models (defaults).

Pairs are drawn with zipf-like frequencies (the k-th most common of the 8,385 unordered pairs
has weight 1 / k), sides are a fair coin, and outcomes follow Bradley–Terry with true
log-strengths ~ N(0, 0.6^2), a planted length effect (+0.3 logits per SD of the normalised
token difference) and ties (15 %) and both-bad votes (5 %). Style-feature columns are included
so the same file serves the style-control benchmark. Deterministic for a given --seed.

    .venv-bench/bin/python benchmarks/make_synthetic_log.py --out /tmp/arena-bench/battles.parquet
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd


def synthetic_battles(battles: int, models: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([f"model-{i:03d}" for i in range(models)])
    theta = rng.normal(0, 0.6, models)
    first, second = np.triu_indices(models, k=1)
    weights = 1.0 / np.arange(1, len(first) + 1)
    rng.shuffle(weights)
    pair = rng.choice(len(first), size=battles, p=weights / weights.sum())
    swap = rng.random(battles) < 0.5
    a = np.where(swap, second[pair], first[pair])
    b = np.where(swap, first[pair], second[pair])
    tokens_a = rng.lognormal(5.5, 0.7, battles).round()
    tokens_b = rng.lognormal(5.5, 0.7, battles).round()
    diff = (tokens_a - tokens_b) / (tokens_a + tokens_b + 1)
    logit = theta[a] - theta[b] + 0.3 * (diff - diff.mean()) / diff.std()
    u = rng.random(battles)
    winner = np.where(rng.random(battles) < 1 / (1 + np.exp(-logit)), "model_a", "model_b")
    winner = np.where(u < 0.15, "tie", np.where(u < 0.20, "tie (bothbad)", winner))
    return pd.DataFrame({
        "model_a": pd.Categorical(names[a], categories=names),
        "model_b": pd.Categorical(names[b], categories=names),
        "winner": pd.Categorical(winner),
        "judge": pd.Categorical(np.char.add("judge-", rng.integers(0, 20000, battles).astype(str))),
        "tstamp": 1.7e9 + np.sort(rng.random(battles)) * 3e7,
        "mode": pd.Categorical(np.full(battles, "anonymous")),
        "status": pd.Categorical(np.full(battles, "voted")),
        "tokens_a": tokens_a, "tokens_b": tokens_b,
        "headers_a": rng.poisson(1.0, battles), "headers_b": rng.poisson(1.0, battles),
        "lists_a": rng.poisson(3.0, battles), "lists_b": rng.poisson(3.0, battles),
        "bold_a": rng.poisson(2.0, battles), "bold_b": rng.poisson(2.0, battles),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=1_700_000)
    parser.add_argument("--models", type=int, default=130)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--out", type=Path, default=Path("/tmp/arena-bench/battles.parquet"))
    args = parser.parse_args()
    start = time.perf_counter()
    frame = synthetic_battles(args.battles, args.models, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(args.out, index=False)
    print(f"wrote {args.out}: {len(frame):,} battles, {args.models} models, "
          f"{args.out.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
