"""The heuristic labeller (arena.labels): its accuracy on the labelled sets in
tests/data/labels/, and the rules of the labels it writes.

prompts.jsonl (development set): 64 battles' prompts written with the heuristics, in 21
languages (Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai, Chinese, Japanese and
Korean scripts), code in ten programming languages (fenced, pasted and asked for), math
(arithmetic, equations, LaTeX, proofs, word problems), chit-chat, multi-turn, long and hard
prompts, and traps (a date, "dress code"). holdout.jsonl: 24 more, written after the
heuristics were frozen and never tuned on (13 languages, Bengali script among them), so its
numbers are the honest ones. Each line holds the full label set a careful human gives the
prompts. The floors sit a little under the accuracy measured (docs/categories.md), so a change
that makes a label worse fails here.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from factories import make_battle

from arena.labels import CRITERIA, LABELLER_VERSION, LONG_QUERY_TOKENS, label_prompts, label_record
from arena.labels.language import detect_language
from arena.labels.text import token_estimate
from arena.record import InvalidRecord

SETS = Path(__file__).resolve().parent / "data" / "labels"


def read_set(name: str) -> list[dict]:
    return [json.loads(line)
            for line in (SETS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


ITEMS = read_set("prompts")
HOLDOUT = read_set("holdout")
# Accuracy floors: share of the set's battles on which the label's presence is right.
FLOORS = {
    "prompts": {"language": 0.95, "code": 0.95, "math": 0.93, "multi_turn": 1.0,
                "long_query": 1.0, "hard_prompt": 0.93,
                **{f"hard:{name}": 0.9 for name in CRITERIA}},
    "holdout": {"language": 0.95, "code": 0.9, "math": 0.8, "multi_turn": 1.0,
                "long_query": 1.0, "hard_prompt": 0.9,
                **{f"hard:{name}": 0.75 for name in CRITERIA}},
}


def accuracy(name: str, items: list[dict]) -> float:
    right = 0
    for item in items:
        found = label_prompts(item["prompts"])
        if name == "language":
            expected = next(label[5:] for label in item["labels"] if label.startswith("lang:"))
            right += found.language == expected
        else:
            right += (name in found.labels) == (name in item["labels"])
    return right / len(items)


@pytest.mark.parametrize(("which", "name"),
                         [(which, name) for which, floors in FLOORS.items() for name in floors])
def test_each_label_is_right_on_the_labelled_sets_at_least_as_often_as_its_floor(which, name):
    items = ITEMS if which == "prompts" else HOLDOUT
    measured = accuracy(name, items)
    floor = FLOORS[which][name]
    assert measured >= floor, f"{which} {name}: accuracy {measured:.3f} < {floor}"


def test_the_labelled_set_covers_what_the_docs_promise():
    labels = [set(item["labels"]) for item in ITEMS]
    languages = {label for found in labels for label in found if label.startswith("lang:")}
    assert len(languages) >= 20
    assert len({label for item in HOLDOUT for label in item["labels"]
                if label.startswith("lang:")} - languages) >= 4  # held out: new languages too
    assert {"lang:zh", "lang:ja", "lang:ko", "lang:ru", "lang:ar", "lang:hi"} <= languages
    for name in ("code", "math", "multi_turn", "long_query", "hard_prompt"):
        assert sum(name in found for found in labels) >= 2, name
    chit_chat = [found for found in labels if all(x.startswith("lang:") for x in found)]
    assert len(chit_chat) >= 15


# ------------------------------------------------------------------------------ the rules
def test_label_record_sets_sorted_unique_labels_language_and_version_and_nothing_else():
    record = make_battle(prompts=["Écris une fonction Python qui trie une liste.",
                                  "Et maintenant en Rust, s'il te plaît."], category="coding")
    labelled = label_record(record)
    assert labelled is not record and record.labels == [] and record.labeller_version is None
    assert labelled.labels == sorted(set(labelled.labels))
    assert {"code", "lang:fr", "multi_turn"} <= set(labelled.labels)
    assert (labelled.language, labelled.labeller_version) == ("fr", LABELLER_VERSION)
    assert replace(labelled, labels=[], language=record.language, labeller_version=None) == record
    labelled.validate()
    assert label_record(labelled) == labelled  # labelling again changes nothing


def test_only_the_raters_prompts_are_labelled_not_the_answers_or_system_prompts():
    record = make_battle(prompts=["Tell me about your favourite season."],
                         outputs=["```python\nprint('summer')\n```  $\\int x dx$"],
                         system_prompt_a="Always answer with code and equations.")
    assert "lang:en" in label_record(record).labels
    assert not {"code", "math"} & set(label_record(record).labels)


def test_a_battle_without_prompts_gets_no_labels_but_is_marked_labelled():
    record = make_battle(turn_count=0, status="abandoned", end_reason="tab_closed")
    labelled = label_record(record)
    assert (labelled.labels, labelled.language) == ([], record.language)
    assert labelled.labeller_version == LABELLER_VERSION


def test_a_record_without_turns_is_labelled_from_its_user_messages():
    record = make_battle(prompts=["Wie spät ist es in Tokio, wenn es in Berlin 9 Uhr ist?"])
    bare = replace(record, turns=[])
    assert label_record(bare).language == "de"


@pytest.mark.parametrize("text", ["hi", "42", "```python\nprint(1)\n```", "https://x.org/abc"])
def test_too_few_letters_to_tell_give_no_language(text: str):
    assert detect_language(text) is None


@pytest.mark.parametrize("text", ["Hello?", "Hola", "Danke"])
def test_a_short_greeting_no_common_language_fits_gets_no_language_rather_than_a_wrong_one(
    text: str,
):
    # n-gram scores of one word are near noise: "Hello?" ranks Breton, then Italian (0.03).
    assert detect_language(text) is None


@pytest.mark.parametrize(("text", "code"), [("What is 17 * 23?", "en"), ("Thank you!", "en"),
                                            ("Solve for x: 3x^2 - 12x + 9 = 0", "en")])
def test_a_short_prompt_with_a_plausible_common_language_keeps_it(text: str, code: str):
    assert detect_language(text) == code


def test_long_query_starts_at_the_stated_threshold():
    assert token_estimate("one two, three!") == 5  # three words, two marks
    assert token_estimate("你好世界") == 4
    just_under = ["word " * (LONG_QUERY_TOKENS - 1)]
    assert "long_query" not in label_prompts(just_under).labels
    assert "long_query" in label_prompts([*just_under, "again"]).labels


def test_hard_prompt_needs_six_of_the_seven_criteria():
    for item in ITEMS:
        labels = label_prompts(item["prompts"]).labels
        met = sum(label.startswith("hard:") for label in labels)
        assert ("hard_prompt" in labels) == (met >= 6), item["id"]


def test_records_refuse_unsorted_or_repeated_labels_and_unknown_model_states():
    record = make_battle()
    with pytest.raises(InvalidRecord, match="sorted and free of repeats"):
        replace(record, labels=["math", "code"]).validate()
    with pytest.raises(InvalidRecord, match="sorted and free of repeats"):
        replace(record, labels=["code", "code"]).validate()
    with pytest.raises(InvalidRecord, match="list of non-empty strings"):
        replace(record, labels="code").validate()  # type: ignore[arg-type]
    with pytest.raises(InvalidRecord, match="model_state_b 'gone' is not one of preview"):
        replace(record, model_state_b="gone").validate()


@pytest.mark.parametrize("text", [" " * 200_000 + "x", "\n" * 200_000 + "x", "a(" * 100_000,
                                  "x = (" * 50_000, "```\n" * 50_000, "$ a " * 50_000])
def test_pathological_prompts_are_labelled_in_bounded_time(text: str):
    started = time.perf_counter()
    label_prompts([text])
    assert time.perf_counter() - started < 2.0  # quadratic regexes took minutes here
