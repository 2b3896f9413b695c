"""arena.judge.live.LiveJudge: voted battles judged in the background through the arena's
record writer, never in the rater's path: `submit` returns at once, a full queue drops and
counts, a failing judge leaves the human log alone. The judge is the scripted endpoint."""

from __future__ import annotations

import threading
import tomllib

import pytest
from factories import make_battle
from fixtures.judge_endpoint import Refuse

from arena.config import ArenaSettings
from arena.judge import load_template
from arena.judge.live import LiveJudge, live_judge_for
from arena.store import BattleLog
from arena.store.group_writer import GroupWriter
from serving.client import make_http_client
from serving.config import parse_models_config

TEMPLATE = load_template()


async def test_voted_battles_are_judged_in_both_orders_in_the_background(scripted_judge,
                                                                         tmp_path):
    release = threading.Event()

    def slow_first(body):
        release.wait(30)  # the judge is busy until the test lets it answer
        return "A"

    scripted_judge.policy = slow_first
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    writer = GroupWriter(log)
    battles = [make_battle(turn_count=1) for _ in range(5)]
    for battle in battles:
        await writer.write(battle)
    async with make_http_client() as http:
        live = LiveJudge(scripted_judge.judge_model(TEMPLATE), TEMPLATE, writer.write,
                         http=http, max_queue=2)
        await live.start()
        # No await between the submits: the worker cannot take one off the queue meanwhile.
        accepted = [live.submit(battle) for battle in battles]
        assert accepted == [True, True, False, False, False]
        assert not live.submit(make_battle(status="abandoned"))  # nothing to judge
        assert (live.stats.queued, live.stats.dropped) == (2, 3)
        release.set()
        await live.drain()
        await live.aclose()
    await writer.aclose()
    verdicts = list(log.iter_battles(mode="judge"))
    assert len(verdicts) == 4 and live.stats.stored == 4
    assert {v.replay_of for v in verdicts} == {b.battle_id for b in battles[:2]}
    assert {v.winner for v in verdicts} == {"model_a"}
    assert log.count_battles(mode="anonymous") == 5
    log.close()


async def test_a_failing_judge_is_counted_and_the_worker_goes_on(scripted_judge, tmp_path):
    answers = iter([Refuse(500, "out of memory"), "B", "B", "B"])
    scripted_judge.policy = lambda body: next(answers)
    log = BattleLog(f"sqlite:///{tmp_path / 'arena.db'}")
    writer = GroupWriter(log)
    async with make_http_client() as http:
        live = LiveJudge(scripted_judge.judge_model(TEMPLATE), TEMPLATE, writer.write,
                         http=http)
        await live.start()
        for battle in (make_battle(turn_count=1), make_battle(turn_count=1)):
            assert live.submit(battle)
        await live.drain()
        await live.aclose()
    await writer.aclose()
    assert (live.stats.judged, live.stats.failed, live.stats.stored) == (2, 1, 3)
    assert log.count_battles(mode="judge") == 3
    log.close()


async def test_the_config_names_the_live_judge_and_its_template(scripted_judge):
    serving = parse_models_config(tomllib.loads(scripted_judge.models_toml("judge-a", "m1")))
    async with make_http_client() as http:
        assert live_judge_for(ArenaSettings(), serving, None, http) is None  # off by default
        live = live_judge_for(ArenaSettings(judge_model="judge-a"), serving, None, http)
        assert live.judge.name == "judge-a" and live.template.name == "pairwise-v1"
        assert live.judge.params["structured_outputs"] == {"choice": ["A", "B", "tie"]}
        with pytest.raises(KeyError, match="no model named 'nobody'"):
            live_judge_for(ArenaSettings(judge_model="nobody"), serving, None, http)


async def test_a_vote_in_the_battle_service_queues_its_battle_for_the_judge(arena,
                                                                           scripted_judge):
    scripted_judge.policy = lambda body: "A"
    async with make_http_client() as http:
        live = LiveJudge(scripted_judge.judge_model(TEMPLATE), TEMPLATE,
                         arena.service.battles.write, http=http)
        arena.service.on_voted = live.submit  # as arena serve wires it ([arena] judge_model)
        await live.start()
        voted, _ = await arena.battle("rater-1")
        reveal = await arena.service.vote(voted, "rater-1", "model_b")
        left, _ = await arena.battle("rater-2")
        await arena.service.end(left, "rater-2")  # abandoned: nothing to judge
        await live.drain()
        await live.aclose()
    assert reveal is not None and live.stats.queued == 1
    verdicts = list(arena.log.iter_battles(mode="judge"))
    assert len(verdicts) == 2 and {v.replay_of for v in verdicts} == {voted}
    human = arena.logged(voted)
    assert human.winner == "model_b" and human.mode == "anonymous"  # the vote as it was
    assert {v.model_a for v in verdicts} == {human.model_a, human.model_b}
