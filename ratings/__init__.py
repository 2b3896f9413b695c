"""The ratings engine: vote logs in, leaderboards with confidence intervals out.

Pure pandas / numpy / scipy; imports nothing from `arena` or `serving`, so it works on any
FastChat-style battle log. Main entry points::

    battles = read_battles("battles.parquet")
    board = compute_leaderboard(battles, ci="bootstrap", rounds=1000, seed=0)
    print(board.table)

and the building blocks `select_battles`, `count_battles`, `fit_bt`, `bootstrap_bt`,
`fit_davidson` (ties modelled), `online_elo`, `fit_contextual_bt`, `rater_anomalies`, the vote
filters `cap_votes_per_rater_per_day` and `dedupe_identical_prompts`, and `board_robustness`
(the fewest votes whose removal changes #1 or an adjacent pair); the pair statistics they share
are in `ratings.pairs`.
"""

from ratings.aggregate import BattleCounts, count_battles
from ratings.bt import BTFit, bootstrap_bt, fit_bt
from ratings.contextual import ContextualRows, fit_contextual_bt
from ratings.davidson import fit_davidson
from ratings.elo import online_elo
from ratings.errors import BattleDataError, DisconnectedGraphError
from ratings.io import read_battles
from ratings.leaderboard import Leaderboard, compute_leaderboard, position_bias
from ratings.options import RatingOptions
from ratings.prepare import select_battles
from ratings.raters import rater_anomalies
from ratings.robustness import BoardRobustness, SwapCost, board_robustness
from ratings.vote_filters import cap_votes_per_rater_per_day, dedupe_identical_prompts

__all__ = [
    "BTFit", "BattleCounts", "BattleDataError", "BoardRobustness", "ContextualRows",
    "DisconnectedGraphError", "Leaderboard", "RatingOptions", "SwapCost", "board_robustness",
    "bootstrap_bt", "cap_votes_per_rater_per_day", "compute_leaderboard", "count_battles",
    "dedupe_identical_prompts", "fit_bt", "fit_contextual_bt", "fit_davidson", "online_elo",
    "position_bias", "rater_anomalies", "read_battles", "select_battles",
]
