"""`arena.judge` with a scripted OpenAI-compatible judge endpoint (tests/fixtures/
judge_endpoint.py): what each call sends, the verdict records, per-call failures that do not
stop a run, resume, panels. The tiny vLLM models judge in tests/test_judge_vllm.py."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from factories import make_battle
from fixtures.judge_endpoint import Answer, Refuse, split_sides

from arena.judge import JudgeRun, Panel, PanelError, load_template, majority, run_judges
from arena.judge.store import JsonlSink, LogSink
from arena.judge.template import TEMPLATES_DIR, TemplateError, fill
from arena.judge.verdict import call_seed, shown, verdict_id
from arena.record import BattleRecord
from arena.store import BattleLog
from arena.transfer.importer import ImportFailed, read_entries
from serving.records import SAMPLING_KEYS

TEMPLATE = load_template()


def battles(count: int = 3) -> list[BattleRecord]:
    return [make_battle(turn_count=1 + i % 2, model_a="alpha", model_b="beta")
            for i in range(count)]


def stored(path: Path) -> list[BattleRecord]:
    return [entry.record for entry in read_entries(path)]


def judge(records, sink, run) -> object:
    return asyncio.run(run_judges(records, sink, run))


def test_the_template_hash_is_the_files_sha256_and_text_is_filled_in_once():
    path = TEMPLATES_DIR / "pairwise-v1.toml"
    assert TEMPLATE.hash == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    battle = make_battle(prompts=["Explain {second} and {first}"], outputs=["x" * 7000],
                         system_prompt_a="You are model alpha.")
    system, user = TEMPLATE.messages(battle.conversation_a, battle.conversation_b)
    assert system["role"] == "system" and user["role"] == "user"
    assert "Explain {second} and {first}" in user["content"]  # not filled again
    assert "model alpha" not in user["content"]  # system prompts are never shown
    assert "x" * 6000 + "\n[... truncated]" in user["content"]
    assert "x" * 6001 not in user["content"]
    assert fill("{a}{b}{c}", {"a": "{b}", "b": "2"}) == "{b}2{c}"


def test_a_template_with_a_mistake_is_refused_naming_the_key(tmp_path):
    good = (TEMPLATES_DIR / "pairwise-v1.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(good.replace('tie = "tie"', 'tie = "draw"'))
    with pytest.raises(TemplateError, match="winners"):
        load_template(str(bad))
    with pytest.raises(TemplateError, match="no such file"):
        load_template("pairwise-v0")


def test_the_swapped_order_shows_the_right_side_first():
    battle = make_battle(model_a="alpha", model_b="beta")
    swapped = shown(battle, "swapped")
    assert (swapped["model_a"], swapped["model_b"]) == ("beta", "alpha")
    assert swapped["conversation_a"] == battle.conversation_b
    assert [t.generation_a for t in swapped["turns"]] == [t.generation_b for t in battle.turns]
    ids = {verdict_id(battle.battle_id, model, TEMPLATE.hash, order, seed)
           for model in ("j1", "j2") for order in ("original", "swapped") for seed in (0, 1)}
    assert len(ids) == 8
    assert call_seed(battle.battle_id, "j1", "original", 0) == call_seed(
        battle.battle_id, "j1", "original", 0) != call_seed(battle.battle_id, "j1", "swapped", 0)


def test_an_always_first_judge_gives_two_verdicts_per_battle_with_every_parameter(
        scripted_judge, tmp_path):
    scripted_judge.policy = lambda body: Answer("A", {"A": -0.1, "B": -2.5, "tie": -4.0})
    model = scripted_judge.judge_model(TEMPLATE)
    log = battles(3)
    sink = JsonlSink(tmp_path / "verdicts.jsonl")
    report = judge(log, sink, JudgeRun(judges=[model], template=TEMPLATE, seed=7))
    sink.close()
    assert (report.battles, report.asked, report.stored, report.failed) == (3, 6, 6, 0)
    verdicts = stored(tmp_path / "verdicts.jsonl")
    by_battle = {(v.replay_of, v.judge["order"]): v for v in verdicts}
    for battle in log:
        original, swapped = by_battle[battle.battle_id, "original"], by_battle[
            battle.battle_id, "swapped"]
        assert (original.model_a, swapped.model_a) == ("alpha", "beta")
        assert original.winner == swapped.winner == "model_a"  # always the first shown
        assert original.mode == "judge" and original.rater_hash == "judge:scripted-judge"
        assert original.labels == battle.labels and original.status == "voted"
        for verdict in (original, swapped):
            generation = verdict.judge["generation"]
            assert set(SAMPLING_KEYS) <= set(generation["params"])
            assert generation["seed"] == call_seed(battle.battle_id, "scripted-judge",
                                                   verdict.judge["order"], 7)
            assert verdict.judge["choice_logprobs"] == {"A": -0.1, "B": -2.5, "tie": -4.0}
            assert verdict.judge["template_hash"] == TEMPLATE.hash
            assert verdict.judge["raw_output"] == "A"
    for body in scripted_judge.requests:
        assert body["structured_outputs"] == {"choice": ["A", "B", "tie"]}
        assert body["logprobs"] is True and body["top_logprobs"] == 20
        assert body["temperature"] == 0.0 and body["seed"] is not None
    seen_first = {split_sides(body)[0].split("### Assistant A:\n")[1][:40]
                  for body in scripted_judge.requests}
    assert len(seen_first) == 6  # each order showed the other answer first


def test_a_failed_call_is_reported_and_the_run_goes_on_then_a_rerun_asks_only_it(
        scripted_judge, tmp_path):
    log = battles(4)
    # Battle 1 fails in both orders (its prompt); battle 2 when its left answer is first.
    broken, garbled = log[1].conversation_a[1]["content"], log[2].conversation_a[2]["content"]

    def flaky(body):
        first, _ = split_sides(body)
        if broken in first:
            return Refuse(500, "engine overloaded")
        if garbled in first:
            return "maybe"  # not a choice: a server without structured outputs
        return "B"

    scripted_judge.policy = flaky
    run = JudgeRun(judges=[scripted_judge.judge_model(TEMPLATE)], template=TEMPLATE)
    errors: list[str] = []
    path = tmp_path / "verdicts.jsonl"
    sink = JsonlSink(path)
    report = asyncio.run(run_judges(log, sink, run, on_error=errors.append))
    sink.close()
    assert (report.asked, report.stored, report.failed) == (8, 5, 3)
    assert any(log[1].battle_id in e and "HTTP 500" in e and "engine overloaded" in e
               for e in errors)
    assert any(log[2].battle_id in e and "'maybe' is none of the template's choices" in e
               for e in errors)
    scripted_judge.policy = lambda body: "B"
    scripted_judge.requests.clear()
    sink = JsonlSink(path)
    again = judge(log, sink, run)
    sink.close()
    assert (again.asked, again.stored, again.already, again.failed) == (3, 3, 5, 0)
    assert len({v.battle_id for v in stored(path)}) == 8


def test_a_line_cut_by_an_interruption_is_dropped_and_asked_again(scripted_judge, tmp_path):
    scripted_judge.policy = lambda body: "tie"
    run = JudgeRun(judges=[scripted_judge.judge_model(TEMPLATE)], template=TEMPLATE)
    log = battles(2)
    path = tmp_path / "verdicts.jsonl"
    sink = JsonlSink(path)
    judge(log, sink, run)
    sink.close()
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 50])  # the last line is cut short
    sink = JsonlSink(path)
    again = judge(log, sink, run)
    sink.close()
    assert (again.asked, again.stored, again.already) == (1, 1, 3)
    assert path.read_bytes() .count(b"\n") == 4
    assert len({v.battle_id for v in stored(path)}) == 4


def test_a_panel_stores_the_strict_majority_of_its_members_per_order(scripted_judge, tmp_path):
    answers = {"j1": "A", "j2": "A", "j3": "B"}
    scripted_judge.policy = lambda body: answers[body["model"]]
    members = [scripted_judge.judge_model(TEMPLATE, name) for name in answers]
    panel = Panel(name="trio", members=tuple(answers))
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    battle = battles(1)[0]
    log.record_battle(battle)
    run = JudgeRun(judges=members, template=TEMPLATE, panel=panel)
    report = judge([battle], LogSink(log), run)
    assert (report.asked, report.stored) == (6, 8)
    verdicts = [r for r in log.iter_battles(mode="judge")]
    combined = [v for v in verdicts if v.judge["panel"] == "trio"]
    assert {v.judge["order"] for v in combined} == {"original", "swapped"}
    for verdict in combined:
        assert verdict.winner == "model_a" and verdict.rater_hash == "judge:trio"
        assert verdict.judge["member_winners"] == {"j1": "model_a", "j2": "model_a",
                                                   "j3": "model_b"}
        assert all(log.has_battle(member) for member in verdict.judge["members"])
    again = judge([battle], LogSink(log), run)  # resumed: nothing asked, nothing added
    assert (again.asked, again.stored, again.already) == (0, 0, 8)
    log.close()
    assert majority(["model_a", "model_b", "tie"]) == "tie"
    assert majority(["model_b", "model_b"]) == "model_b"
    with pytest.raises(PanelError, match="two or more"):
        Panel(name="solo", members=("j1",))


def test_a_whole_last_line_is_kept_and_a_file_that_is_not_jsonl_is_left_untouched(
        scripted_judge, tmp_path):
    scripted_judge.policy = lambda body: "B"
    run = JudgeRun(judges=[scripted_judge.judge_model(TEMPLATE)], template=TEMPLATE)
    log = battles(1)
    path = tmp_path / "verdicts.jsonl"
    sink = JsonlSink(path)
    judge(log, sink, run)
    sink.close()
    path.write_bytes(path.read_bytes().rstrip(b"\n"))  # whole, but without its newline
    sink = JsonlSink(path)
    again = judge(log, sink, run)
    sink.close()
    assert (again.asked, again.already) == (0, 2)
    assert len(stored(path)) == 2
    fastchat = tmp_path / "clean_battle.json"
    fastchat.write_text('[{"model_a": "x", "model_b": "y", "winner": "model_a"}]')
    before = fastchat.read_bytes()
    with pytest.raises(ImportFailed, match="not a JSON Lines file of verdicts"):
        JsonlSink(fastchat)
    assert fastchat.read_bytes() == before
