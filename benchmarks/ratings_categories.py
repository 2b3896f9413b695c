"""Cost of the live board's per-category boards beside the overall board, on a labelled release.

Writes a public-release-shaped JSONL log (`make_synthetic_log.synthetic_battles` plus labels,
pair probabilities and per-turn timings; 100,000 battles among 30 models by default) into a
temporary folder and times, as the median over --repeat runs (wall and CPU seconds of this
process):

- read: `ratings.read_battles` of the release (once per refresh in the job),
- overall: the job's main board (`--style --robustness`, sandwich CIs),
- categories: `--by category --min-votes 50 --allow-disconnected` (one board per label and
  the overall board the rank changes are counted against),
- snapshot: `arena.jobs.leaderboard.rate_snapshot`, all of it with the files it writes.

Labels per battle (independent draws): one `lang:` code (en 55 %, then zh, es, ru, de, fr,
ja, pt, ko, it, ar, hi), `code` 20 %, `math` 8 %, `multi_turn` 15 %, `long_query` 10 %, each
`hard:` criterion 30 %, `hard_prompt` 12 %: 24 labels.

    .venv/bin/python benchmarks/ratings_categories.py
    .venv/bin/python benchmarks/ratings_categories.py --battles 300000 --models 60 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from make_synthetic_log import synthetic_battles

from arena.jobs.leaderboard import rate_snapshot
from ratings import RatingOptions, read_battles
from ratings.manifest import rate_read_frame
from ratings.options import STYLE_FEATURES

LANGUAGES = {"en": 0.55, "zh": 0.1, "es": 0.06, "ru": 0.05, "de": 0.04, "fr": 0.04,
             "ja": 0.04, "pt": 0.03, "ko": 0.03, "it": 0.02, "ar": 0.02, "hi": 0.02}
LABEL_SHARES = {"code": 0.2, "math": 0.08, "multi_turn": 0.15, "long_query": 0.1,
                "hard_prompt": 0.12, **{f"hard:{c}": 0.3 for c in (
                    "specificity", "domain_knowledge", "complexity", "problem_solving",
                    "creativity", "technical_accuracy", "real_world")}}


def write_release(path: Path, battles: int, models: int, seed: int) -> int:
    """The synthetic log as release lines; returns the number of distinct labels."""
    frame = synthetic_battles(battles, models, seed)
    rng = np.random.default_rng(seed + 1)
    languages = rng.choice(list(LANGUAGES), size=battles,
                           p=np.array(list(LANGUAGES.values())) / sum(LANGUAGES.values()))
    drawn = {label: rng.random(battles) < share for label, share in LABEL_SHARES.items()}
    probability = rng.uniform(0.001, 0.02, battles)
    ttft = rng.lognormal(-1.5, 0.5, (battles, 2))
    decode = rng.lognormal(3.5, 0.3, (battles, 2))
    seen: set[str] = set()
    with path.open("w", encoding="utf-8") as out:
        for row, record in enumerate(frame.astype({"model_a": str, "model_b": str,
                                                   "winner": str}).to_dict("records")):
            labels = sorted([f"lang:{languages[row]}",
                             *(label for label, hit in drawn.items() if hit[row])])
            seen.update(labels)
            line = {key: record[key] for key in ("model_a", "model_b", "winner")}
            line.update(mode="anonymous", category=None, labels=labels,
                        pair_probability=float(probability[row]))
            for side, column in (("a", 0), ("b", 1)):
                tokens = int(record[f"tokens_{side}"])
                line[f"timings_{side}"] = [{
                    "started_at": 0.0, "first_token_at": round(ttft[row, column], 3),
                    "finished_at": round(ttft[row, column] + tokens / decode[row, column], 3),
                    "completion_tokens": tokens}]
                for feature in STYLE_FEATURES:
                    line[f"{feature}_{side}"] = int(record[f"{feature}_{side}"])
            out.write(json.dumps(line) + "\n")
    return len(seen)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds over `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        release = Path(folder) / "release.jsonl"
        labels = write_release(release, args.battles, args.models, args.seed)
        print(f"{args.battles:,} battles among {args.models} models, {labels} labels, "
              f"{release.stat().st_size / 1e6:.0f} MB; median of {args.repeat} runs")
        frame = read_battles(release)
        overall = RatingOptions(ci="sandwich", style=True, robustness=True)
        per_label = RatingOptions(ci="sandwich", allow_disconnected=True, min_votes=50)
        rows = {
            "read": timed(lambda: read_battles(release), args.repeat),
            "overall": timed(lambda: rate_read_frame(release, frame, overall, None),
                             args.repeat),
            "categories": timed(lambda: rate_read_frame(release, frame, per_label,
                                                        "category"), args.repeat),
            "snapshot": timed(lambda: rate_snapshot(release, Path(folder) / "board.json"),
                              args.repeat),
        }
    print(f"{'':12}{'wall s':>10}{'cpu s':>10}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:12}{wall:>10.2f}{cpu:>10.2f}")
    print(f"categories / overall: {rows['categories'][0] / rows['overall'][0]:.1f}x wall")


if __name__ == "__main__":
    main()
