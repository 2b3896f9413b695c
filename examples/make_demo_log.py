"""Write a realistic synthetic vote log (our JSONL export format) with known, planted effects.

Offline and deterministic for a given --seed. The notebooks in `notebooks/` read it; so can
`arena ratings`, `arena import` and anything else that takes our export. What is in it:

- 8 fictional models with true ratings (Elo points, mean 1000) and per-category offsets;
- every battle a full `BattleRecord`: system prompt, one to three user turns, both sides'
  `GenerationRecord`s (messages, every sampling parameter, seed, timings, token counts);
- answers with model-specific length and markdown habits (headers, list items, bold spans);
- outcomes drawn from Bradley-Terry with a planted left-side advantage, a planted style effect
  (longer answers and more list items win more often), ties and "both bad" votes;
- about 400 ordinary raters plus a few planted bad ones (about 30 votes each): "both-bad
  spammers" who always click "both are bad", "left-clickers" who always pick the left side,
  and "contrarians" who always vote for the weaker model;
- some abandoned battles, some failed ones, some named-mode battles and identity-leak flags,
  which a leaderboard must leave out.

The true values go to `<out>.truth.json` next to the log, so a notebook can set what the
ratings engine recovers beside what was planted.

    .venv/bin/python examples/make_demo_log.py --out data/demo/battles.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from arena.record import BattleRecord, Turn  # noqa: E402
from serving.records import GenerationRecord  # noqa: E402

# name: (true rating, mean answer words, headers per answer, list items, bold spans)
MODELS: dict[str, tuple[float, float, float, float, float]] = {
    "aurora-70b": (1110.0, 60, 0.8, 3.0, 1.5),
    "borealis-34b": (1075.0, 45, 0.3, 1.5, 0.8),
    "cirrus-13b": (1030.0, 40, 0.2, 1.0, 0.5),
    "delta-8b": (990.0, 95, 1.5, 6.0, 3.0),  # verbose and list-happy: style flatters it
    "ember-8b": (1000.0, 35, 0.1, 0.8, 0.3),
    "fjord-7b": (975.0, 30, 0.1, 0.5, 0.2),
    "glacier-3b": (940.0, 40, 0.6, 2.5, 1.2),
    "haze-1b": (880.0, 25, 0.0, 0.3, 0.1),
}
# Elo-point offsets per category (a model's rating there = true rating + offset).
CATEGORY_OFFSETS: dict[str, dict[str, float]] = {
    "coding": {"aurora-70b": 40, "fjord-7b": 60, "glacier-3b": -50},
    "writing": {"delta-8b": 40, "borealis-34b": -30},
    "math": {"cirrus-13b": 60, "ember-8b": -40},
    "chat": {},
}
CATEGORY_SHARE = {"coding": 0.3, "writing": 0.25, "math": 0.15, "chat": 0.3}
POINTS_PER_LOGIT = 400 / math.log(10)
LEFT_ADVANTAGE_LOGIT = 0.12
STYLE_EFFECTS_LOGIT = {"tokens": 0.35, "headers": 0.0, "lists": 0.15, "bold": 0.05}
TIE_SHARE, BOTHBAD_SHARE = 0.16, 0.05
# How many planted bad raters of each kind, and the share of all votes each kind casts.
BAD_RATERS = {"spammer": (3, 0.03), "left": (3, 0.03), "contrarian": (2, 0.02)}
SYSTEM_PROMPT = "You are a helpful assistant."

PROMPTS = {
    "coding": ["How do I reverse a linked list in {lang}?", "Why does my {lang} loop never end?",
               "Write a {lang} function that parses dates.", "Explain closures in {lang}."],
    "writing": ["Write a short poem about {topic}.", "Draft an email declining a meeting "
                "about {topic}.", "Give me three titles for an essay on {topic}."],
    "math": ["What is the derivative of x^{n} * sin(x)?", "Is {n}07 a prime number?",
             "Explain the birthday paradox with {n} people."],
    "chat": ["What should I cook tonight with {topic}?", "Tell me a fun fact about {topic}.",
             "How do I stay motivated when learning about {topic}?"],
}
FILL = {"lang": ["Python", "Rust", "Go", "C", "JavaScript"],
        "topic": ["glaciers", "autumn", "trains", "bees", "the sea", "lentils", "chess"],
        "n": ["2", "3", "5", "7", "23"]}
WORDS = ("the a model answer step value loop list first then because result check simple "
         "example note data output input function time case way better also each part "
         "start end use make works clear short idea point").split()


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's multiplication method; fine for the small means used here."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _prompt(rng: random.Random, category: str) -> str:
    template = rng.choice(PROMPTS[category])
    for key, values in FILL.items():
        template = template.replace("{" + key + "}", rng.choice(values))
    return template


def _answer(rng: random.Random, model: str) -> tuple[str, int]:
    """An answer in the model's style, and its completion-token count (~1.3 per word)."""
    _, words, headers, lists, bold = MODELS[model]
    n_words = max(3, int(rng.lognormvariate(math.log(words), 0.45)))
    parts: list[str] = []
    for _ in range(_poisson(rng, headers)):
        parts.append(f"## {' '.join(rng.choices(WORDS, k=2)).title()}")
    body = rng.choices(WORDS, k=n_words)
    for _ in range(_poisson(rng, bold)):
        at = rng.randrange(len(body))
        body[at] = f"**{body[at]}**"
    parts.append(" ".join(body).capitalize() + ".")
    for _ in range(_poisson(rng, lists)):
        parts.append(f"- {' '.join(rng.choices(WORDS, k=rng.randint(3, 7)))}")
    return "\n".join(parts), int(round(n_words * 1.3))


def _generation(rng: random.Random, model: str, port: int, messages: list[dict[str, str]],
                sent: datetime, fail: bool) -> GenerationRecord:
    seed = rng.randrange(2**31)
    params = {"temperature": 0.7, "top_p": 0.95, "top_k": 0, "min_p": 0.0, "max_tokens": 1024,
              "seed": seed, "repetition_penalty": 1.0, "presence_penalty": 0.0,
              "frequency_penalty": 0.0, "stop": []}
    record = GenerationRecord(endpoint=f"http://127.0.0.1:{port}", served_model=model,
                              messages=[dict(m) for m in messages], params=params, seed=seed,
                              started_at=sent, extra={"endpoint_name": model})
    if fail:
        record.error = "connection lost mid-stream: RemoteProtocolError: peer closed connection"
        record.finished_at = sent + timedelta(seconds=float(rng.uniform(0.5, 3)))
        return record
    text, tokens = _answer(rng, model)
    first = float(rng.uniform(0.05, 0.4))
    record.output = text
    record.first_token_at = sent + timedelta(seconds=first)
    record.finished_at = sent + timedelta(seconds=first + tokens / float(rng.uniform(25, 60)))
    record.prompt_tokens = sum(len(m["content"].split()) for m in messages) * 13 // 10 + 8
    record.completion_tokens = tokens
    record.finish_reason = "stop"
    record.response_model = model
    return record


def _style_counts(text: str) -> dict[str, int]:
    lines = text.splitlines()
    return {"headers": sum(line.startswith("## ") for line in lines),
            "lists": sum(line.startswith("- ") for line in lines),
            "bold": text.count("**") // 2}


def demo_battles(battles: int = 3000, seed: int = 7) -> tuple[list[BattleRecord], dict[str, Any]]:
    """The battles and the planted truth (see the module docstring)."""
    rng = random.Random(seed)
    names = list(MODELS)
    ports = {name: 8101 + i for i, name in enumerate(names)}
    categories = list(CATEGORY_SHARE)
    ordinary = [f"rater-{i:04d}" for i in range(400)]
    activity = list(np.cumsum(1 / np.arange(1, len(ordinary) + 1) ** 0.8))
    bad = {kind: [f"rater-{kind}{i}" for i in range(count)]
           for kind, (count, _) in BAD_RATERS.items()}
    edges = list(np.cumsum([share for _, share in BAD_RATERS.values()]))
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    moments = sorted(rng.uniform(0, 28 * 86400) for _ in range(battles))

    drafts = []
    for number in range(battles):
        model_a, model_b = rng.sample(names, 2)
        category = rng.choices(categories, weights=list(CATEGORY_SHARE.values()))[0]
        turns_n = rng.choices([1, 2, 3], weights=[0.75, 0.2, 0.05])[0]
        u = rng.random()
        status = "voted" if u < 0.93 else ("abandoned" if u < 0.98 else "error")
        started = start + timedelta(seconds=float(moments[number]))
        conv_a = [{"role": "system", "content": SYSTEM_PROMPT}]
        conv_b = [{"role": "system", "content": SYSTEM_PROMPT}]
        turns = []
        for index in range(turns_n):
            prompt = _prompt(rng, category)
            conv_a.append({"role": "user", "content": prompt})
            conv_b.append({"role": "user", "content": prompt})
            sent = started + timedelta(seconds=25 * index)
            fail = status == "error" and index == turns_n - 1
            gen_a = _generation(rng, model_a, ports[model_a], conv_a, sent, False)
            gen_b = _generation(rng, model_b, ports[model_b], conv_b, sent, fail)
            conv_a.append({"role": "assistant", "content": gen_a.output})
            if not fail:
                conv_b.append({"role": "assistant", "content": gen_b.output})
            turns.append(Turn(index=index, prompt=prompt, generation_a=gen_a,
                              generation_b=gen_b))
        drafts.append((number, model_a, model_b, category, status, started, conv_a, conv_b,
                       turns))

    # Style features per battle, summed over turns, as the ratings engine counts them.
    features = {f: np.zeros((battles, 2)) for f in STYLE_EFFECTS_LOGIT}
    for row, (*_, turns) in enumerate(drafts):
        for side, key in ((0, "generation_a"), (1, "generation_b")):
            for turn in turns:
                generation = getattr(turn, key)
                features["tokens"][row, side] += generation.completion_tokens or 0
                for name, count in _style_counts(generation.output).items():
                    features[name][row, side] += count
    style_logit = np.zeros(battles)
    for name, effect in STYLE_EFFECTS_LOGIT.items():
        a, b = features[name][:, 0], features[name][:, 1]
        diff = (a - b) / (a + b + 1)
        style_logit += effect * (diff - diff.mean()) / (diff.std() or 1)

    records = []
    for row, (number, model_a, model_b, category, status, started, conv_a, conv_b, turns) in \
            enumerate(drafts):
        offsets = CATEGORY_OFFSETS[category]
        rating_a = MODELS[model_a][0] + offsets.get(model_a, 0.0)
        rating_b = MODELS[model_b][0] + offsets.get(model_b, 0.0)
        logit = (rating_a - rating_b) / POINTS_PER_LOGIT + LEFT_ADVANTAGE_LOGIT + style_logit[row]
        draw = rng.random()
        kind = next((k for k, edge in zip(BAD_RATERS, edges, strict=True) if draw < edge), None)
        judge = (rng.choice(bad[kind]) if kind is not None
                 else rng.choices(ordinary, cum_weights=activity)[0])
        if kind == "spammer":
            winner = "tie (bothbad)"
        elif kind == "left":
            winner = "model_a"
        elif kind == "contrarian":
            winner = "model_a" if rating_a < rating_b else "model_b"
        else:
            u = rng.random()
            if u < BOTHBAD_SHARE:
                winner = "tie (bothbad)"
            elif u < BOTHBAD_SHARE + TIE_SHARE:
                winner = "tie"
            else:
                winner = "model_a" if rng.random() < 1 / (1 + math.exp(-logit)) else "model_b"
        ended = started + timedelta(seconds=25 * len(turns) + 10)
        voted = status == "voted"
        record = BattleRecord(
            battle_id=f"demo-{number:06d}", mode="named" if rng.random() < 0.04 else "anonymous",
            model_a=model_a, model_b=model_b, conversation_a=conv_a, conversation_b=conv_b,
            turns=turns, started_at=started, ended_at=ended, status=status,
            rater_hash=judge, system_prompt_a=SYSTEM_PROMPT, system_prompt_b=SYSTEM_PROMPT,
            winner=winner if voted else None, voted_at=ended if voted else None,
            end_reason={"voted": "vote", "abandoned": "new_round",
                        "error": "generation_error"}[status],
            pair_policy="uniform", pair_probability=1 / 28, side_seed=rng.randrange(2**31),
            flags=["identity_leak"] if rng.random() < 0.01 else [], language="English",
            category=category, app_version="demo",
        )
        record.validate()
        records.append(record)

    truth = {
        "seed": seed, "battles": battles,
        "true_ratings": {name: spec[0] for name, spec in MODELS.items()},
        "category_offsets": CATEGORY_OFFSETS,
        "left_advantage_logit": LEFT_ADVANTAGE_LOGIT,
        "left_advantage_elo": LEFT_ADVANTAGE_LOGIT * POINTS_PER_LOGIT,
        "style_effects_logit": STYLE_EFFECTS_LOGIT,
        "tie_share": TIE_SHARE, "bothbad_share": BOTHBAD_SHARE,
        "bad_raters": bad,
    }
    return records, truth


def write_demo_log(out: Path, battles: int = 3000, seed: int = 7) -> dict[str, Any]:
    """Write the log to `out` and the truth to `<out>.truth.json`; returns the truth."""
    records, truth = demo_battles(battles, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as stream:
        for record in records:
            stream.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
    out.with_name(out.name + ".truth.json").write_text(json.dumps(truth, indent=2) + "\n",
                                                       encoding="utf-8")
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/demo/battles.jsonl"))
    parser.add_argument("--battles", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    began = time.perf_counter()
    write_demo_log(args.out, args.battles, args.seed)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {args.out}: {args.battles:,} battles, {len(MODELS)} models, {size:.1f} MB "
          f"in {time.perf_counter() - began:.1f} s (truth in {args.out.name}.truth.json)")


if __name__ == "__main__":
    main()
