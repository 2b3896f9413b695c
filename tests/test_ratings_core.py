"""Bradley–Terry, Davidson and online Elo against known answers; degenerate data rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ratings
from ratings import BattleDataError, DisconnectedGraphError, compute_leaderboard

DATA = Path(__file__).parent / "data"


def _games(spec: list[tuple[str, str, int]]) -> pd.DataFrame:
    """(winner, loser, times) -> battles frame with the winner on the left."""
    rows = [(w, lo, "model_a") for w, lo, times in spec for _ in range(times)]
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


WIKIPEDIA = _games([("A", "B", 2), ("B", "A", 3), ("A", "D", 1), ("D", "A", 4),
                    ("B", "C", 5), ("C", "B", 3), ("C", "D", 1), ("D", "C", 3)])


def _fit(frame: pd.DataFrame, **kwargs) -> ratings.BTFit:
    selection = ratings.select_battles(frame)
    return ratings.fit_bt(ratings.count_battles(selection.battles), **kwargs)


def test_wikipedia_22_game_example_strengths():
    fit = _fit(WIKIPEDIA, prior=0.0)
    strengths = dict(zip(fit.models, fit.strengths(), strict=True))
    expected = {"A": 0.640, "B": 1.043, "C": 0.660, "D": 2.270}
    for model, value in expected.items():
        assert strengths[model] == pytest.approx(value, abs=1e-3)


def test_default_prior_barely_moves_the_wikipedia_strengths():
    plain, penalised = _fit(WIKIPEDIA, prior=0.0), _fit(WIKIPEDIA)
    assert np.max(np.abs(plain.theta - penalised.theta)) < 1e-3


def _llmfao() -> pd.DataFrame:
    raw = pd.read_csv(DATA / "llmfao.csv")
    return pd.DataFrame({
        "model_a": raw["left"], "model_b": raw["right"],
        "winner": raw["winner"].map({"left": "model_a", "right": "model_b", "tie": "tie"}),
        "judge": raw["worker"].astype(str),
    })


def _golden(algorithm: str) -> pd.Series:
    golden = pd.read_csv(DATA / "llmfao-golden.csv")
    return golden[golden["algorithm"] == algorithm].set_index("item")["score"]


def test_llmfao_bradley_terry_matches_evalica_golden_log_strengths():
    fit = _fit(_llmfao())
    reference = np.log(_golden("bradley_terry").reindex(fit.models).to_numpy())
    reference -= reference.mean()
    assert len(fit.models) == 59
    assert np.max(np.abs(fit.theta - reference)) < 1e-3


def test_llmfao_online_elo_matches_evalica_golden():
    elo = ratings.online_elo(_llmfao(), k=4, initial=1000)
    reference = _golden("elo").reindex(elo.index)
    np.testing.assert_allclose(elo.to_numpy(), reference.to_numpy(), rtol=0, atol=1e-9)


def test_leaderboard_ratings_are_log_strengths_on_the_elo_scale():
    board = compute_leaderboard(WIKIPEDIA, prior=0.0)
    table = board.table.set_index("model")
    gap = table.loc["D", "rating"] - table.loc["A", "rating"]
    assert gap == pytest.approx(400 / np.log(10) * np.log(2.270 / 0.640), abs=0.2)
    assert table["rating"].mean() == pytest.approx(1000.0)
    assert list(board.table["rank"]) == [1, 2, 3, 4]
    assert list(board.table["model"]) == ["D", "B", "C", "A"]


def test_anchor_pins_the_model_with_a_zero_width_interval():
    board = compute_leaderboard(_llmfao(), anchor=("GPT 4", 1114.0))
    row = board.table.set_index("model").loc["GPT 4"]
    assert row["rating"] == pytest.approx(1114.0)
    assert row["upper"] - row["lower"] == pytest.approx(0.0, abs=1e-9)


def test_rank_upper_bound_counts_models_clearly_above():
    from ratings.scale import rank_upper_bound

    lower = np.array([10.0, 5.0, 0.0, -20.0])
    upper = np.array([20.0, 15.0, 8.0, -10.0])
    assert rank_upper_bound(lower, upper).tolist() == [1, 1, 2, 4]


def test_model_that_never_lost_gets_a_finite_top_rating():
    frame = pd.concat([WIKIPEDIA, _games([("E", "A", 3), ("E", "D", 2)])])
    board = compute_leaderboard(frame)
    top = board.table.iloc[0]
    assert top["model"] == "E"
    assert np.isfinite(top["rating"]) and np.isfinite(top["lower"])


def test_disconnected_graph_is_an_error_naming_the_components():
    frame = pd.concat([WIKIPEDIA, _games([("X", "Y", 2), ("Y", "X", 1)])])
    with pytest.raises(DisconnectedGraphError, match=r"2 disconnected components.*X, Y"):
        compute_leaderboard(frame)


def test_allow_disconnected_rates_each_component_on_its_own():
    frame = pd.concat([WIKIPEDIA, _games([("X", "Y", 2), ("Y", "X", 1)])])
    board = compute_leaderboard(frame, allow_disconnected=True)
    table = board.table
    assert set(table.loc[table["component"] == 2, "model"]) == {"X", "Y"}
    for _, part in table.groupby("component"):
        assert part["rating"].mean() == pytest.approx(1000.0)
        assert sorted(part["rank"]) == list(range(1, len(part) + 1))


def test_davidson_recovers_a_planted_tie_parameter():
    rng = np.random.default_rng(3)
    theta = np.linspace(-1, 1, 6)
    nu = 0.8
    a = rng.integers(0, 6, 20000)
    b = (a + rng.integers(1, 6, 20000)) % 6
    u = (theta[a] - theta[b]) / 2
    z = np.exp(u) + np.exp(-u) + nu
    draw = rng.random(20000) * z
    winner = np.where(draw < np.exp(u), "model_a",
                      np.where(draw < np.exp(u) + np.exp(-u), "model_b", "tie"))
    frame = pd.DataFrame({"model_a": [f"m{i}" for i in a], "model_b": [f"m{i}" for i in b],
                          "winner": winner})
    board = compute_leaderboard(frame, ties="davidson")
    tie = board.tie_parameter
    assert tie["lower"] < nu < tie["upper"]
    ratings_by_model = board.table.set_index("model")["rating"]
    expected = 400 / np.log(10) * (theta - theta.mean()) + 1000
    np.testing.assert_allclose(ratings_by_model[[f"m{i}" for i in range(6)]], expected, atol=25)


def test_ties_drop_and_bothbad_drop_are_counted():
    frame = pd.concat([WIKIPEDIA, pd.DataFrame(
        [("A", "B", "tie"), ("C", "D", "tie (bothbad)"), ("B", "D", "tie (bothbad)")],
        columns=["model_a", "model_b", "winner"])])
    board = compute_leaderboard(frame, bothbad="drop")
    assert board.dropped["bothbad"] == 2 and board.rows_used == 23
    board = compute_leaderboard(frame, ties="drop")
    assert board.dropped["tie"] == 3 and board.rows_used == 22


def test_unknown_winner_is_an_error_not_a_tie():
    frame = WIKIPEDIA.copy()
    frame.loc[4, "winner"] = "left"
    with pytest.raises(BattleDataError, match=r"unknown winner value\(s\) 'left' at row 4"):
        compute_leaderboard(frame)


def test_bootstrap_is_deterministic_for_a_seed():
    first = compute_leaderboard(_llmfao(), ci="bootstrap", rounds=100, seed=7).table
    again = compute_leaderboard(_llmfao(), ci="bootstrap", rounds=100, seed=7).table
    other = compute_leaderboard(_llmfao(), ci="bootstrap", rounds=100, seed=8).table
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["lower"], other["lower"])
    np.testing.assert_array_equal(first["rating"], other["rating"])  # full-data fit


def test_online_elo_follows_timestamps_not_file_order():
    frame = _games([("A", "B", 1), ("B", "A", 1)]).assign(tstamp=[2.0, 1.0])
    elo = ratings.online_elo(frame, k=32)
    # B wins first (t=1): B 1016, A 984. Then A, expected to score 1 / (1 + 10^(32/400)),
    # wins and gains 32 times the rest. In file order the roles would be swapped.
    gain = 32 * (1 - 1 / (1 + 10 ** (32 / 400)))
    assert elo["A"] == pytest.approx(984 + gain)
    assert elo["B"] == pytest.approx(1016 - gain)
    assert elo["A"] > 1000 > elo["B"]


def test_ratings_package_imports_nothing_from_arena_or_serving():
    import ast

    for path in (Path(ratings.__file__).parent).glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("arena", "serving"), f"{path}: {name}"
