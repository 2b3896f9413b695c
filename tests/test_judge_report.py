"""The judge report (`ratings.judge_report`) on judges with planted biases, and judge verdicts
in ratings (`RatingOptions.judge`, the prepare rule, the readers, the manifest).

The human votes are the synthetic demo log (examples/make_demo_log.py: 800 battles with
style habits per model and a planted left-side advantage); the verdicts come from
`ratings.judge_synthetic` judges whose honest part repeats the human vote, so each planted
bias has a size known in advance (the module docstring there derives it). The same biases
planted in a scripted judge endpoint driven through `arena judge`'s runner are in
test_judge_report_scripted.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ratings import RatingOptions, compute_leaderboard, read_battles
from ratings.errors import BattleDataError
from ratings.judge_report import judge_report
from ratings.judge_synthetic import expected_rate, planted_verdicts
from ratings.manifest import rate_file, rerun_manifest, write_run

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 300
FAMILIES = {"delta-8b": "delta", "judge-delta": "delta", "aurora-70b": "aurora"}


@pytest.fixture(scope="module")
def humans(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    log = tmp_path_factory.mktemp("demo") / "battles.jsonl"
    subprocess.run([sys.executable, str(REPO / "examples" / "make_demo_log.py"), "--out",
                    str(log), "--battles", "800", "--seed", "11"], check=True,
                   capture_output=True, timeout=120)
    return read_battles(log)


def report_of(humans: pd.DataFrame, bias: str, strength: float, judge: str = "judge-x",
              family: str | None = None, seed: int = 3):
    verdicts = planted_verdicts(humans, judge, bias, strength, family=family,
                                families=FAMILIES, seed=seed)
    return judge_report(pd.concat([humans, verdicts], ignore_index=True), families=FAMILIES,
                        rounds=ROUNDS, seed=0)


def inside(value: float, low: float, high: float) -> bool:
    return low <= value <= high


def test_an_always_first_judge_never_survives_the_swap_and_wins_first_every_time(humans):
    report = report_of(humans, "first", 1.0)
    assert report.consistency["rate"] == 0.0 and report.consistency["upper"] < 0.01
    assert report.consistency["first_both_times"] == report.consistency["battles"] > 600
    position = report.position
    assert position["judge"] == position["judge_lower"] == position["judge_upper"] == 1.0
    assert position["difference_lower"] > 0.4  # the humans' left side wins about half


def test_a_partly_first_judge_has_its_planted_size_inside_the_interval(humans):
    report = report_of(humans, "first", 0.4)
    planted = expected_rate("first", 0.4, 0.0)  # 0.7
    position = report.position
    assert inside(planted, position["judge_lower"], position["judge_upper"])
    assert position["judge_upper"] - position["judge_lower"] < 0.05
    assert inside(position["human"], position["human_lower"], position["human_upper"])
    assert position["difference_lower"] > 0.1
    # consistency: a verdict pair stays consistent when the plant took neither or, for a
    # tie-free honest vote, ... at least it is far below an honest judge's 1.0
    assert report.consistency["upper"] < 0.8


def test_a_judge_that_prefers_its_family_is_caught_for_that_family_only(humans):
    report = report_of(humans, "family", 0.5, judge="judge-delta", family="delta")
    table = report.self_preference.set_index("family")
    own = table.loc["delta"]
    assert bool(own["judge_family"]) and own["models"] == "delta-8b"
    planted = expected_rate("family", 0.5, own["human"])
    assert inside(planted, own["judge_lower"], own["judge_upper"])
    assert own["difference_lower"] > 0.1
    others = table.drop(index="delta")
    # the plant takes points from the others only in their battles against delta-8b
    assert (others["difference"].abs() < own["difference"] / 2).all()
    assert not others["judge_family"].any()


def test_a_judge_that_prefers_the_longer_answer_shows_in_length_and_style(humans):
    report = report_of(humans, "longer", 0.6)
    longer = report.longer_answer
    planted = expected_rate("longer", 0.6, longer["human"])
    assert inside(planted, longer["judge_lower"], longer["judge_upper"])
    assert longer["difference_lower"] > 0.15
    style = report.style.set_index("feature")
    tokens = style.loc["tokens"]
    assert tokens["judge_lower"] > tokens["human_upper"]  # the intervals do not overlap
    assert tokens["judge_coefficient"] > 3 * tokens["human_coefficient"]
    # the verbose model gains on the judge's board, flagged against the human board
    boards = report.boards.set_index("model")
    assert boards.loc["delta-8b", "difference_lower"] > 0 and boards.loc["delta-8b", "flagged"]


def test_an_honest_judge_agrees_with_the_humans_and_ranks_the_same(humans):
    report = report_of(humans, "none", 0.0)
    assert report.consistency["rate"] == 1.0
    assert report.position["judge"] == pytest.approx(0.5)
    by_kind = report.agreement_by_kind.set_index("human_vote")
    assert by_kind.loc["a", "agreement"] == by_kind.loc["b", "agreement"] == 1.0
    assert by_kind.loc["bothbad", "agreement"] == 0.0  # a judge answers A, B or tie only
    assert report.agreement.rate_ties_merged == 1.0
    assert report.rank_correlation["spearman"] == pytest.approx(1.0)
    assert not report.boards["flagged"].any()
    # both boards weigh the same outcomes (a battle counts twice for the judge): equal up
    # to the prior's pull, a hundredth of an Elo point
    assert (report.boards["difference"].abs() < 0.01).all()
    assert (report.boards["difference_upper"] - report.boards["difference_lower"] < 0.05).all()


def test_the_report_writes_tables_json_markdown_and_figures(humans, tmp_path):
    report = report_of(humans, "first", 0.4)
    paths = report.write(tmp_path)
    names = {p.name for p in paths}
    assert {"judge_report.md", "judge_report.json", "judge_boards.csv", "judge_rates.csv",
            "judge_self_preference.csv", "judge_style.csv", "judge_rates.png",
            "judge_boards.png", "judge_style.png", "judge_confusion.png"} <= names
    data = json.loads((tmp_path / "judge_report.json").read_text())
    assert data["judge_model"] == "judge-x" and data["bootstrap_rounds"] == ROUNDS
    assert data["position_bias"]["judge"] == pytest.approx(report.position["judge"])
    text = (tmp_path / "judge_report.md").read_text()
    for heading in ("## Position", "## Self-preference", "## Length and style",
                    "## Agreement with the humans", "## The two leaderboards"):
        assert heading in text
    boards = pd.read_csv(tmp_path / "judge_boards.csv")
    assert len(boards) == 8 and {"difference_lower", "flagged"} <= set(boards.columns)


def test_the_report_is_the_same_for_the_same_seed(humans):
    first = report_of(humans, "first", 0.4).to_dict()
    again = report_of(humans, "first", 0.4).to_dict()
    assert first == again


def test_a_report_needs_verdicts_and_one_chosen_judge(humans):
    with pytest.raises(BattleDataError, match="no judge verdicts"):
        judge_report(humans)
    two = pd.concat([humans, planted_verdicts(humans, "j1"), planted_verdicts(humans, "j2")],
                    ignore_index=True)
    with pytest.raises(BattleDataError, match="j1, j2"):
        judge_report(two, rounds=10)
    assert judge_report(two, judge_model="j2", rounds=10).judge_model == "j2"
    with pytest.raises(BattleDataError, match="no verdicts of judge 'j3'"):
        judge_report(two, judge_model="j3", rounds=10)


def test_a_human_board_never_counts_a_verdict_and_a_judge_board_counts_only_verdicts(humans):
    verdicts = planted_verdicts(humans, "j1", "first", 1.0)
    both = pd.concat([humans, verdicts, planted_verdicts(humans, "j2")], ignore_index=True)
    plain = compute_leaderboard(humans)
    human = compute_leaderboard(both)
    assert human.dropped["judge"] == 2 * len(verdicts)
    assert human.rows_used == plain.rows_used
    pd.testing.assert_frame_equal(human.table, plain.table)
    every = compute_leaderboard(both, judge="*")
    voted = int((humans["status"] == "voted").sum())  # the others went to status_not_voted
    assert every.rows_used == 2 * len(verdicts) and every.dropped["not_judge"] == voted
    one = compute_leaderboard(both, judge="j1")
    assert one.rows_used == len(verdicts) and one.dropped["other_judge"] == len(verdicts)
    with pytest.raises(BattleDataError, match="no verdicts of that judge; the input's judges "
                       "are j1, j2"):
        compute_leaderboard(both, judge="j3")
    with pytest.raises(BattleDataError, match="holds no judge verdicts"):
        compute_leaderboard(humans, judge="*")
    with pytest.raises(ValueError, match="judge must be"):
        RatingOptions(judge=" ")


def verdict_line(human: dict, order: str, winner: str) -> dict:
    swap = order == "swapped"
    sides = ("model_b", "model_a") if swap else ("model_a", "model_b")
    return {**human, "battle_id": f"v-{order}-{human['battle_id']}", "mode": "judge",
            "replay_of": human["battle_id"], "rater_hash": "judge:tiny-a",
            "model_a": human[sides[0]], "model_b": human[sides[1]], "winner": winner,
            "judge": {"model": "tiny-a", "template": "pairwise-v1",
                      "template_hash": "sha256:abc", "order": order, "panel": None,
                      "raw_output": "A", "choice_logprobs": None, "generation": {}}}


def test_our_jsonl_verdicts_read_with_the_judge_flat_and_the_rater_kept(tmp_path):
    humans = [{"battle_id": f"b{i}", "mode": "anonymous", "status": "voted",
               "model_a": ["x", "y", "z"][i % 3], "model_b": ["y", "z", "x"][i % 3],
               "winner": ["model_a", "model_b", "tie"][i % 3], "rater_hash": f"r{i}",
               "judge": None} for i in range(30)]
    lines = humans + [verdict_line(h, o, "model_a") for h in humans
                      for o in ("original", "swapped")]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    frame = read_battles(path)
    verdicts = frame[frame["mode"] == "judge"]
    assert set(verdicts["judge_model"]) == {"tiny-a"}
    assert set(verdicts["judge_order"]) == {"original", "swapped"}
    assert set(verdicts["judge"]) == {"judge:tiny-a"}  # `judge` stays the rater
    assert frame.loc[frame["mode"] == "anonymous", "judge"].tolist() == [
        h["rater_hash"] for h in humans]
    assert frame.loc[frame["mode"] == "anonymous", "judge_model"].isna().all()
    # rating the judge's verdicts gives a board that re-derives from its manifest
    out = tmp_path / "judge_board.csv"
    run = rate_file(path, RatingOptions(judge="tiny-a", ci="bootstrap", rounds=50), None)
    manifest = write_run(run, out)
    assert json.loads(manifest.read_text())["options"]["judge"] == "tiny-a"
    assert run.boards[None].rows_used == 60 and run.boards[None].dropped["not_judge"] == 30
    again = rerun_manifest(manifest, output=tmp_path / "again.csv")
    assert again.identical
