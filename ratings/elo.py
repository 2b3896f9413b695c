"""Online Elo (Elo 1978): one pass over the battles in time order.

For a battle between a (rating R_a) and b (R_b), with S_a = 1 for an a-win, 0 for a loss and
1/2 for a tie::

    E_a = 1 / (1 + base ** ((R_b - R_a) / scale)),    R_a += K (S_a - E_a),
    E_b = 1 - E_a,                                   R_b += K ((1 - S_a) - E_b).

Both updates use the ratings from before the battle. The result depends on the order of the
battles: they are processed by `tstamp` (stable, so equal stamps keep file order) or in file
order when there is no `tstamp` column. Prefer Bradley–Terry for a leaderboard; online Elo is
here for comparison with other tools and for watching ratings move over time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ratings.prepare import A_WINS, B_WINS


def online_elo(
    battles: pd.DataFrame,
    k: float = 4.0,
    base: float = 10.0,
    scale: float = 400.0,
    initial: float = 1000.0,
    models: list[str] | None = None,
) -> pd.Series:
    """Online Elo ratings after one pass over `battles` (columns `model_a`, `model_b`, and
    `outcome` codes from `ratings.select_battles` or a `winner` column).

    Returns a Series of final ratings indexed by model name (sorted).
    """
    if "outcome" in battles.columns:
        outcome = battles["outcome"].to_numpy()
    else:
        winner = battles["winner"].astype(str).to_numpy()
        outcome = np.select([winner == "model_a", winner == "model_b"], [A_WINS, B_WINS], 2)
    order = np.arange(len(battles))
    if "tstamp" in battles.columns and battles["tstamp"].notna().all():
        order = np.argsort(battles["tstamp"].to_numpy(dtype=float), kind="stable")
    names_a = battles["model_a"].astype(str).to_numpy()
    names_b = battles["model_b"].astype(str).to_numpy()
    models = models or sorted(set(names_a) | set(names_b))
    index = {m: i for i, m in enumerate(models)}
    a = np.array([index[x] for x in names_a])[order].tolist()
    b = np.array([index[x] for x in names_b])[order].tolist()
    s = np.select([outcome == A_WINS, outcome == B_WINS], [1.0, 0.0], 0.5)[order].tolist()
    ratings = [float(initial)] * len(models)
    for i, j, score in zip(a, b, s, strict=True):
        ri, rj = ratings[i], ratings[j]
        expected_i = 1.0 / (1.0 + base ** ((rj - ri) / scale))
        expected_j = 1.0 / (1.0 + base ** ((ri - rj) / scale))
        ratings[i] = ri + k * (score - expected_i)
        ratings[j] = rj + k * ((1.0 - score) - expected_j)
    return pd.Series(ratings, index=pd.Index(models, name="model"), name="elo")
