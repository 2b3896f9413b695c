"""A cached board in the shape the leaderboard job stores (`arena.jobs.leaderboard`, the agreed
shape of issue #16), with fixed numbers so tests can read them back exactly: the overall rows
and, under `categories`, one board per label, each row with `rank_change` = overall rank −
category rank.

Models: alpha > beta > gamma > delta overall; `delta` is retired, `gamma` in preview, and every
model with fewer than PROVISIONAL_VOTES votes is provisional. In `code`, gamma is best (a rank
change of +2) and alpha and beta drop one place (−1); `math` has too few votes to be ranked.

(The job's own output from a real log is tested with the job; the web tier is tested against
the shape, so it can be built and checked while the job changes.)
"""

from __future__ import annotations

from typing import Any

STATES = {"alpha": "active", "beta": "active", "gamma": "preview", "delta": "retired"}
PROVISIONAL_VOTES = 25
MIN_VOTES = 20
MATH_VOTES = 7
SNAPSHOT = "20261201T120000Z"
# model: (rating, lower, upper, votes, win rate, tie share, both-bad share,
#         median time to first token in s, tokens per second)
OVERALL = {
    "alpha": (1165.7, 1049.2, 1282.2, 29, 0.7586, 0.125, 0.0625, 0.42, 31.5),
    "beta": (1025.7, 928.4, 1122.9, 31, 0.5161, 0.2, 0.1, 0.61, 24.0),
    "gamma": (956.4, 849.2, 1063.7, 28, 0.3929, 0.05, 0.025, 1.35, 12.25),
    "delta": (852.2, 716.7, 987.7, 20, 0.25, 0.3, 0.15, 2.8, 7.5),
}
CODE = {
    "gamma": (1201.1, 1048.4, 1353.9, 18, 0.8333, 0.0, 0.0, 1.3, 12.5),
    "alpha": (1010.2, 880.0, 1140.4, 18, 0.4444, 0.1, 0.05, 0.4, 32.0),
    "beta": (788.7, 640.1, 937.3, 16, 0.1875, 0.0625, 0.0, 0.6, 23.5),
}


def rows(numbers: dict[str, tuple], ranks_ub: dict[str, int]) -> list[dict[str, Any]]:
    """Board rows in rating order, with every field the job gives a row."""
    made = []
    for rank, (model, values) in enumerate(numbers.items(), start=1):
        rating, lower, upper, votes, win_rate, ties, bothbad, ttft, speed = values
        made.append({"rank": rank, "rank_ub": ranks_ub[model], "model": model,
                     "rating": rating, "lower": lower, "upper": upper, "battles": votes,
                     "win_rate": win_rate, "votes": votes, "tie_share": ties,
                     "bothbad_share": bothbad, "median_ttft_s": ttft, "tokens_per_s": speed,
                     "provisional": votes < PROVISIONAL_VOTES, "state": STATES[model]})
    return made


def category_board() -> dict[str, Any]:
    """The cached board dict: overall rows, `code` ranked, `math` too few."""
    overall = rows(OVERALL, {"alpha": 1, "beta": 1, "gamma": 1, "delta": 2})
    rank = {row["model"]: row["rank"] for row in overall}
    code = [{**row, "rank_change": rank[row["model"]] - row["rank"]}
            for row in rows(CODE, {"gamma": 1, "alpha": 1, "beta": 2})]
    return {
        "computed_at": "2026-12-01T12:00:00+00:00",
        "votes": 54,
        "rows": overall,
        "style_rows": None,
        "robustness": {"leader": {"upper": "alpha", "lower": "beta", "votes": 8,
                                  "exact": False},
                       "adjacent": [{"upper": "alpha", "lower": "beta", "votes": 8,
                                     "exact": False},
                                    {"upper": "beta", "lower": "gamma", "votes": 4,
                                     "exact": True},
                                    {"upper": "gamma", "lower": "delta", "votes": 4,
                                     "exact": True}]},
        "categories": {
            "code": {"votes": 26, "too_few": False, "min_votes": MIN_VOTES, "rows": code},
            "math": {"votes": MATH_VOTES, "too_few": True, "min_votes": MIN_VOTES,
                     "rows": []},
        },
        "sampling_correction": False,
        "provisional_votes": PROVISIONAL_VOTES,
        # As the job adds them after rating (arena.jobs.leaderboard.LeaderboardJob).
        "snapshot": SNAPSHOT,
        "manifest_url": f"/snapshots/{SNAPSHOT}/leaderboard.json.manifest.json",
        "export_url": f"/snapshots/{SNAPSHOT}/release.jsonl",
        "categories_manifest_url":
            f"/snapshots/{SNAPSHOT}/leaderboard-categories.json.manifest.json",
    }
