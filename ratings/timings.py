"""Serving speed from the logged generations: time to first token and tokens per second.

Per generation (one side of one turn), from the times the arena logs
(`serving.records.GenerationRecord`):

    ttft_s       = first_token_at - started_at                         (seconds)
    tokens_per_s = completion_tokens / (finished_at - first_token_at)  (decode speed)

A generation lacking a time, or with no time between the first token and the end, gives no
value. The board reports each model's median over its generations (`per_model_speed`).
Timings are read from our export's `turns` (`generation_a/_b`) or from `timings_a/_b` lists
of the same per-generation keys; a time is an ISO 8601 string or epoch seconds.
"""

from __future__ import annotations

from datetime import datetime
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

SPEED_COLUMNS = ("median_ttft_s", "tokens_per_s")


def _seconds(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def generation_speed(generation: dict[str, Any]) -> tuple[float, float]:
    """(ttft_s, tokens_per_s) of one generation; NaN where the log lacks what is needed."""
    started = _seconds(generation.get("started_at"))
    first = _seconds(generation.get("first_token_at"))
    finished = _seconds(generation.get("finished_at"))
    tokens = generation.get("completion_tokens")
    ttft = first - started if started is not None and first is not None else np.nan
    speed = np.nan
    if first is not None and finished is not None and finished > first \
            and isinstance(tokens, (int, float)) and tokens > 0:
        speed = float(tokens) / (finished - first)
    return float(ttft), float(speed)


def side_timings(turns: list[dict] | None, timings: list[dict] | None, side: str
                 ) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """One side's (ttft_s per turn, tokens_per_s per turn), or None without any timing."""
    if timings is None and turns:
        timings = [turn.get(f"generation_{side}") or {} for turn in turns]
    if not timings:
        return None
    speeds = [generation_speed(g) for g in timings if isinstance(g, dict)]
    if not speeds:
        return None
    return tuple(t for t, _ in speeds), tuple(s for _, s in speeds)


def per_model_speed(battles: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Median ttft_s and tokens_per_s per model over its generations in `battles` (the
    `ttft_s_a/_b`, `tokens_per_s_a/_b` tuple columns); NaN for a model without any."""
    out = pd.DataFrame(index=pd.Index(models, name="model"),
                       columns=list(SPEED_COLUMNS), dtype=float)
    for column in SPEED_COLUMNS:
        names, values = [], []
        for side in ("a", "b"):
            source = f"ttft_s_{side}" if column == "median_ttft_s" else f"tokens_per_s_{side}"
            if source in battles.columns:
                side_names, side_values = _flatten(battles[f"model_{side}"], battles[source])
                names.append(side_names)
                values.append(side_values)
        if not names:
            continue
        data = pd.DataFrame({"model": np.concatenate(names), "value": np.concatenate(values)})
        medians = data.dropna().groupby("model")["value"].median()
        out[column] = medians.reindex(out.index).to_numpy(dtype=float)
    return out


def _flatten(models: pd.Series, timings: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(model name per generation, value per generation) from a column of per-turn tuples
    (anything else: no generation). The values are gathered by C iteration, not per row."""
    tuples = [v if type(v) is tuple else () for v in timings.tolist()]
    lengths = np.fromiter(map(len, tuples), dtype=np.int64, count=len(tuples))
    flat = np.fromiter(chain.from_iterable(tuples), dtype=float, count=int(lengths.sum()))
    codes, names = pd.factorize(models)
    names = np.asarray(names, dtype=object).astype(str)
    return names[np.repeat(codes, lengths)], flat
