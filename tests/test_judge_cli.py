"""`arena judge` as a user runs it (a child process), against the scripted judge endpoint
(tests/fixtures/judge_endpoint.py): the vote log in and out, an export in and a JSONL file
out, a failed call that does not stop the run, exit codes, resume, a judge that is down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from factories import make_battle
from fixtures.judge_endpoint import Refuse, split_sides
from typer.testing import CliRunner

from arena.cli import app
from arena.store import BattleLog
from arena.transfer.export import export_battles
from arena.transfer.importer import read_entries

REPO = Path(__file__).resolve().parents[1]


def arena(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, timeout=120)


def write_config(tmp_path: Path, models_toml: str) -> Path:
    config = tmp_path / "arena.toml"
    config.write_text(f'[arena]\ndb_url = "sqlite:///{tmp_path / "arena.db"}"\n'
                      f'data_dir = "{tmp_path / "data"}"\n\n{models_toml}')
    return config


def voted_log(tmp_path: Path, count: int = 3) -> list:
    battles = [make_battle(turn_count=1, model_a="alpha", model_b="beta") for _ in range(count)]
    with BattleLog(f"sqlite:///{tmp_path / 'arena.db'}") as log:
        for battle in battles:
            log.record_battle(battle)
        log.record_battle(make_battle(status="abandoned"))  # never judged: no vote
    return battles


def test_judging_the_vote_log_goes_on_past_a_failed_call_and_a_rerun_finishes(
        scripted_judge, tmp_path):
    battles = voted_log(tmp_path)
    config = write_config(tmp_path, scripted_judge.models_toml("judge-a", "alpha", "beta"))
    prompt = battles[1].turns[0].prompt
    scripted_judge.policy = lambda body: (Refuse(503, "warming up")
                                          if prompt in split_sides(body)[0] else "A")
    first = arena("judge", "--config", str(config), "--judge", "judge-a")
    assert first.returncode == 3, first.stderr
    assert f"battle {battles[1].battle_id} (original, judge judge-a): HTTP 503" in first.stderr
    assert "warming up" in first.stderr and "run the same command again" in first.stderr
    assert first.stdout.startswith("battles 3, calls 6, verdicts stored 4, already stored 0, "
                                   "failed calls 2")
    scripted_judge.policy = lambda body: "A"
    second = arena("judge", "--config", str(config), "--judge", "judge-a")
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("battles 3, calls 2, verdicts stored 2, already stored 4")
    with BattleLog(f"sqlite:///{tmp_path / 'arena.db'}") as log:
        verdicts = list(log.iter_battles(mode="judge"))
        assert log.count_battles(mode="anonymous") == 4  # the humans' log is as it was
    assert len(verdicts) == 6
    assert {(v.replay_of, v.judge["order"]) for v in verdicts} == {
        (b.battle_id, order) for b in battles for order in ("original", "swapped")}
    assert {v.winner for v in verdicts} == {"model_a"}
    assert {v.model_a for v in verdicts} == {"alpha", "beta"}


def test_an_export_is_judged_into_a_jsonl_file_and_the_log_is_left_alone(
        scripted_judge, tmp_path):
    voted_log(tmp_path, count=2)
    export = tmp_path / "battles.jsonl"
    with BattleLog(f"sqlite:///{tmp_path / 'arena.db'}") as log:
        export_battles(log, "jsonl", export, progress=False)
    config = write_config(tmp_path, scripted_judge.models_toml("judge-a"))
    scripted_judge.policy = lambda body: "tie"
    out = tmp_path / "verdicts" / "judge-a.jsonl"
    args = ("judge", "--config", str(config), "--judge", "judge-a", "--file", str(export),
            "--out", str(out), "--seed", "3")
    done = arena(*args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress bar without a terminal
    verdicts = [entry.record for entry in read_entries(out)]
    assert len(verdicts) == 4 and {v.winner for v in verdicts} == {"tie"}
    assert {v.judge["seed"] for v in verdicts} == {3}
    again = arena(*args)
    assert again.stdout.startswith("battles 2, calls 0, verdicts stored 0, already stored 4")
    with BattleLog(f"sqlite:///{tmp_path / 'arena.db'}") as log:
        assert log.count_battles(mode="judge") == 0


def test_a_judge_that_is_down_or_unknown_stops_the_run_before_it_starts(tmp_path):
    voted_log(tmp_path, count=1)
    config = write_config(tmp_path, '[[models]]\nname = "gone"\n'
                                    'base_url = "http://127.0.0.1:9"\n')
    runner = CliRunner()  # in-process: these end before any battle is read

    def judge(*args: str):
        return runner.invoke(app, ["judge", "--config", str(config), *args])

    down = judge("--judge", "gone")
    assert down.exit_code == 1
    assert "the judge model 'gone' at http://127.0.0.1:9 gave no usable answer" in down.stderr
    unknown = judge("--judge", "nobody")
    assert unknown.exit_code == 1 and "no model named 'nobody'" in unknown.stderr
    usage = judge("--judge", "gone", "--panel", "p")
    assert usage.exit_code == 2 and "a panel needs two or more --judge" in usage.stderr
    alone = judge("--report-only")
    assert alone.exit_code == 2 and "--report-only needs --report DIR" in alone.stderr
    with BattleLog(f"sqlite:///{tmp_path / 'arena.db'}") as log:
        assert log.count_battles(mode="judge") == 0


def test_judge_then_report_on_an_export_with_a_judge_that_prefers_the_longer_answer(
        scripted_judge, tmp_path):
    export = tmp_path / "demo.jsonl"
    subprocess.run([sys.executable, str(REPO / "examples" / "make_demo_log.py"), "--out",
                    str(export), "--battles", "160", "--seed", "5"], check=True,
                   capture_output=True, timeout=120)
    config = write_config(tmp_path, scripted_judge.models_toml("longer"))
    scripted_judge.policy = lambda body: ("A" if len(split_sides(body)[0])
                                          > len(split_sides(body)[1]) else "B")
    report = tmp_path / "report"
    done = arena("judge", "--config", str(config), "--judge", "longer", "--file", str(export),
                 "--out", str(tmp_path / "verdicts.jsonl"), "--report", str(report))
    assert done.returncode == 0, done.stderr
    assert "failed calls 0" in done.stdout and f"judge report written to {report}" in done.stdout
    assert (report / "judge_report.md").is_file() and (report / "judge_report.json").is_file()
    merged = [entry.record for entry in read_entries(report / "votes-and-verdicts.jsonl")]
    humans = [r for r in merged if r.mode != "judge"]
    verdicts = [r for r in merged if r.mode == "judge"]
    assert len(verdicts) == 2 * len([r for r in humans if r.mode == "anonymous"])
    assert any(r.mode == "named" for r in humans)  # in the log, but not judged by default
    # The judge always picked the longer conversation, whichever side it was shown on.
    for verdict in verdicts[:20]:
        first = sum(len(m["content"]) for m in verdict.conversation_a if m["role"] != "system")
        second = sum(len(m["content"]) for m in verdict.conversation_b if m["role"] != "system")
        assert verdict.winner == ("model_a" if first > second else "model_b")
