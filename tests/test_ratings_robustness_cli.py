"""`arena ratings` with the vote filters and robustness, end to end on JSONL exports built with
tests/factories.py: what each filter removes (counted in the manifest), what robustness prints
and writes, and re-runs from the manifest.

The planted log, `planted_log` (every prompt distinct unless said):
- honest raters h0..h3 vote on days 0, 1 and 2: each day each of them sees alpha beat beta,
  beta beat gamma and alpha beat gamma; h0 also sees beta beat alpha once a day (4 votes);
- a spammer votes gamma over alpha 20 times on day 0 with one prompt written five ways (case,
  spaces, a zero-width space: all the same prompt once normalised), and 5 times on day 1 with
  distinct prompts.
By hand: --dedupe-prompts keeps 1 of the 20 (removes 19); --max-votes-per-rater-per-day 4
alone removes 16 on day 0 and 1 on day 1 (17; no honest rater has more than 4 a day); both
(dedupe first) remove 19, then 1 (day 0 has 1 left, day 1 has 5).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from factories import BASE_TIME, make_battle
from typer.testing import CliRunner, Result

from arena.cli import app
from ratings import compute_leaderboard, read_battles

SPAM_PROMPTS = ["Which is better?", "which is better?", "  Which   is better? ",
                "WHICH IS BETTER?", "Which is\u200b better?"]


def vote(rater: str, day: int, minute: int, winner_model: str, loser_model: str,
         prompt: str) -> dict:
    """One voted battle as our JSONL export holds it (winner on the left)."""
    start = BASE_TIME + timedelta(days=day, minutes=minute)
    battle = make_battle(model_a=winner_model, model_b=loser_model, winner="model_a",
                         rater_hash=rater, prompts=[prompt], start=start)
    return battle.to_dict()


def planted_votes() -> list[dict]:
    votes = []
    for day in range(3):
        for number in range(4):
            rater = f"h{number}"
            for minute, (won, lost) in enumerate([("alpha", "beta"), ("beta", "gamma"),
                                                  ("alpha", "gamma")]):
                votes.append(vote(rater, day, 10 * number + minute, won, lost,
                                  f"day {day}, {rater}, question {minute}"))
        votes.append(vote("h0", day, 5, "beta", "alpha", f"day {day}, h0, upset"))
    votes += [vote("spammer", 0, 100 + i, "gamma", "alpha", SPAM_PROMPTS[i % 5])
              for i in range(20)]
    votes += [vote("spammer", 1, 100 + i, "gamma", "alpha", f"spam {i}") for i in range(5)]
    return votes


def write_jsonl(path: Path, votes: list[dict]) -> Path:
    path.write_text("".join(json.dumps(v, default=str) + "\n" for v in votes),
                    encoding="utf-8")
    return path


@pytest.fixture
def planted_log(tmp_path) -> Path:
    return write_jsonl(tmp_path / "votes.jsonl", planted_votes())


def arena_ratings(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", "ratings", *map(str, args)],
                          capture_output=True, text=True, check=False)


def ratings(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["ratings", *map(str, args)])


def written(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def test_filters_and_robustness_end_to_end_and_reproduced_from_the_manifest(planted_log,
                                                                            tmp_path):
    out = tmp_path / "board.json"
    run = arena_ratings(planted_log, "--dedupe-prompts", "--max-votes-per-rater-per-day", 4,
                        "--robustness", "--out", out)
    assert run.returncode == 0, run.stderr
    assert "Battles: 44 used of 64 rows read; dropped: duplicate_prompt 19, rater_daily_cap 1." \
        in run.stdout
    board = json.loads(out.read_text())
    order = [row["model"] for row in board["leaderboard"]]
    assert order[0] == "alpha"  # the spammer's gamma no longer rides 25 votes
    robustness = board["robustness"]
    leader, adjacent = robustness["leader"], robustness["adjacent"]
    assert leader["upper"] == "alpha" and leader["votes"] >= 1
    assert [(pair["upper"], pair["lower"]) for pair in adjacent] == list(
        zip(order[:-1], order[1:], strict=True))
    # What is printed is what is written.
    plural = "s" if leader["votes"] != 1 else ""
    assert f"Robustness: #1 would change if {leader['votes']} vote{plural} were removed" \
        in run.stdout
    for pair in adjacent:
        bound = "" if pair["exact"] else "at most "
        assert f"  {pair['upper']} > {pair['lower']}: {bound}{pair['votes']}\n" in run.stdout

    manifest = json.loads((tmp_path / "board.json.manifest.json").read_text())
    assert manifest["vote_filters"] == {
        "max_votes_per_rater_per_day": 4, "dedupe_prompts": True,
        "removed": {"duplicate_prompt": 19, "rater_daily_cap": 1}}
    assert manifest["dropped"]["duplicate_prompt"] == 19
    assert manifest["options"]["robustness"] is True
    assert manifest["options"]["robustness_exact_limit"] == 20_000

    rerun = arena_ratings("--from-manifest", tmp_path / "board.json.manifest.json")
    assert rerun.returncode == 0, rerun.stderr
    assert "identical to the recorded output" in rerun.stdout
    assert (tmp_path / "board.rerun.json").read_bytes() == out.read_bytes()


@pytest.mark.parametrize(("args", "removed"), [
    (["--dedupe-prompts"], {"duplicate_prompt": 19, "rater_daily_cap": 0}),
    (["--max-votes-per-rater-per-day", "4"], {"duplicate_prompt": 0, "rater_daily_cap": 17}),
    (["--max-votes-per-rater-per-day", "1"],
     # Day 0: spammer 19, h0 3, h1-h3 2 each; days 1-2 the same for h0-h3, spammer 4 on day 1.
     {"duplicate_prompt": 0, "rater_daily_cap": 19 + 4 + 3 * (3 + 3 * 2)}),
])
def test_each_filter_alone_removes_what_was_counted_by_hand(planted_log, tmp_path, args,
                                                            removed):
    written(ratings(planted_log, *args, "--out", tmp_path / "b.csv"))
    manifest = json.loads((tmp_path / "b.csv.manifest.json").read_text())
    assert manifest["vote_filters"]["removed"] == removed
    assert manifest["rows_used"] == 64 - sum(removed.values())


def test_without_the_options_nothing_is_filtered_and_the_output_is_unchanged(planted_log,
                                                                             tmp_path):
    plain = written(ratings(planted_log, "--out", tmp_path / "plain.json"))
    board = json.loads((tmp_path / "plain.json").read_text())
    assert "robustness" not in board and "Robustness" not in plain.stdout
    assert set(board["dropped"]) == {"status_not_voted", "mode_named", "flagged_battle"}
    manifest = json.loads((tmp_path / "plain.json.manifest.json").read_text())
    assert manifest["vote_filters"] == {"max_votes_per_rater_per_day": None,
                                       "dedupe_prompts": False,
                                       "removed": {"duplicate_prompt": 0, "rater_daily_cap": 0}}
    # Unfiltered, the spammer's 25 votes against alpha push it off #1.
    assert board["leaderboard"][0]["model"] == "beta"


def test_the_known_answer_of_a_tiny_log_is_printed(tmp_path):
    """The chain of test_ratings_robustness.py, whose answers a literal search over every
    subset of votes found: #1 changes with 4 votes removed, the pairs swap with 4 and 3."""
    spec = [("A", "B", 4), ("B", "A", 1), ("B", "C", 3), ("C", "B", 1), ("A", "C", 1)]
    votes = [vote("r", 0, n, won, lost, f"q{n}") for n, (won, lost) in
             enumerate((won, lost) for won, lost, times in spec for _ in range(times))]
    result = written(ratings(write_jsonl(tmp_path / "chain.jsonl", votes), "--robustness"))
    assert ("Robustness: #1 would change if 4 votes were removed. Without them B would tie "
            "or pass A (Bradley–Terry refitted).\nVotes whose removal would swap each "
            "adjacent pair:\n  A > B: 4\n  B > C: 3\n") in result.stdout


def test_with_by_the_filters_count_within_each_group(tmp_path):
    votes = planted_votes()
    for number, record in enumerate(votes):
        record["language"] = "en" if number % 2 else "fr"
    log = write_jsonl(tmp_path / "votes.jsonl", votes)
    written(ratings(log, "--by", "language", "--max-votes-per-rater-per-day", 2,
                    "--out", tmp_path / "b.csv"))
    manifest = json.loads((tmp_path / "b.csv.manifest.json").read_text())
    frame = read_battles(log)
    by_hand = {}
    for language, group in frame.groupby("language"):
        day = (group["tstamp"] // 86_400).astype(int)
        per_day = group.groupby([group["judge"], day]).size()
        by_hand[language] = int((per_day - 2).clip(lower=0).sum())
    assert {k: g["dropped"]["rater_daily_cap"] for k, g in manifest["groups"].items()} \
        == by_hand
    assert manifest["vote_filters"]["removed"]["rater_daily_cap"] == sum(by_hand.values())


def test_the_library_call_matches_the_command_line(planted_log):
    frame = read_battles(planted_log)
    board = compute_leaderboard(frame, dedupe_prompts=True, max_votes_per_rater_per_day=4,
                                robustness=True)
    assert board.dropped["duplicate_prompt"] == 19 and board.dropped["rater_daily_cap"] == 1
    assert board.robustness.leader.upper == board.table["model"].iloc[0]
    assert board.to_dict()["robustness"] == board.robustness.to_dict()


@pytest.mark.parametrize(("make", "args", "message"), [
    ("csv", ["--dedupe-prompts"], "counting identical prompts once needs the prompts"),
    ("csv-no-judge", ["--max-votes-per-rater-per-day", "3"],
     "a daily vote cap needs a `judge` column"),
])
def test_a_log_without_what_a_filter_needs_is_refused(tmp_path, make, args, message):
    frame = pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "x"],
                          "winner": ["model_a", "model_b"], "judge": ["j", "j"]})
    if make == "csv-no-judge":
        frame = frame.drop(columns="judge")
    frame.to_csv(tmp_path / "b.csv", index=False)
    result = ratings(tmp_path / "b.csv", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
