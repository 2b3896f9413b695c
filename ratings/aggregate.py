"""Aggregation first: identical (model_a, model_b, outcome) rows become one row with a count.

Every Bradley–Terry computation in this package runs on these counts, never battle by battle
(the idea behind LMArena's arena-rank). A log of 1.7 million battles among 130 models
collapses to at most 130·129·3 = 50,310 rows, so a fit touches tens of thousands of numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ratings.prepare import A_WINS, B_WINS, TIE


@dataclass(frozen=True)
class BattleCounts:
    """Aggregated battles.

    Attributes
    ----------
    models : list of str
        Model names, sorted; indices below refer to this list.
    a, b : ndarray of int64
        Left and right model index of each aggregated row.
    outcome : ndarray of int8
        0 = a won, 1 = b won, 2 = tie.
    count : ndarray of float64
        How many battles share (a, b, outcome) (and `weight`, when weighted).
    weight : ndarray of float64 or None
        Weighted counts (`ratings.weights`: inverse pair probabilities): the weight each
        battle of the row carries in a fit; rows are then distinct (a, b, outcome, weight)
        and `count` stays the number of battles. None: every battle weighs 1.
    """

    models: list[str]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    count: np.ndarray
    weight: np.ndarray | None = None

    @property
    def mass(self) -> np.ndarray:
        """Total weight per row: sum over its battles of w (the count when unweighted)."""
        return self.count if self.weight is None else self.count * self.weight

    @property
    def mass_squared(self) -> np.ndarray:
        """Sum over the row's battles of w^2 (the sandwich meat's weight)."""
        return self.count if self.weight is None else self.count * self.weight ** 2

    def keep_rows(self, keep: np.ndarray) -> BattleCounts:
        """The rows where the boolean mask `keep` holds."""
        return BattleCounts(self.models, self.a[keep], self.b[keep], self.outcome[keep],
                            self.count[keep],
                            None if self.weight is None else self.weight[keep])

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_battles(self) -> float:
        return float(self.count.sum())

    def canonical(self) -> BattleCounts:
        """Orientation-free counts: each row as (i < j, outcome from i's side). Exact for any
        model without a side term, and halves the number of rows."""
        swap = self.a > self.b
        a = np.where(swap, self.b, self.a)
        b = np.where(swap, self.a, self.b)
        outcome = self.outcome.copy()
        outcome[swap & (self.outcome == A_WINS)] = B_WINS
        outcome[swap & (self.outcome == B_WINS)] = A_WINS
        return _collapse(self.models, a, b, outcome, self.count, self.weight)

    def subset(self, model_indices: np.ndarray) -> BattleCounts:
        """Counts restricted to battles between the given models, re-indexed."""
        model_indices = np.sort(np.asarray(model_indices))
        remap = np.full(self.n_models, -1, dtype=np.int64)
        remap[model_indices] = np.arange(len(model_indices))
        rows = (remap[self.a] >= 0) & (remap[self.b] >= 0)
        return BattleCounts(
            [self.models[i] for i in model_indices],
            remap[self.a[rows]], remap[self.b[rows]], self.outcome[rows], self.count[rows],
            None if self.weight is None else self.weight[rows],
        )

    def per_model(self) -> pd.DataFrame:
        """Battles, wins, ties and losses per model (ties count half in `win_rate`)."""
        n = self.n_models
        battles = np.bincount(self.a, self.count, n) + np.bincount(self.b, self.count, n)
        wins = np.bincount(self.a, self.count * (self.outcome == A_WINS), n) + np.bincount(
            self.b, self.count * (self.outcome == B_WINS), n)
        ties = np.bincount(self.a, self.count * (self.outcome == TIE), n) + np.bincount(
            self.b, self.count * (self.outcome == TIE), n)
        return pd.DataFrame({
            "model": self.models, "battles": battles.astype(np.int64),
            "wins": wins, "ties": ties, "losses": battles - wins - ties,
            "win_rate": np.divide(wins + 0.5 * ties, battles, out=np.full(n, np.nan),
                                  where=battles > 0),
        })

    def pair_matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """(battles[i, j], score[i, j]) where score counts i's wins plus half its ties vs j."""
        n = self.n_models
        total = np.zeros((n, n))
        score = np.zeros((n, n))
        y = np.select([self.outcome == A_WINS, self.outcome == B_WINS], [1.0, 0.0], 0.5)
        np.add.at(total, (self.a, self.b), self.count)
        np.add.at(total, (self.b, self.a), self.count)
        np.add.at(score, (self.a, self.b), self.count * y)
        np.add.at(score, (self.b, self.a), self.count * (1 - y))
        return total, score

    def components(self) -> list[np.ndarray]:
        """Connected components of the comparison graph (model indices), largest first."""
        n = self.n_models
        graph = coo_matrix((np.ones(len(self.a)), (self.a, self.b)), shape=(n, n))
        count, labels = connected_components(graph, directed=False)
        groups = [np.flatnonzero(labels == c) for c in range(count)]
        return sorted(groups, key=lambda g: (-len(g), g[0]))


def _collapse(models, a, b, outcome, count, weight=None) -> BattleCounts:
    n = len(models)
    key = (a.astype(np.int64) * n + b) * 3 + outcome
    if weight is not None:
        # Rows stay apart by weight: a bootstrap resamples battles, each with its own weight.
        table = pd.DataFrame({"key": key, "w": weight, "c": count})
        grouped = table.groupby(["key", "w"], sort=True)["c"].sum().reset_index()
        cells = grouped["key"].to_numpy()
        return BattleCounts(
            list(models), cells // 3 // n, cells // 3 % n, (cells % 3).astype(np.int8),
            grouped["c"].to_numpy(dtype=np.float64), grouped["w"].to_numpy(dtype=np.float64),
        )
    if n * n * 3 <= 20_000_000:
        totals = np.bincount(key, weights=count, minlength=n * n * 3)
        cells = np.flatnonzero(totals)
        counts = totals[cells]
    else:
        cells, inverse = np.unique(key, return_inverse=True)
        counts = np.bincount(inverse, weights=count)
    return BattleCounts(
        list(models), cells // 3 // n, cells // 3 % n, (cells % 3).astype(np.int8),
        counts.astype(np.float64),
    )


def factorize_names(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, names): an int64 code per row and the distinct names as str, names[codes]
    giving the column back. Categoricals reuse their categories instead of reading every
    string, so mapping names (to model indices, say) costs per distinct name, not per row."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        cats = np.asarray(column.cat.categories.astype(str), dtype=object)
        return column.cat.codes.to_numpy().astype(np.int64), cats
    codes, uniques = pd.factorize(column.astype(str))
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def count_battles(battles: pd.DataFrame, models: list[str] | None = None,
                  weights: np.ndarray | None = None) -> BattleCounts:
    """Aggregate a selected battles frame (with `model_a`, `model_b`, `outcome`) into counts.

    `models` fixes the model list (and order); by default it is the sorted set of names seen.
    `weights` (one per battle) gives weighted counts (`BattleCounts.weight`).
    """
    codes_a, names_a = factorize_names(battles["model_a"])
    codes_b, names_b = factorize_names(battles["model_b"])
    if models is None:
        used_a = np.unique(codes_a)
        used_b = np.unique(codes_b)
        models = sorted(set(names_a[used_a]) | set(names_b[used_b]))
    position = {name: i for i, name in enumerate(models)}
    to_a = np.array([position.get(x, -1) for x in names_a], dtype=np.int64)
    to_b = np.array([position.get(x, -1) for x in names_b], dtype=np.int64)
    a, b = to_a[codes_a], to_b[codes_b]
    if (a < 0).any() or (b < 0).any():
        raise ValueError("a battle names a model outside the given model list")
    outcome = battles["outcome"].to_numpy().astype(np.int64)
    weight = None if weights is None else np.asarray(weights, dtype=np.float64)
    return _collapse(models, a, b, outcome, np.ones(len(a)), weight)
