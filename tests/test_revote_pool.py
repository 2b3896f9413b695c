"""The replay pool without a server: what it loads and skips, how it chooses, how it lays out
sides, how it cuts text into stream pieces."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from factories import make_battle
from fixtures.replay_server import ORIGINALS, SKIPPED, original_battles

from arena.battles.revoting import PoolExhausted, revote_sides, text_chunks
from arena.battles.sampling import assign_sides
from arena.revote.pool import ReplayPool, ReplayPoolError


@pytest.fixture
def pool(tmp_path) -> ReplayPool:
    path = tmp_path / "log.jsonl"
    battles = original_battles()
    lines = [json.dumps(b.to_dict()) for b in battles]
    lines.append(lines[0])  # a duplicate
    lines.append("{broken")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ReplayPool.load(path)


def test_the_pool_keeps_replayable_battles_and_counts_the_rest_by_reason(pool):
    assert len(pool) == ORIGINALS
    assert pool.skipped == Counter({**SKIPPED, "duplicate battle_id": 1, "not valid JSON": 1})
    assert pool.summary().startswith(f"loaded {ORIGINALS} battles from ")
    assert "skipped 5: " in pool.summary()


def test_the_pool_skips_failed_generations_and_self_battles(tmp_path):
    consented = {"publish_consent": True, "terms_version": "1"}
    failed = make_battle(**consented)
    failed.turns[0].generation_b.error = "HTTP 500"
    same = make_battle(model_a="m", model_b="m", **consented)
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(b.to_dict()) + "\n"
                            for b in (failed, same, make_battle(**consented))), encoding="utf-8")
    loaded = ReplayPool.load(path)
    assert len(loaded) == 1
    assert loaded.skipped == Counter({"a generation failed or never finished": 1,
                                      "both sides are the same model": 1})


def test_the_pool_skips_judge_verdicts_which_repeat_a_battle_in_shown_order(tmp_path):
    consented = {"publish_consent": True, "terms_version": "1"}
    battle = make_battle(**consented)
    verdict = make_battle(
        **consented, mode="judge", replay_of=battle.battle_id, rater_hash="judge:tiny-a",
        model_a=battle.model_b, model_b=battle.model_a,
        judge={"model": "tiny-a", "template": "pairwise-v1", "template_hash": "sha256:00",
               "order": "swapped", "raw_output": "A", "choice_logprobs": None,
               "generation": battle.turns[0].generation_a.to_dict(), "panel": None})
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(b.to_dict()) + "\n" for b in (battle, verdict)),
                    encoding="utf-8")
    loaded = ReplayPool.load(path)
    assert len(loaded) == 1
    assert loaded.skipped == Counter({"an LLM judge's verdict, not a battle": 1})


def test_only_battles_whose_rater_agreed_to_publish_are_shown_unless_the_operator_says(
        tmp_path):
    """Re-voting shows strangers other raters' text: never asked and declined are left out,
    and counted, unless the operator loads the pool with require_consent=False."""
    agreed = make_battle(publish_consent=True, terms_version="1")
    declined = make_battle(publish_consent=False, terms_version="1")
    never_asked = make_battle()
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(b.to_dict()) + "\n"
                            for b in (agreed, declined, never_asked)), encoding="utf-8")
    loaded = ReplayPool.load(path)
    assert list(loaded.battles) == [agreed.battle_id]
    assert loaded.skipped == Counter({"its rater did not agree to publish the text": 2})
    everything = ReplayPool.load(path, require_consent=False)
    assert set(everything.battles) == {agreed.battle_id, declined.battle_id,
                                       never_asked.battle_id}
    unconsented = tmp_path / "unconsented.jsonl"
    unconsented.write_text(json.dumps(never_asked.to_dict()) + "\n", encoding="utf-8")
    with pytest.raises(ReplayPoolError, match="did not agree to publish"):
        ReplayPool.load(unconsented)


def test_choose_takes_the_fewest_replay_votes_among_battles_not_shown(pool):
    ids = list(pool.battles)
    votes = {battle_id: 2 for battle_id in ids}
    votes[ids[3]] = votes[ids[7]] = 1
    rng = random.Random(5)
    picks = Counter(pool.choose(set(), votes, rng) for _ in range(400))
    assert set(picks) == {ids[3], ids[7]}
    assert 150 < picks[ids[3]] < 250  # uniform among the tied (binomial sd = 10)
    assert pool.choose({ids[3]}, votes, rng) == ids[7]
    assert pool.choose({ids[3], ids[7]}, votes, rng) in ids
    with pytest.raises(PoolExhausted):
        pool.choose(set(ids), votes, rng)


def test_revote_sides_move_everything_of_a_side_with_its_model():
    original = make_battle(turn_count=2, model_a="left-model", model_b="right-model",
                           system_prompt_a="Sys A", system_prompt_b="Sys B")
    seeds = {assign_sides(("left-model", "right-model"), s)[0]: s for s in range(50)}
    kept = revote_sides(original, seeds["left-model"])
    flipped = revote_sides(original, seeds["right-model"])
    assert not kept["swapped"] and flipped["swapped"]
    assert (flipped["model_a"], flipped["model_b"]) == ("right-model", "left-model")
    assert flipped["system_prompt_a"] == "Sys B"
    assert flipped["conversation_a"] == original.conversation_b
    for turn, logged in zip(flipped["turns"], original.turns, strict=True):
        assert turn["prompt"] == logged.prompt
        assert turn["generation_a"] == logged.generation_b.to_dict()
        assert turn["generation_b"] == logged.generation_a.to_dict()
    assert kept["turns"][0]["generation_a"] == original.turns[0].generation_a.to_dict()


@pytest.mark.parametrize("text", ["", "short", "word " * 40, "x" * 130, "naïve 😀 " * 17])
def test_text_chunks_join_back_to_the_text(text):
    pieces = text_chunks(text)
    assert "".join(pieces) == text
    assert all(0 < len(piece) <= 48 for piece in pieces)
