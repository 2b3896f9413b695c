"""The LLM labeller (arena.labels.llm): a real vLLM server judges the hard-prompt criteria
through structured outputs, so every answer parses, even from a tiny random-weight model;
without an answer the heuristic labels stay and the battle is retried on the next run."""

from __future__ import annotations

import pytest
from factories import make_battle

from arena.labels import CRITERIA, LABELLER_VERSION, label_record
from arena.labels.llm import JSON_SCHEMA, LlmLabeller, parse_criteria
from serving.client import Endpoint
from serving.config import SamplingSettings

PROMPTS = [
    ["Write a Python function that merges two sorted lists."],
    ["Bonjour ! Quel est ton livre préféré ?"],
    ["Design a sharded rate limiter for our API gateway and explain its failure modes.",
     "Now estimate its memory use for 10 million clients."],
]


def test_only_the_schemas_object_of_seven_booleans_is_an_answer():
    every = dict.fromkeys(CRITERIA, True)
    assert parse_criteria('{"specificity": true}') is None
    assert parse_criteria("not json") is None
    assert parse_criteria('{"specificity": "yes"}') is None
    assert parse_criteria(str(every).replace("'", '"').replace("True", "true")) == set(CRITERIA)
    assert JSON_SCHEMA["required"] == list(CRITERIA)
    assert JSON_SCHEMA["additionalProperties"] is False


def test_without_an_answer_the_heuristic_labels_and_version_stay_for_a_retry():
    labeller = LlmLabeller(endpoint=Endpoint(name="down", base_url="http://127.0.0.1:9",
                                             model="down"),
                           model_name="down", params=SamplingSettings().request_params())
    try:
        battle = make_battle(prompts=PROMPTS[0])
        assert labeller(battle) == label_record(battle)
        assert labeller.failures == 1
    finally:
        labeller.close()


@pytest.mark.vllm
def test_a_vllm_model_labels_every_battle_with_parseable_criteria(vllm_servers):
    labeller = LlmLabeller.for_model(vllm_servers.spec("tiny-a"), SamplingSettings())
    try:
        labeller.check()
        for prompts in PROMPTS:
            battle = make_battle(prompts=prompts)
            labelled = labeller(battle)
            heuristic = label_record(battle)
            assert labelled.labeller_version == f"{LABELLER_VERSION}+llm-1:tiny-a"
            criteria = [label for label in labelled.labels if label.startswith("hard:")]
            assert ("hard_prompt" in labelled.labels) == (len(criteria) >= 6)
            # The model judges only the criteria; language, code, math ... stay heuristic.
            rest = [label for label in heuristic.labels
                    if not label.startswith("hard")]
            assert [label for label in labelled.labels if not label.startswith("hard")] == rest
            assert labelled.language == heuristic.language
        assert labeller.failures == 0
    finally:
        labeller.close()
