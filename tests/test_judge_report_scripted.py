"""Planted judge biases found by the judge report, end to end: `arena judge`'s runner asks a
scripted OpenAI-compatible judge endpoint (tests/fixtures/judge_endpoint.py) about a logged
demo log in the arena's database, and `write_judge_report` reads the database (and its
Parquet export) back.

The endpoint's three judges repeat the human vote (both-bad as tie) unless their plant
decides, on a deterministic coin per (judge, battle, order):

- judge-first: always the answer shown first;
- judge-delta (family "delta", like delta-8b): delta-8b's answer when exactly one side is it,
  with probability 0.5;
- judge-long: the answer with more completion tokens, with probability 0.6.

The report must find each bias with its planted size inside its interval
(`ratings.judge_synthetic.expected_rate` gives the size).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.judge_endpoint import scripted_judge, split_sides  # noqa: F401

from arena.judge import JudgeRun, load_template, run_judges
from arena.judge.report import families_from_config, write_judge_report
from arena.judge.store import LogSink, battles_in_file
from arena.record import BattleRecord
from arena.store import BattleLog
from arena.transfer.export import export_battles
from ratings.judge_synthetic import expected_rate

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = load_template()
FAMILIES = {"delta-8b": "delta", "judge-delta": "delta"}
STRENGTH = {"judge-first": 1.0, "judge-delta": 0.5, "judge-long": 0.6}
_ANSWER = re.compile(r"### Assistant [AB]:\n(.*?)(?:\n\n### User:|\Z)", re.S)
_LABEL = {"model_a": "A", "model_b": "B", "tie": "tie", "tie (bothbad)": "tie"}


def tokens(battle: BattleRecord, side: str) -> int:
    return sum(getattr(t, f"generation_{side}").completion_tokens or 0 for t in battle.turns)


class PlantedJudges:
    """The endpoint's policy: find the battle and the order from the first answer shown,
    then answer as the judge named in the request would (module docstring)."""

    def __init__(self, battles: list[BattleRecord]) -> None:
        self.where = {}
        for battle in battles:
            self.where[battle.turns[0].generation_a.output] = (battle, "original")
            self.where[battle.turns[0].generation_b.output] = (battle, "swapped")

    def coin(self, judge: str, battle: BattleRecord, order: str) -> float:
        digest = hashlib.sha256(f"{judge}|{battle.battle_id}|{order}".encode()).hexdigest()
        return int(digest[:12], 16) / 16**12

    def plant(self, judge: str, battle: BattleRecord, order: str) -> str | None:
        first, second = ("a", "b") if order == "original" else ("b", "a")
        if judge == "judge-first":
            return "A"
        if judge == "judge-delta":
            models = {"a": battle.model_a, "b": battle.model_b}
            delta = [s for s in (first, second) if FAMILIES.get(models[s]) == "delta"]
            return None if len(delta) != 1 else ("A" if delta[0] == first else "B")
        if tokens(battle, first) == tokens(battle, second):
            return None
        return "A" if tokens(battle, first) > tokens(battle, second) else "B"

    def __call__(self, body: dict) -> str:
        shown_first = _ANSWER.search(split_sides(body)[0]).group(1)
        battle, order = self.where[shown_first]
        honest = _LABEL[battle.winner]
        if order == "swapped" and honest != "tie":
            honest = "B" if honest == "A" else "A"
        judge = body["model"]
        planted = self.plant(judge, battle, order)
        if planted is not None and self.coin(judge, battle, order) < STRENGTH[judge]:
            return planted
        return honest


@pytest.fixture(scope="module")
def demo_battles(tmp_path_factory: pytest.TempPathFactory) -> list[BattleRecord]:
    log = tmp_path_factory.mktemp("demo") / "battles.jsonl"
    subprocess.run([sys.executable, str(REPO / "examples" / "make_demo_log.py"), "--out",
                    str(log), "--battles", "300", "--seed", "5"], check=True,
                   capture_output=True, timeout=120)
    return list(battles_in_file(log))


@pytest.fixture
def judged_db(demo_battles, scripted_judge, tmp_path) -> str:  # noqa: F811 (the fixture)
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    scripted_judge.policy = PlantedJudges(demo_battles)
    judges = [scripted_judge.judge_model(TEMPLATE, name) for name in STRENGTH]
    run = JudgeRun(judges=judges, template=TEMPLATE, seed=0, concurrency=8)
    with BattleLog(url) as log:
        log.record_new_battles(demo_battles)
        report = asyncio.run(run_judges(demo_battles, LogSink(log), run))
    assert report.failed == 0 and report.stored == 2 * len(STRENGTH) * len(demo_battles)
    return url


def test_planted_biases_in_a_judge_endpoint_are_found_with_their_size(judged_db, tmp_path):
    first = write_judge_report(judged_db, out_dir=tmp_path / "first", judge_model="judge-first",
                               families=FAMILIES, bootstrap_rounds=300)
    assert (tmp_path / "first" / "battles.jsonl").exists()  # the exact input, kept
    assert first.position["judge"] == 1.0 and first.consistency["rate"] == 0.0
    assert first.position["difference_lower"] > 0.3

    long = write_judge_report(judged_db, out_dir=tmp_path / "long", judge_model="judge-long",
                              families=FAMILIES, bootstrap_rounds=300, plots=False)
    rate = long.longer_answer
    assert rate["judge_lower"] <= expected_rate("longer", 0.6, rate["human"]) <= rate[
        "judge_upper"]
    tokens_row = long.style.set_index("feature").loc["tokens"]
    assert tokens_row["judge_lower"] > tokens_row["human_upper"]

    with BattleLog(judged_db) as log:  # the flat export carries the judge columns
        export_battles(log, "parquet", tmp_path / "battles.parquet", progress=False)
    delta = write_judge_report(tmp_path / "battles.parquet", out_dir=tmp_path / "delta",
                               judge_model="judge-delta", families=FAMILIES,
                               bootstrap_rounds=300, plots=False)
    own = delta.self_preference.set_index("family").loc["delta"]
    assert bool(own["judge_family"])
    assert own["judge_lower"] <= expected_rate("family", 0.5, own["human"]) <= own[
        "judge_upper"]
    assert own["difference_lower"] > 0.05
    summary = json.loads((tmp_path / "delta" / "judge_report.json").read_text())
    assert summary["judge_model"] == "judge-delta" and summary["counts"]["battles"] > 200


def test_families_come_from_the_config(tmp_path):
    config = tmp_path / "arena.toml"
    config.write_text('[[models]]\nname = "m1"\nbase_url = "http://127.0.0.1:9"\n'
                      'family = "llama"\n\n[[models]]\nname = "m2"\n'
                      'base_url = "http://127.0.0.1:9"\n')
    assert families_from_config(config) == {"m1": "llama", "m2": "m2"}
