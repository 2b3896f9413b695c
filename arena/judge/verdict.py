"""A judge's verdict as a battle record (mode "judge"), stored and exported like a vote.

The record of the verdict on battle B in order O (docs/judge.md, "The verdict record"):

- `battle_id` = `verdict_id(B, judge model, template hash, O, run seed)`: the same question
  asked again has the same id, so a re-run finds what is already stored (resume);
- `replay_of` = B; `mode` "judge"; `status` "voted"; `rater_hash` "judge:<model>";
- the sides in the order the judge saw them: `model_a` is the model whose answer the judge
  read first ("original": B's left side; "swapped": B's right side), and conversations,
  system prompts, turns (each turn's generations) and model states follow that order, so the
  judge's position bias reads off `model_a` exactly like a rater's left-side bias;
- `winner` in FastChat's words relative to that order (the template's `winners` map);
- labels, language, category, flags, pair policy and probability and the rater's publication
  consent copied from B (the verdict carries B's text, so B's consent governs it);
- `judge`: model, template name and hash, order, run seed, raw output, the choices'
  log-probabilities (`choice_logprobs`) and the judge call's full `GenerationRecord`.

Times are the judge call's: started_at when it was sent, ended_at and voted_at when it ended.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from arena.judge.template import JudgeTemplate
from arena.record import BattleRecord, Turn
from serving.config import SEED_LIMIT
from serving.records import GenerationRecord

ORDERS = ("original", "swapped")


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def verdict_id(battle_id: str, model: str, template_hash: str, order: str, seed: int) -> str:
    """The id of a verdict: "judge-" + 32 hex digits of SHA-256 over what defines it."""
    return "judge-" + _digest(battle_id, model, template_hash, order, seed)[:32]


def call_seed(battle_id: str, model: str, order: str, seed: int) -> int:
    """The seed sent with one judge call, in [0, 2**31): derived from the run's `seed` so
    every call has its own, and a re-run with the same `seed` sends the same ones."""
    return int(_digest(seed, battle_id, model, order)[:15], 16) % SEED_LIMIT


def rater_of(model: str) -> str:
    """The `rater_hash` of a judge's verdicts: never a hash, so never a human's."""
    return f"judge:{model}"


def _swapped_turn(turn: Turn) -> Turn:
    return Turn(index=turn.index, prompt=turn.prompt, generation_a=turn.generation_b,
                generation_b=turn.generation_a)


def shown(battle: BattleRecord, order: str) -> dict[str, Any]:
    """The side-dependent fields of `battle` in the order the judge is shown them."""
    if order not in ORDERS:
        raise ValueError(f"order {order!r} is not one of {', '.join(ORDERS)}")
    if order == "original":
        return {"model_a": battle.model_a, "model_b": battle.model_b,
                "conversation_a": battle.conversation_a,
                "conversation_b": battle.conversation_b,
                "system_prompt_a": battle.system_prompt_a,
                "system_prompt_b": battle.system_prompt_b,
                "turns": list(battle.turns),
                "model_state_a": battle.model_state_a, "model_state_b": battle.model_state_b}
    return {"model_a": battle.model_b, "model_b": battle.model_a,
            "conversation_a": battle.conversation_b, "conversation_b": battle.conversation_a,
            "system_prompt_a": battle.system_prompt_b, "system_prompt_b": battle.system_prompt_a,
            "turns": [_swapped_turn(turn) for turn in battle.turns],
            "model_state_a": battle.model_state_b, "model_state_b": battle.model_state_a}


def choice_logprobs(generation: GenerationRecord, choices: tuple[str, ...]
                    ) -> dict[str, float | None] | None:
    """The judge's log-probability of each choice (natural log), or None when the server
    returned none (`generation.extra["logprobs"]`, kept by serving.client when asked for).

    The answer given: the sum of its generated tokens' log-probabilities. Any other choice:
    the first position's `top_logprobs` entry whose token is exactly that choice (a choice of
    one token, like "A" or "B"); None when it is not among them or takes several tokens.
    vLLM reports the model's own distribution before structured output masks it
    (logprobs_mode "raw_logprobs"), so the values say how sure the model was, unconstrained.
    """
    tokens = generation.extra.get("logprobs") if generation.extra else None
    if not tokens or not isinstance(tokens, list):
        return None
    given = generation.output.strip()
    first = tokens[0] or {}
    alternatives = {entry.get("token"): entry.get("logprob")
                    for entry in first.get("top_logprobs") or [] if isinstance(entry, dict)}
    values: dict[str, float | None] = {}
    for choice in choices:
        if choice == given:
            values[choice] = float(sum(float(token.get("logprob") or 0.0) for token in tokens))
        else:
            value = alternatives.get(choice)
            values[choice] = float(value) if value is not None else None
    return values


def judge_fields(*, template: JudgeTemplate, model: str, order: str, seed: int,
                 generation: GenerationRecord) -> dict[str, Any]:
    """The `judge` dict of one judge's verdict (see the module docstring)."""
    return {
        "model": model,
        "template": template.name,
        "template_hash": template.hash,
        "order": order,
        "seed": seed,
        "raw_output": generation.output,
        "choice_logprobs": choice_logprobs(generation, template.choices),
        "generation": generation.to_dict(),
        "panel": None,
    }


def verdict_record(battle: BattleRecord, *, winner: str, verdict_battle_id: str,
                   judge: dict[str, Any], rater: str, started_at: Any, ended_at: Any
                   ) -> BattleRecord:
    """The verdict's record on `battle` in `judge["order"]` (checked by `validate`)."""
    record = BattleRecord(
        battle_id=verdict_battle_id, mode="judge", status="voted", winner=winner,
        started_at=started_at, ended_at=ended_at, voted_at=ended_at, rater_hash=rater,
        replay_of=battle.battle_id, judge=judge, labels=list(battle.labels),
        labeller_version=battle.labeller_version, language=battle.language,
        category=battle.category, flags=list(battle.flags), pair_policy=battle.pair_policy,
        pair_probability=battle.pair_probability, publish_consent=battle.publish_consent,
        terms_version=battle.terms_version, **shown(battle, judge["order"]))
    record.validate()
    return record


def judged(battle: BattleRecord, *, template: JudgeTemplate, model: str, order: str, seed: int,
           generation: GenerationRecord) -> BattleRecord:
    """The verdict record of one judge call on `battle`, or ValueError when the call failed
    or its answer is none of the template's choices (the message says which)."""
    if generation.error is not None:
        raise ValueError(generation.error)
    winner = template.winner(generation.output)
    if winner is None:
        raise ValueError(f"the answer {generation.output[:200]!r} is none of the template's "
                         f"choices ({', '.join(template.choices)}); is the server vLLM, with "
                         "structured outputs?")
    judge = judge_fields(template=template, model=model, order=order, seed=seed,
                         generation=generation)
    return verdict_record(
        battle, winner=winner, judge=judge, rater=rater_of(model),
        verdict_battle_id=verdict_id(battle.battle_id, model, template.hash, order, seed),
        started_at=generation.started_at or generation.finished_at,
        ended_at=generation.finished_at)

