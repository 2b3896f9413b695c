"""The LLM labeller: a model of the config judges the seven hard-prompt criteria.

The heuristic labeller (arena.labels.labeller) still gives the language, code, math,
multi_turn and long_query labels; the model replaces only the `hard:*` criteria and so
`hard_prompt` (at least HARD_MIN of seven). The model is asked once per battle, with the
rater's prompts and the criteria's definitions (Arena-Hard's), and must answer a JSON object
of seven booleans. vLLM's structured output constrains its decoding to JSON_SCHEMA
(`"structured_outputs": {"json": ..., "disable_any_whitespace": true}` in the request body:
no free whitespace, so even a small model cannot ramble past max_tokens), so every answer
parses. Sampling is greedy (temperature 0, fixed seed) with every parameter sent explicitly,
as for battles.

A battle the model could not label (server down, error, an answer that is not the schema's
JSON) keeps the heuristic labels and the heuristic `labeller_version`, so running
`arena label --llm-model` again retries exactly those; `failures` counts them.

`version` is "<heuristic version>+llm-<PROMPT_VERSION>:<model name>": a battle's labels
say which model judged them and with which prompt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from arena.labels.hard import CRITERIA, HARD_MIN
from arena.labels.labeller import HARD_PREFIX, LABELLER_VERSION, label_record
from arena.labels.text import prompts_of
from arena.record import BattleRecord
from serving.client import Endpoint, StreamTimeouts, complete_chat, make_http_client

PROMPT_VERSION = "1"
MAX_PROMPT_CHARS = 12_000  # of the rater's text sent to the judge (the head is kept)
JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: {"type": "boolean"} for name in CRITERIA},
    "required": list(CRITERIA),
    "additionalProperties": False,
}
INSTRUCTIONS = """You label the prompt a user wrote to an AI assistant. For each criterion \
answer true or false; do not answer the prompt itself.

specificity: the prompt asks for a specific output, not an open-ended one.
domain_knowledge: it needs knowledge of one or more specific domains.
complexity: it has several levels of reasoning, components or variables.
problem_solving: the assistant must actively solve a problem.
creativity: it asks for creative or novel ideas or writing.
technical_accuracy: the answer must be technically accurate.
real_world: it applies to a real-world situation or practical task.

Answer with one JSON object with exactly these seven boolean keys."""


class LlmLabellerError(RuntimeError):
    """The LLM labeller cannot be set up (the message says what to fix)."""


@dataclass
class LlmLabeller:
    """Labels battles with heuristics plus `endpoint`'s judgement of the hard criteria.

    `params` are the sampling parameters sent (every key of serving.records.SAMPLING_KEYS);
    call `close()` when done (it ends the HTTP client and its event loop).
    """

    endpoint: Endpoint
    model_name: str
    params: dict[str, Any]
    timeouts: StreamTimeouts = StreamTimeouts(connect=10.0, first_token=120.0, total=300.0)
    failures: int = 0
    version: str = field(init=False)

    def __post_init__(self) -> None:
        self.version = f"{LABELLER_VERSION}+llm-{PROMPT_VERSION}:{self.model_name}"
        self._runner = asyncio.Runner()
        self._http = self._runner.run(_make_client())

    @classmethod
    def for_model(cls, spec: Any, sampling: Any) -> LlmLabeller:
        """The labeller on `spec` (a serving.config.ModelSpec) with the config's sampling
        settings for it, made greedy and short."""
        params = dict(sampling.request_params())
        params.update(temperature=0.0, top_p=1.0, top_k=-1, min_p=0.0, seed=0,
                      max_tokens=200, stop=[])
        params["structured_outputs"] = {"json": JSON_SCHEMA, "disable_any_whitespace": True}
        return cls(endpoint=spec.endpoint(), model_name=spec.name, params=params)

    def ask(self, prompts: list[str]) -> tuple[set[str] | None, str | None]:
        """(criteria the model says the prompts meet, None) or (None, why there are none)."""
        text = "\n\n---\n\n".join(prompts)[:MAX_PROMPT_CHARS]
        messages = [{"role": "system", "content": INSTRUCTIONS},
                    {"role": "user", "content": f"The user's prompt:\n\n{text}"}]
        record = self._runner.run(complete_chat(self.endpoint, messages, self.params,
                                                timeouts=self.timeouts, http=self._http))
        if record.error is not None:
            return None, record.error
        criteria = parse_criteria(record.output)
        if criteria is None:
            return None, f"the answer is not the JSON object asked for: {record.output[:200]!r}"
        return criteria, None

    def check(self) -> None:
        """Ask once; raise LlmLabellerError saying what is wrong when no valid answer comes."""
        _, problem = self.ask(["Hello!"])
        if problem is not None:
            raise LlmLabellerError(
                f"the labelling model {self.model_name!r} at {self.endpoint.base_url} gave no "
                f"usable answer ({problem}). Start it (arena models up --config ...) or choose "
                "another with --llm-model; its server must be vLLM (structured outputs).")

    def __call__(self, record: BattleRecord) -> BattleRecord:
        heuristic = label_record(record)
        prompts = prompts_of(record)
        if not any(prompt.strip() for prompt in prompts):
            return dataclasses.replace(heuristic, labeller_version=self.version)
        criteria, _ = self.ask(prompts)
        if criteria is None:
            self.failures += 1
            return heuristic
        labels = {label for label in heuristic.labels
                  if not label.startswith(HARD_PREFIX) and label != "hard_prompt"}
        labels.update(HARD_PREFIX + name for name in criteria)
        if len(criteria) >= HARD_MIN:
            labels.add("hard_prompt")
        return dataclasses.replace(heuristic, labels=sorted(labels),
                                   labeller_version=self.version)

    def close(self) -> None:
        self._runner.run(self._http.aclose())
        self._runner.close()


async def _make_client() -> Any:
    return make_http_client(max_connections=4)


def parse_criteria(output: str) -> set[str] | None:
    """The criteria set true in the model's answer, or None unless it is JSON_SCHEMA's object."""
    try:
        answer = json.loads(output)
    except ValueError:
        return None
    if not isinstance(answer, dict) or set(answer) != set(CRITERIA):
        return None
    if not all(isinstance(value, bool) for value in answer.values()):
        return None
    return {name for name in CRITERIA if answer[name]}
