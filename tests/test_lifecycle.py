"""Model lifecycle in-process: the `state` of a `[[models]]` entry, the sampler that never draws
a retired model (with pair probabilities over the models it could draw), the states shared by
every worker through Redis, a reload that takes effect without a restart while battles in
flight finish, and the states a battle keeps to its record.

The real BattleService over the session's Redis and a SQLite file
(tests/fixtures/battle_service.py); the reload goes through the same function `arena models
reload` and SIGHUP use (`publish_config_states`). The CLI and the real `arena serve` are in
tests/test_lifecycle_serve.py.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import pytest
from fixtures.battle_service import drain, kinds

from arena.battles import Contender
from arena.battles.lifecycle import RetiredModel
from arena.battles.sampling import NotEnoughModels, PairSampler
from arena.commands.models import publish_config_states
from arena.errors import RateLimited, Unavailable
from arena.labels import LABELLER_VERSION
from serving.config import ModelConfigError, parse_models_config

OWNER = "lifecycle-rater"
NAMES = ("alpha", "bravo", "charlie", "delta")
FOUR = {name: Contender(name, f"You are {name}.") for name in NAMES}


def models_toml(states: dict[str, str]) -> str:
    """A config whose models (remote, never contacted here) have these states ("" = no key)."""
    return "".join(
        f'[[models]]\nname = "{name}"\nbase_url = "http://127.0.0.1:9/{name}"\n'
        + (f'state = "{state}"\n' if state else "")
        for name, state in states.items()
    )


def write_config(path: Path, states: dict[str, str]) -> Path:
    path.write_text(models_toml(states), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ config
def test_state_is_read_per_model_and_defaults_to_active():
    import tomllib

    config = parse_models_config(tomllib.loads(models_toml(
        {"alpha": "preview", "bravo": "", "charlie": "retired"})))
    assert config.states() == {"alpha": "preview", "bravo": "active", "charlie": "retired"}


@pytest.mark.parametrize("value", ['"deprecated"', '"Active"', "1", "true"])
def test_an_unknown_state_is_a_config_error_naming_the_model_and_the_choices(value):
    import tomllib

    text = '[[models]]\nname = "alpha"\nbase_url = "http://127.0.0.1:9"\nstate = ' + value
    with pytest.raises(ModelConfigError, match=r"models\[0\] \(alpha\)\.state") as error:
        parse_models_config(tomllib.loads(text))
    assert "preview" in str(error.value) or "must be str" in str(error.value)


# ----------------------------------------------------------------------------------- sampler
@pytest.mark.parametrize("policy", ["uniform", "weighted", "balanced", "active"])
def test_retired_models_leave_before_pair_probabilities_are_computed(policy):
    weights = {"alpha": 3.0, "bravo": 1.0, "charlie": 2.0, "delta": 0.5}
    counts = {("alpha", "bravo"): 4, ("alpha", "charlie"): 1, ("bravo", "delta"): 2,
              ("alpha", "delta"): 3, ("bravo", "charlie"): 5, ("charlie", "delta"): 6}
    sampler = PairSampler(policy, weights=weights)
    with_retired = sampler.distribution(list(NAMES), counts, retired={"charlie"})
    without = sampler.distribution(["alpha", "bravo", "delta"], counts)
    assert with_retired == pytest.approx(without)
    assert all("charlie" not in pair for pair in with_retired)
    assert sum(with_retired.values()) == pytest.approx(1.0)
    # The logged probability is that of the drawn pair among the pairs left, and the draws
    # follow it.
    rng = random.Random(7)
    draws = [sampler.sample(list(NAMES), counts, rng, retired={"charlie"}) for _ in range(4000)]
    seen = Counter(frozenset(choice.pair) for choice in draws)
    assert "charlie" not in {name for pair in seen for name in pair}
    for choice in draws[:50]:
        assert choice.probability == pytest.approx(with_retired[frozenset(choice.pair)])
    for pair, p in with_retired.items():
        assert seen[pair] / len(draws) == pytest.approx(p, abs=0.03)


def test_too_few_models_left_after_retiring_says_which_are_retired():
    with pytest.raises(NotEnoughModels, match=r"retired: \['bravo', 'charlie'\]"):
        PairSampler("uniform").sample(["alpha", "bravo", "charlie"], {}, random.Random(0),
                                      retired={"bravo", "charlie"})


# ------------------------------------------------------------------------------- the service
async def battle_pairs(arena, count: int, session: str = OWNER) -> list[dict]:
    """`count` anonymous battles to the end of their first turn; their live states."""
    states = []
    for index in range(count):
        battle_id, events = await arena.battle(f"{session}-{index}", f"Question {index}?")
        assert kinds(events)[-1] == "ready"
        states.append(await arena.live.get_battle(battle_id))
    return states


async def test_retired_models_are_never_sampled_and_preview_ones_are(make_arena):
    arena = make_arena(models=FOUR)
    await arena.live.set_model_states(
        {"alpha": "active", "bravo": "preview", "charlie": "retired", "delta": "active"})
    states = await battle_pairs(arena, 30)
    met = Counter(name for s in states for name in (s["model_a"], s["model_b"]))
    assert met["charlie"] == 0
    assert met["bravo"] > 0  # preview models battle like active ones
    for state in states:
        # Uniform over the three pairs of the three models that may battle.
        assert state["pair_probability"] == pytest.approx(1 / 3)
        for side in "ab":
            expected = "preview" if state[f"model_{side}"] == "bravo" else "active"
            assert state[f"model_state_{side}"] == expected


async def test_a_named_battle_with_a_retired_model_is_refused_and_costs_no_battle(make_arena):
    arena = make_arena(models=FOUR, battles_per_minute=1)
    await arena.live.set_model_states({"charlie": "retired"})
    with pytest.raises(RetiredModel) as refused:
        await arena.service.start(OWNER, "Hi", mode="named", models=("alpha", "charlie"))
    assert refused.value.status == 409 and refused.value.code == "model_retired"
    assert "'charlie' is retired" in refused.value.message
    assert "alpha, bravo, delta" in refused.value.message
    # The refusal did not count against the rater's one battle a minute.
    battle_id, events = await arena.battle(OWNER, mode="named", models=("delta", "alpha"))
    state = await arena.live.get_battle(battle_id)
    assert (state["model_state_a"], state["model_state_b"]) == ("active", "active")
    with pytest.raises(RateLimited):
        await arena.battle(OWNER)


async def test_a_reload_takes_effect_without_a_restart_and_battles_in_flight_finish(
        make_arena, tmp_path: Path):
    arena = make_arena(models=FOUR)
    other_worker = make_arena(like=arena, models=FOUR)
    config = write_config(tmp_path / "arena.toml", {name: "active" for name in NAMES})
    await asyncio.to_thread(publish_config_states, config, arena.redis_url, prefix=arena.prefix)
    # A battle with charlie, stalled mid-answer while the states change.
    arena.models.script("charlie", ending="stall", after=1)
    battle_id, stream = await arena.service.start(OWNER, "Tell me more", mode="named",
                                                  models=("charlie", "alpha"))
    in_flight = asyncio.create_task(drain(stream))

    write_config(config, {"alpha": "active", "bravo": "active", "charlie": "retired",
                          "delta": "preview"})
    before, after = await asyncio.to_thread(publish_config_states, config, arena.redis_url,
                                            prefix=arena.prefix)
    assert before["charlie"] == "active" and after["charlie"] == "retired"

    arena.models.release()
    assert kinds(await in_flight)[-1] == "ready"  # it finishes...
    arena.models.script("charlie")
    follow_up = await arena.follow_up(battle_id, OWNER, "And then?")  # ...and goes on
    assert kinds(follow_up)[-1] == "ready"
    await arena.service.vote(battle_id, OWNER, "model_a")
    voted = await arena.live.get_battle(battle_id)
    assert voted["status"] == "voted"
    # New battles, on either worker, use the new states at once.
    for worker in (arena, other_worker):
        states = await battle_pairs(worker, 12, session=f"{OWNER}-{id(worker)}")
        assert all("charlie" not in (s["model_a"], s["model_b"]) for s in states)
        assert all(s["pair_probability"] == pytest.approx(1 / 3) for s in states)
        assert {s[f"model_state_{side}"] for s in states for side in "ab"} <= {
            "active", "preview"}
    with pytest.raises(RetiredModel):
        await other_worker.service.start(OWNER, "Hi", mode="named", models=("bravo", "charlie"))


async def test_a_config_with_a_wrong_state_changes_nothing_on_reload(make_arena, tmp_path):
    arena = make_arena(models=FOUR)
    await arena.live.set_model_states({"charlie": "retired"})
    config = tmp_path / "arena.toml"
    config.write_text(models_toml({"alpha": "active", "charlie": "gone"}), encoding="utf-8")
    with pytest.raises(ModelConfigError, match="charlie"):
        await asyncio.to_thread(publish_config_states, config, arena.redis_url,
                                prefix=arena.prefix)
    assert await arena.live.model_states() == {"charlie": "retired"}


async def test_a_flushed_live_state_does_not_bring_a_retired_model_back(make_arena,
                                                                        own_redis_url):
    arena = make_arena(models=FOUR, redis_url=own_redis_url)
    configured = {"alpha": "active", "bravo": "active", "charlie": "retired",
                  "delta": "active"}
    await arena.live.set_model_states(configured)
    await battle_pairs(arena, 1)  # this worker has read the states once
    await arena.live.client.flushall()
    states = await battle_pairs(arena, 12, session=f"{OWNER}-after-flush")
    assert all("charlie" not in (s["model_a"], s["model_b"]) for s in states)
    assert await arena.live.model_states() == configured  # written back for every worker


async def test_a_worker_that_never_read_the_states_uses_the_ones_it_was_given(make_arena):
    arena = make_arena(models=FOUR)  # nothing published: the prefix is new
    arena.service.states.remember({"alpha": "retired", "bravo": "retired"})
    states = await battle_pairs(arena, 6)
    assert {s["model_a"] for s in states} | {s["model_b"] for s in states} == {
        "charlie", "delta"}
    assert await arena.live.model_states() == {"alpha": "retired", "bravo": "retired"}


async def test_no_battle_starts_when_fewer_than_two_models_may_battle(make_arena):
    arena = make_arena(models=FOUR)
    await arena.live.set_model_states({"alpha": "retired", "bravo": "retired",
                                       "charlie": "retired"})
    with pytest.raises(Unavailable, match="fewer than two models"):
        await arena.service.start(OWNER, "Hi")


# ------------------------------------------------------------------------------ the record
async def test_the_record_keeps_the_states_in_force_when_the_battle_started(make_arena):
    arena = make_arena(models=FOUR)
    await arena.live.set_model_states({"alpha": "preview", "charlie": "retired"})
    voted, _ = await arena.battle(OWNER, mode="named", models=("alpha", "bravo"))
    left, _ = await arena.battle(f"{OWNER}-2", mode="named", models=("delta", "alpha"))
    # Retiring alpha later changes neither record: they keep the states they started with.
    await arena.live.set_model_states({"alpha": "retired", "charlie": "retired"})
    await arena.service.vote(voted, OWNER, "tie")
    assert await arena.service.end(left, f"{OWNER}-2")
    record = arena.logged(voted)
    assert (record.model_state_a, record.model_state_b) == ("preview", "active")
    abandoned = arena.logged(left)
    assert abandoned.status == "abandoned"
    assert (abandoned.model_state_a, abandoned.model_state_b) == ("active", "preview")


async def test_every_record_a_battle_ends_with_is_labelled(make_arena):
    arena = make_arena(models=FOUR)
    voted, _ = await arena.battle(
        OWNER, "Écris une fonction Python qui trie une liste de nombres, s'il te plaît.")
    await arena.follow_up(voted, OWNER, "Et maintenant, explique la complexité de cet "
                                        "algorithme en quelques phrases.")
    await arena.service.vote(voted, OWNER, "model_b")
    abandoned, _ = await arena.battle(f"{OWNER}-2", "Wie spät ist es jetzt in Berlin, bitte?")
    assert await arena.service.end(abandoned, f"{OWNER}-2")
    arena.models.script("delta", ending="error")
    failed, _ = await arena.battle(f"{OWNER}-3", "Wie spät ist es jetzt in Berlin, bitte?",
                                   mode="named", models=("alpha", "delta"))

    record = arena.logged(voted)
    assert {"code", "lang:fr", "multi_turn"} <= set(record.labels)
    assert record.labels == sorted(set(record.labels))
    assert record.language == "fr" and record.labeller_version == LABELLER_VERSION
    for battle_id, status in ((abandoned, "abandoned"), (failed, "error")):
        record = arena.logged(battle_id)
        assert record.status == status
        assert "lang:de" in record.labels and "multi_turn" not in record.labels
        assert record.language == "de" and record.labeller_version == LABELLER_VERSION
