"""`arena ratings --judge NAME`: a board of one LLM judge's verdicts, never mixed with the
humans' votes, re-derived from its manifest."""

from __future__ import annotations

import json
from dataclasses import replace

from factories import make_battle
from typer.testing import CliRunner

from arena.cli import app


def verdict(battle, winner: str, judge: str = "tiny-judge"):
    """`judge`'s verdict on `battle` in the original order (arena.judge's record shape)."""
    return replace(battle, battle_id=f"judge-{battle.battle_id}", mode="judge",
                   replay_of=battle.battle_id, rater_hash=f"judge:{judge}", winner=winner,
                   judge={"model": judge, "template": "pairwise-v1",
                          "template_hash": "sha256:00", "order": "original",
                          "raw_output": "A" if winner == "model_a" else "B",
                          "choice_logprobs": None, "panel": None,
                          "generation": battle.turns[0].generation_a.to_dict()})


def test_the_judge_board_rates_only_its_verdicts_and_the_human_board_only_votes(tmp_path):
    humans = [make_battle(model_a="alpha", model_b="beta", turn_count=1,
                          winner="model_a" if i % 4 else "model_b") for i in range(12)]
    verdicts = [verdict(b, "model_b" if i % 4 else "model_a") for i, b in enumerate(humans)]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in humans + verdicts),
                   encoding="utf-8")
    runner = CliRunner()

    human_board = tmp_path / "humans.json"
    result = runner.invoke(app, ["ratings", str(log), "--out", str(human_board)])
    assert result.exit_code == 0, result.output
    judge_board = tmp_path / "judge.json"
    result = runner.invoke(app, ["ratings", str(log), "--judge", "tiny-judge",
                                 "--out", str(judge_board)])
    assert result.exit_code == 0, result.output

    def first_and_battles(path):
        rows = json.loads(path.read_text())["leaderboard"]
        return rows[0]["model"], sum(row["battles"] for row in rows)

    assert first_and_battles(human_board) == ("alpha", 24)  # 12 votes, two models each
    assert first_and_battles(judge_board) == ("beta", 24)
    human_manifest = json.loads((tmp_path / "humans.json.manifest.json").read_text())
    judge_manifest = json.loads((tmp_path / "judge.json.manifest.json").read_text())
    assert human_manifest["dropped"].get("judge") == 12
    assert judge_manifest["options"]["judge"] == "tiny-judge"
    rerun = runner.invoke(app, ["ratings", "--from-manifest",
                                str(tmp_path / "judge.json.manifest.json")])
    assert rerun.exit_code == 0, rerun.output
    assert "identical to the recorded output" in rerun.output

    other = runner.invoke(app, ["ratings", str(log), "--judge", "nobody"])
    assert other.exit_code != 0
