"""Swap costs: the fewest votes whose removal changes #1 or an adjacent pair of the board."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from ratings import compute_leaderboard, count_battles, fit_bt, select_battles
from ratings.robustness import board_order, board_robustness


def _games(spec: list[tuple[str, str, int]], tie_pairs: list[tuple[str, str, int]] = ()
           ) -> pd.DataFrame:
    """(winner, loser, times) battles (winner on the left), plus (a, b, times) ties."""
    rows = [(w, lo, "model_a") for w, lo, times in spec for _ in range(times)]
    rows += [(a, b, "tie") for a, b, times in tie_pairs for _ in range(times)]
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


def _counts(frame: pd.DataFrame, models: list[str] | None = None):
    return count_battles(select_battles(frame).battles, models=models)


def _random_log(rng: np.random.Generator, models: int, votes: int) -> pd.DataFrame:
    names = [f"m{i}" for i in range(models)]
    skill = rng.normal(0, 0.7, models)
    rows = []
    for _ in range(votes):
        i, j = rng.choice(models, 2, replace=False)
        left_wins = rng.random() < 1 / (1 + np.exp(skill[j] - skill[i]))
        winner = "tie" if rng.random() < 0.15 else ("model_a" if left_wins else "model_b")
        rows.append((names[i], names[j], winner))
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


def _connected_random_logs(seed: int, wanted: int, votes: tuple[int, int]):
    rng = np.random.default_rng(seed)
    while wanted:
        frame = _random_log(rng, int(rng.integers(3, 5)), int(rng.integers(*votes)))
        counts = _counts(frame)
        if len(counts.components()) == 1 and counts.n_models >= 3:
            wanted -= 1
            yield frame, counts


def _brute_force(frame: pd.DataFrame) -> tuple[int, list[int]]:
    """Literal search over subsets of battle rows, smallest first, refitting each with the
    package's own fit: the votes to change #1 and to swap each adjacent pair."""
    battles = select_battles(frame).battles
    counts = count_battles(battles)
    order = [counts.models[i] for i in board_order(counts.models, fit_bt(counts).theta)]
    pairs = list(zip(order[:-1], order[1:], strict=True))
    found: dict = {}
    for size in range(len(frame) + 1):
        for subset in itertools.combinations(range(len(frame)), size):
            rest = count_battles(battles.drop(index=list(subset)), models=counts.models)
            theta = dict(zip(rest.models, fit_bt(rest).theta, strict=True))
            for upper, lower in pairs:
                if theta[upper] - theta[lower] <= 1e-9:
                    found.setdefault((upper, lower), size)
            if max(theta[m] for m in order[1:]) >= theta[order[0]] - 1e-9:
                found.setdefault("leader", size)
        if len(found) == len(pairs) + 1:
            return found["leader"], [found[p] for p in pairs]
    raise AssertionError("removing every vote always ties the board")


TINY_LOGS = {
    # (votes to change #1, [votes to swap each adjacent pair]) found by the literal search.
    "chain": (_games([("A", "B", 4), ("B", "A", 1), ("B", "C", 3), ("C", "B", 1),
                      ("A", "C", 1)]), (4, [4, 3])),
    "four models and a tie": (_games([("A", "B", 3), ("B", "C", 2), ("C", "D", 2),
                                      ("A", "C", 1), ("B", "D", 1)], [("A", "D", 1)]),
                              (3, [3, 2, 2])),
    "upset and a tie": (_games([("A", "B", 3), ("B", "A", 1), ("B", "C", 3), ("C", "D", 2)],
                               [("A", "D", 1)]), (2, [2, 3, 2])),
}


@pytest.mark.parametrize("name", list(TINY_LOGS))
def test_exact_answer_matches_a_literal_search_over_subsets_of_votes(name):
    frame, expected = TINY_LOGS[name]
    result = board_robustness(_counts(frame), exact_limit=1_000_000)
    assert result.leader.exact and all(c.exact for c in result.adjacent)
    answer = (result.leader.votes, [c.votes for c in result.adjacent])
    assert answer == expected == _brute_force(frame)


def test_exact_answer_matches_the_literal_search_on_random_tiny_logs():
    for frame, counts in _connected_random_logs(3, 3, (7, 10)):
        result = board_robustness(counts, exact_limit=1_000_000)
        assert (result.leader.votes, [c.votes for c in result.adjacent]) == _brute_force(frame)


def _remove(frame: pd.DataFrame, removed) -> pd.DataFrame:
    """The log without the battles a SwapCost lists (the first ones of each cell)."""
    drop: list[int] = []
    outcome = frame["winner"].map({"model_a": 0, "model_b": 1, "tie": 2}).to_numpy()
    for model_a, model_b, winner, votes in removed:
        word = {"model_a": 0, "model_b": 1, "tie": 2}[winner]
        flipped = {0: 1, 1: 0, 2: 2}[word]
        same = (frame["model_a"] == model_a) & (frame["model_b"] == model_b) & (outcome == word)
        swapped = ((frame["model_a"] == model_b) & (frame["model_b"] == model_a)
                   & (outcome == flipped))
        drop += list(frame.index[(same | swapped).to_numpy()][:votes])
    return frame.drop(index=drop)


def test_approximation_is_a_verified_upper_bound_and_usually_exact():
    matches = total = 0
    for frame, counts in _connected_random_logs(5, 24, (12, 41)):
        exact = board_robustness(counts, exact_limit=100_000)
        approximate = board_robustness(counts, exact_limit=0)
        for proven, found in [(exact.leader, approximate.leader),
                              *zip(exact.adjacent, approximate.adjacent, strict=True)]:
            # Removing exactly the listed battles really ties or swaps the pair on the board.
            board = compute_leaderboard(_remove(frame, found.removed), ci="none")
            rating = board.table.set_index("model")["rating"]
            assert rating[found.lower] >= rating[found.upper] - 1e-6
            assert sum(row[3] for row in found.removed) == found.votes
            if proven.exact:
                total += 1
                assert found.votes >= proven.votes
                matches += found.votes == proven.votes
    assert total >= 60
    assert matches >= 0.9 * total


def test_a_dominant_leader_needs_many_removals_and_a_near_tie_one():
    dominant = _counts(_games([("A", "B", 40), ("B", "A", 5), ("A", "C", 40), ("C", "A", 4),
                               ("B", "C", 22), ("C", "B", 20)]))
    result = board_robustness(dominant)
    assert result.leader.upper == "A" and result.leader.votes >= 20
    assert result.headline().startswith(f"#1 would change if {result.leader.votes} votes")
    near_tie = _counts(_games([("A", "B", 11), ("B", "A", 10), ("A", "C", 30), ("C", "A", 8),
                               ("B", "C", 30), ("C", "B", 8)]))
    result = board_robustness(near_tie)
    assert result.leader.votes in (1, 2) and result.leader.exact
    assert result.leader.lower == "B"
    assert [c.upper for c in result.adjacent] == ["A", "B"]
    assert result.adjacent[1].votes > result.adjacent[0].votes


def test_a_large_log_gets_the_approximation_and_says_so():
    rng = np.random.default_rng(0)
    frame = _random_log(rng, 6, 3_000)
    counts = _counts(frame)
    result = board_robustness(counts, exact_limit=1_000)
    costly = [c for c in [result.leader, *result.adjacent] if c.votes > 2]
    assert costly and not any(c.exact for c in costly)
    assert all(c.gap_after <= 1e-9 < c.gap for c in costly)
    if not result.leader.exact:
        assert result.headline().endswith("(found by search; fewer might do)")
    cheap = [c for c in [result.leader, *result.adjacent] if c.votes <= 2]
    assert all(c.exact for c in cheap)  # one or two votes: the search below is always run


def test_with_ties_dropped_the_answer_is_that_of_the_log_without_ties():
    frame = _games([("A", "B", 6), ("B", "A", 4), ("B", "C", 6), ("C", "B", 4),
                    ("A", "C", 5), ("C", "A", 1)], tie_pairs=[("A", "B", 5), ("C", "A", 5)])
    dropped = board_robustness(_counts(frame), ties="drop")
    without = board_robustness(_counts(frame[frame["winner"] != "tie"]), ties="half")
    assert dropped.to_dict() == without.to_dict()
    # Counted as half a win each, the same ties change the fit and so the answer.
    halved = board_robustness(_counts(frame), ties="half")
    assert halved.to_dict() != dropped.to_dict()


def test_equal_leaders_cost_nothing_and_a_single_model_has_no_order():
    tied = board_robustness(_counts(_games([("A", "B", 3), ("B", "A", 3)])))
    assert (tied.leader.votes, tied.leader.exact, tied.leader.removed) == (0, True, ())
    alone = board_robustness(_counts(_games([("A", "B", 1)]), models=["A", "B"]).subset(
        np.array([0])))
    assert alone.leader is None and alone.adjacent == ()
    assert alone.headline() == "one model only: no order to change"


def test_one_pair_count_and_the_refusals():
    counts = _counts(_games([("A", "B", 5), ("B", "A", 2)]))
    cost = board_robustness(counts).adjacent[0]
    # 5-2: removing two of A's wins leaves 3-2, three leave 2-2 (a tie counts).
    assert (cost.votes, cost.exact, cost.removed) == (3, True, (("A", "B", "model_a", 3),))
    assert cost.to_dict()["removed"] == [{"model_a": "A", "model_b": "B",
                                          "winner": "model_a", "votes": 3}]
    with pytest.raises(ValueError, match="prior > 0"):
        board_robustness(counts, prior=0.0)
    with pytest.raises(ValueError, match="davidson"):
        board_robustness(counts, ties="davidson")
