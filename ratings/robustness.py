"""How fragile a Bradley–Terry board is: the fewest votes whose removal changes an order.

For u ranked above v (theta_u > theta_v in the penalised fit of `ratings.bt`, with the
board's tie rule and prior), the swap cost is

    k*(u, v) = min { |S| : S a set of votes, theta_u(log - S) - theta_v(log - S) <= 1e-9 }

(a tie counts: the board orders equal ratings only by name); that of rank 1 is the least k*
over every challenger of the leader. Cf. Broderick, Giordano & Meager (2020), "An automatic
finite-sample robustness metric". Votes enter the likelihood only through the counts of their
cells (pair; win, loss or tie from the first model's side) and votes of a cell are
interchangeable, so a removal is a vector r with 0 <= r_c <= count_c and |S| = sum r_c.

Exact (`exact=True`): every removal of 1, 2, ... votes below a known upper bound U is refitted
(Newton on batches of them); the first size at which one swaps the pair is k*, else k* = U.
Nothing is pruned (a vote that seems to favour v can matter through indirect comparisons), so
this runs only when at most `exact_limit` removals lie below U: tiny logs, or U <= 2.

Approximation (`exact=False`): greedy removal. At the current fit (optimal with the votes
removed so far), one Newton step predicts that removing a vote of cell c = (i, j, y) lowers
the gap d = theta_u - theta_v by

    g_c = (y_c - p_ij) (z_i - z_j) / (1 - p_ij (1 - p_ij) h_ij),    z = H^-1 (e_u - e_v)

(the vote's influence through the inverse Hessian, H + 11^T/n, with leverage h_ij =
x^T H^-1 x by Sherman–Morrison). The votes of largest g_c are planned until they close the
gap; half the plan is removed and the model refitted, repeatedly; once the plan is at most
`FINE_PLAN` votes, one vote is removed per refit, from whichever of the best cells (up to
`FINE_CANDIDATES`, all refitted) shrinks the gap most. A batch that overshoots is cut by
bisection (each probe refitted); finally votes are returned while the refit still swaps.

Guarantee: every answer is realised: its removal (`SwapCost.removed`) is refitted and does
swap the pair (`gap_after <= 1e-9`), so `votes` >= k*. An approximate answer may exceed k*
(on 120 random logs of 3-4 models and <= 40 votes: by one vote in 1 of 420 answers).
Removing every vote swaps (all ratings become equal), so an answer always exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.special import expit

from ratings.aggregate import BattleCounts
from ratings.bt import apply_tie_rule, newton_pairs
from ratings.options import DEFAULT_PRIOR
from ratings.pairs import PairCells, cell_targets, laplacian, pair_cells
from ratings.resample import single_threaded_blas

SWAP_TOLERANCE = 1e-9  # logits: a gap this small is a tie, which counts as swapped
EXACT_LIMIT = 20_000  # removal vectors refitted at most by the exact search
FINE_PLAN = 16  # below this many planned votes, remove one vote per refit
FINE_CANDIDATES = 32  # most cells refitted to choose each single vote ...
LOOKAHEAD_BUDGET = 2**16  # ... as long as candidates x models^3 stays within this
BATCH_ENTRIES = 2**22  # rows x models^2 of one batched Newton solve (32 MiB of Hessians)
VECTOR_ENTRIES = 2**24  # rows x cells the exact search may hold at once (128 MiB)
OUTCOME_WORDS = ("model_a", "model_b", "tie")  # FastChat winner words, first model = model_a


@dataclass(frozen=True)
class SwapCost:
    """The votes whose removal overturns one order on the board.

    `upper` is ranked above `lower` (for rank 1: the challenger that becomes #1 most
    cheaply); removing `votes` votes puts `lower` level with or above it; `exact` says the
    number is proven minimal (else it is the verified greedy upper bound); `gap` and
    `gap_after` are theta_upper - theta_lower in logits before and after (<= 1e-9 after);
    `removed` lists (model_a, model_b, FastChat winner word, votes) per cell taken from.
    """

    upper: str
    lower: str
    votes: int
    exact: bool
    gap: float
    gap_after: float
    removed: tuple[tuple[str, str, str, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"upper": self.upper, "lower": self.lower, "votes": self.votes,
                "exact": self.exact, "gap_logits": self.gap, "gap_after_logits": self.gap_after,
                "removed": [{"model_a": a, "model_b": b, "winner": w, "votes": k}
                            for a, b, w, k in self.removed]}


@dataclass(frozen=True)
class BoardRobustness:
    """Swap costs of rank 1 (`leader`, None for a one-model board) and of every adjacent
    pair of the board, best pair first (`adjacent[k]` is rank k+1 against rank k+2)."""

    leader: SwapCost | None
    adjacent: tuple[SwapCost, ...]

    def headline(self) -> str:
        """One line for the leaderboard, e.g. "#1 would change if 37 votes were removed"."""
        if self.leader is None:
            return "one model only: no order to change"
        votes = self.leader.votes
        bound = "" if self.leader.exact else " (found by search; fewer might do)"
        return f"#1 would change if {votes} vote{'s' if votes != 1 else ''} were removed{bound}"

    def to_dict(self) -> dict[str, Any]:
        return {"headline": self.headline(),
                "leader": None if self.leader is None else self.leader.to_dict(),
                "adjacent": [c.to_dict() for c in self.adjacent]}


@dataclass(frozen=True)
class _Problem:
    """The cells a removal acts on and the full-data fit every refit starts from."""

    cells: PairCells
    y: np.ndarray  # per cell, from the first model's side
    prior: float
    theta: np.ndarray  # full-data fit
    models: list[str]

    def refit(self, removed: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
        """theta of the log without `removed` (votes per cell), from `start` or the fit."""
        weight, cells = self.cells.count - removed, self.cells
        return newton_pairs(cells.first, cells.second, cells.per_pair(weight),
                            cells.per_pair(weight * self.y), cells.n_models, self.prior,
                            theta0=self.theta if start is None else start)[0]


def _problem(counts: BattleCounts, ties: str, prior: float) -> _Problem:
    if prior <= 0:
        raise ValueError("robustness needs prior > 0: a removal can leave a model without "
                         "a loss, whose unpenalised rating is infinite")
    cells = pair_cells(apply_tie_rule(counts, ties))
    unfitted = _Problem(cells, cell_targets(cells.outcome), prior, np.zeros(cells.n_models),
                        list(counts.models))
    return replace(unfitted, theta=unfitted.refit(np.zeros(len(cells.count))))


def board_order(models: list[str], theta: np.ndarray) -> np.ndarray:
    """Model indices best first, as the board ranks them: rating down, then name."""
    return np.lexsort((np.array(models, dtype=object).astype(str), -theta))


@single_threaded_blas
def board_robustness(counts: BattleCounts, ties: str = "half", prior: float = DEFAULT_PRIOR,
                     exact_limit: int = EXACT_LIMIT) -> BoardRobustness:
    """Swap costs of rank 1 and of every adjacent pair (see the module docstring).

    Parameters
    ----------
    counts : BattleCounts
        Aggregated battles of one connected comparison graph (`ratings.count_battles`; for
        a board with several components, call this on `counts.subset(component)`).
    ties : {"half", "drop"}
        The board's tie rule (`ratings.bt.apply_tie_rule`).
    prior : float
        The board's L2 penalty on log-strengths; must be > 0.
    exact_limit : int
        Most removal vectors the exact search may refit per question; above it the greedy
        answer stands (`exact=False`).
    """
    problem = _problem(counts, ties, prior)
    order = board_order(problem.models, problem.theta)
    if len(order) < 2:
        return BoardRobustness(None, ())
    adjacent = tuple(_pair_cost(problem, int(u), int(v), exact_limit)
                     for u, v in zip(order[:-1], order[1:], strict=True))
    return BoardRobustness(_leader_cost(problem, order, exact_limit), adjacent)


def _pair_cost(problem: _Problem, u: int, v: int, exact_limit: int) -> SwapCost:
    removed = _greedy(problem, u, v, cap=None)
    proven, smaller = _exact_search(problem, lambda t: t[:, u] - t[:, v],
                                    int(removed.sum()), exact_limit)
    return _cost(problem, u, v, removed if smaller is None else smaller, proven)


def _leader_cost(problem: _Problem, order: np.ndarray, exact_limit: int) -> SwapCost:
    """The cheapest challenger of the leader: greedy per challenger (stopping as soon as it
    cannot beat the best so far), then one exact search over "anyone reaches the leader"."""
    leader = int(order[0])
    best: tuple[int, np.ndarray] | None = None
    for challenger in order[1:]:
        removed = _greedy(problem, leader, int(challenger), cap=None if best is None
                          else int(best[1].sum()))
        if removed is not None and (best is None or removed.sum() < best[1].sum()):
            best = (int(challenger), removed)
    others = np.delete(np.arange(len(order)), leader)
    proven, smaller = _exact_search(
        problem, lambda theta: theta[:, leader] - theta[:, others].max(axis=1),
        int(best[1].sum()), exact_limit)
    if smaller is None:
        return _cost(problem, leader, best[0], best[1], proven)
    theta = problem.refit(smaller)
    challenger = int(others[np.argmax(theta[others])])
    return _cost(problem, leader, challenger, smaller, True)


def _cost(problem: _Problem, u: int, v: int, removed: np.ndarray, exact: bool) -> SwapCost:
    theta = problem.refit(removed)
    cells, models = problem.cells, problem.models
    pair = cells.pair_of_cell
    rows = tuple((models[cells.first[pair[c]]], models[cells.second[pair[c]]],
                  OUTCOME_WORDS[cells.outcome[c]], int(removed[c]))
                 for c in np.flatnonzero(removed))
    return SwapCost(models[u], models[v], int(removed.sum()), exact,
                    float(problem.theta[u] - problem.theta[v]), float(theta[u] - theta[v]), rows)


def _one_vote_effects(problem: _Problem, removed: np.ndarray, theta: np.ndarray, u: int,
                      v: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, the one-Newton-step drop of theta_u - theta_v when one more of its votes is
    removed (the module's g_c), and its rise when one is returned (1 + ... in the denominator)."""
    cells, n = problem.cells, problem.cells.n_models
    first, second, pair = cells.first, cells.second, cells.pair_of_cell
    p = expit(theta[first] - theta[second])
    curvature = p * (1 - p)
    hessian = laplacian(first, second, cells.per_pair(cells.count - removed) * curvature, n)
    inverse = np.linalg.inv(hessian + problem.prior * np.eye(n) + 1.0 / n)
    z = inverse[:, u] - inverse[:, v]
    leverage = curvature * (inverse[first, first] + inverse[second, second]
                            - 2 * inverse[first, second])
    influence = (problem.y - p[pair]) * (z[first] - z[second])[pair]
    return (influence / np.maximum(1 - leverage, 1e-12)[pair],
            influence / (1 + leverage)[pair])


def _lookahead(problem: _Problem) -> int:
    """Candidates refitted per single-vote step: all the budget allows, 1 to FINE_CANDIDATES."""
    return int(np.clip(LOOKAHEAD_BUDGET // problem.cells.n_models ** 3, 1, FINE_CANDIDATES))


def _greedy(problem: _Problem, u: int, v: int, cap: int | None) -> np.ndarray | None:
    """Votes per cell whose removal (verified by refit) swaps u and v; None when more than
    `cap` votes would be needed (the caller already has a cheaper answer)."""
    count = problem.cells.count
    removed, theta = np.zeros(len(count)), problem.theta
    while theta[u] - theta[v] > SWAP_TOLERANCE:
        if cap is not None and removed.sum() >= cap:
            return None
        gains = _one_vote_effects(problem, removed, theta, u, v)[0]
        remaining = count - removed
        usable = np.flatnonzero((gains > 0) & (remaining > 0))
        if len(usable) == 0:  # nothing helps to first order: remove everything (gap 0)
            return count.copy()
        ranked = usable[np.argsort(-gains[usable], kind="stable")]
        plan = _planned_votes(gains[ranked], remaining[ranked], theta[u] - theta[v])
        if plan <= FINE_PLAN:  # one vote: the candidate whose refit shrinks the gap most
            trials, fitted = _refit_each(problem, removed, ranked[:_lookahead(problem)], 1,
                                         theta)
            best = int(np.argmin(fitted[:, u] - fitted[:, v]))
            removed, theta = trials[best], fitted[best]
            continue
        step = math.ceil(plan / 2)
        batch = _take(ranked, remaining[ranked], step, len(count))
        after = problem.refit(removed + batch, theta)
        if after[u] - after[v] <= SWAP_TOLERANCE:
            batch = _shortest_swapping_prefix(problem, removed, ranked, remaining, step, u, v)
            after = problem.refit(removed + batch, theta)
        removed, theta = removed + batch, after
    return _put_back(problem, removed, theta, u, v)


def _put_back(problem: _Problem, removed: np.ndarray, theta: np.ndarray, u: int, v: int
              ) -> np.ndarray:
    """Return votes to the log one at a time while the refit still swaps (a greedy path can
    take a vote early that later ones made unnecessary), trying the votes whose return is
    predicted to raise the gap least."""
    while removed.sum() > 0:
        held = np.flatnonzero(removed)
        rise = _one_vote_effects(problem, removed, theta, u, v)[1][held]
        held = held[np.argsort(rise, kind="stable")][:_lookahead(problem)]
        trials, fitted = _refit_each(problem, removed, held, -1, theta)
        gaps = fitted[:, u] - fitted[:, v]
        if gaps.min() > SWAP_TOLERANCE:
            return removed
        removed, theta = trials[int(np.argmin(gaps))], fitted[int(np.argmin(gaps))]
    return removed


def _refit_each(problem: _Problem, removed: np.ndarray, cells: np.ndarray, change: int,
                start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each cell of `cells`, `removed` with `change` more votes of that cell taken out,
    and its refit (rows x models) from `start`."""
    trials = np.repeat(removed[None, :], len(cells), axis=0)
    trials[np.arange(len(cells)), cells] += change
    return trials, _fit_many(problem, trials, start)


def _planned_votes(gains: np.ndarray, remaining: np.ndarray, gap: float) -> int:
    """Votes, taken in the order given, whose summed linear gains reach `gap`."""
    reach = np.cumsum(gains * remaining)
    whole = int(np.searchsorted(reach, gap))  # cells used up entirely before the last one
    if whole >= len(gains):
        return int(remaining.sum())
    before = reach[whole - 1] if whole else 0.0
    return int(remaining[:whole].sum()) + math.ceil((gap - before) / gains[whole])


def _take(ranked: np.ndarray, remaining: np.ndarray, votes: int, n_cells: int) -> np.ndarray:
    """Removal vector of the first `votes` votes of the cells in `ranked` order."""
    taken = np.clip(votes - np.r_[0, np.cumsum(remaining)[:-1]], 0, remaining)
    return np.bincount(ranked, taken, n_cells)


def _shortest_swapping_prefix(problem: _Problem, removed: np.ndarray, ranked: np.ndarray,
                              remaining: np.ndarray, step: int, u: int, v: int) -> np.ndarray:
    """Bisection over the votes of an overshooting batch: the shortest prefix found whose
    removal (refitted) swaps, knowing the whole batch swaps and the empty one does not."""
    low, high = 0, step
    while high - low > 1:
        middle = (low + high) // 2
        theta = problem.refit(removed + _take(ranked, remaining[ranked], middle, len(removed)))
        swapped = theta[u] - theta[v] <= SWAP_TOLERANCE
        low, high = (low, middle) if swapped else (middle, high)
    return _take(ranked, remaining[ranked], high, len(removed))


def _exact_search(problem: _Problem, gap: Callable[[np.ndarray], np.ndarray], bound: int,
                  limit: int) -> tuple[bool, np.ndarray | None]:
    """Search every removal of 1 to `bound` - 1 votes, smallest first, for one whose refit
    has gap(theta) <= tolerance. Returns (proven, smaller): `smaller` is the first such
    removal (votes per cell) or None; `proven` is False when the search would need more than
    `limit` refits and was not run (then `bound` is only an upper bound)."""
    count = problem.cells.count.astype(np.int64)
    if bound <= 1:
        return True, None
    if _more_vectors_than(count, bound - 1, min(limit, VECTOR_ENTRIES // len(count))):
        return False, None
    vectors, sizes = _bounded_vectors(count, bound - 1)
    for size in range(1, bound):
        level = vectors[sizes == size].astype(float)
        rows = max(1, BATCH_ENTRIES // problem.cells.n_models ** 2)
        for first in range(0, len(level), rows):
            chunk = level[first:first + rows]
            hits = np.flatnonzero(gap(_fit_many(problem, chunk, problem.theta)) <= SWAP_TOLERANCE)
            if len(hits):
                return True, chunk[hits[0]]
    return True, None


def _more_vectors_than(count: np.ndarray, most: int, limit: int) -> bool:
    """Whether more than `limit` vectors r have 0 <= r_c <= count_c and 1 <= sum r <= most."""
    ways = np.zeros(most + 1)
    ways[0] = 1.0
    for bound in count:
        # Times 1 + x + ... + x^bound (a windowed running sum); coefficients only grow.
        running = np.cumsum(ways)
        ways = running - np.r_[np.zeros(int(bound) + 1), running][: most + 1]
        if ways[1:].sum() > limit:
            return True
    return False


def _bounded_vectors(count: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    """Every vector r with 0 <= r_c <= count_c and sum r <= `most`, and its sum."""
    vectors = np.zeros((1, 0), dtype=np.int64)
    sizes = np.zeros(1, dtype=np.int64)
    for bound in count:
        choices = np.arange(min(int(bound), most) + 1)
        grown = sizes[:, None] + choices[None, :]
        rows, picks = np.nonzero(grown <= most)
        vectors = np.column_stack([vectors[rows], choices[picks]])
        sizes = grown[rows, picks]
    return vectors, sizes


def _fit_many(problem: _Problem, removals: np.ndarray, start: np.ndarray) -> np.ndarray:
    """theta of the log without each row of `removals` (rows x cells), shape (rows, n), by
    Newton from `start` on all rows at once, each with its own Hessian, steps capped at 5
    logits so a far optimum is approached without overflow; rows not settled after 50
    iterations are refitted by the damped Newton of `ratings.bt.newton_pairs`."""
    cells, n = problem.cells, problem.cells.n_models
    first, second = cells.first, cells.second
    to_pair = csr_matrix((np.ones(len(cells.count)), (np.arange(len(cells.count)),
                          cells.pair_of_cell)), shape=(len(cells.count), cells.n_pairs))
    weight = cells.count[None, :] - removals
    total, score = weight @ to_pair, (weight * problem.y) @ to_pair
    incidence = np.eye(n)[first] - np.eye(n)[second]  # pairs x models: e_i - e_j
    ridge = problem.prior * np.eye(n) + 1.0 / n
    theta = np.repeat(start[None, :], len(removals), axis=0)
    diagonal = np.arange(n)
    for _ in range(50):
        p = expit(theta[:, first] - theta[:, second])
        gradient = (score - total * p) @ incidence - problem.prior * theta
        hessian = np.zeros((len(removals), n, n))
        hessian[:, first, second] = hessian[:, second, first] = -total * p * (1 - p)
        hessian[:, diagonal, diagonal] = -hessian.sum(axis=2)
        step = np.linalg.solve(hessian + ridge, gradient[..., None])[..., 0]
        step -= step.mean(axis=1, keepdims=True)
        size = np.abs(step).max(axis=1)
        theta += step * np.minimum(1.0, 5.0 / np.maximum(size, 1e-300))[:, None]
        if not (size >= 1e-10).any():
            break
    for row in np.flatnonzero(~(size < 1e-10)):
        theta[row] = problem.refit(removals[row])
    return theta
