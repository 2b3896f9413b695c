"""The judge model: a `[[models]]` entry of the config, asked through serving.client.

Every request sends every sampling parameter explicitly (vLLM would fill unset ones from the
model's generation_config.json) plus:

- `seed`: one per call (`arena.judge.verdict.call_seed`), so a re-run sends the same ones;
- `structured_outputs: {"choice": [...]}`: vLLM decodes only the template's choices, so every
  verdict parses, even a tiny random-weight model's;
- `logprobs: true, top_logprobs: N`: the tokens' log-probabilities, kept when the server
  returns them (`GenerationRecord.extra["logprobs"]`).

Sampling defaults to greedy (temperature 0, top_p 1, top_k off, no penalties) whatever the
config's `[sampling]` says for battles, because a judge should give its most likely verdict;
`temperature` and `top_p` can be set per run. `max_tokens` is the template's (a choice is a
token or two) and `stop` is empty (structured output ends the answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from arena.judge.template import JudgeTemplate
from serving.client import Endpoint, StreamTimeouts, complete_chat
from serving.records import GenerationRecord

# OpenAI's API allows at most 20 alternatives per token, and vLLM's max_logprobs is 20.
DEFAULT_TOP_LOGPROBS = 20
DEFAULT_TIMEOUTS = StreamTimeouts(connect=10.0, first_token=120.0, total=300.0)
_PROBE = [{"role": "user", "content": "Say A, B or tie."}]


class JudgeUnavailable(RuntimeError):
    """The judge model gave no usable answer to a first probe; the message says what to do."""


def judge_params(template: JudgeTemplate, *, temperature: float = 0.0, top_p: float = 1.0,
                 top_logprobs: int = DEFAULT_TOP_LOGPROBS) -> dict[str, Any]:
    """Every parameter of a judge request but the seed (set per call)."""
    params: dict[str, Any] = {
        "temperature": temperature, "top_p": top_p, "top_k": -1, "min_p": 0.0,
        "max_tokens": template.max_tokens, "seed": None, "repetition_penalty": 1.0,
        "presence_penalty": 0.0, "frequency_penalty": 0.0, "stop": [],
        "structured_outputs": template.structured_outputs,
    }
    if top_logprobs > 0:
        params.update(logprobs=True, top_logprobs=top_logprobs)
    return params


@dataclass
class JudgeModel:
    """One judge: its config name, where it answers, what every request sends (`params`,
    the seed left None) and its model family (for the self-preference report)."""

    name: str
    endpoint: Endpoint
    params: dict[str, Any]
    family: str = ""
    timeouts: StreamTimeouts = DEFAULT_TIMEOUTS
    calls: int = field(default=0, init=False)

    @classmethod
    def from_config(cls, serving: Any, name: str, template: JudgeTemplate, **sampling: Any
                    ) -> JudgeModel:
        """The judge `name` of a serving.config.ServingConfig (KeyError names the known
        models); `sampling`: judge_params' temperature, top_p, top_logprobs."""
        spec = serving.model(name)
        return cls(name=name, endpoint=spec.endpoint(), params=judge_params(template, **sampling),
                   family=getattr(spec, "family", "") or name)

    async def ask(self, messages: list[dict[str, str]], seed: int, *,
                  http: httpx.AsyncClient | None = None) -> GenerationRecord:
        """One judge call; its record (`error` set when it failed: never raises for that)."""
        self.calls += 1
        return await complete_chat(self.endpoint, messages, {**self.params, "seed": seed},
                                   timeouts=self.timeouts, http=http)

    async def check(self, template: JudgeTemplate, *, http: httpx.AsyncClient | None = None
                    ) -> None:
        """Ask once; raise JudgeUnavailable unless the answer is one of the choices."""
        record = await self.ask(_PROBE, 0, http=http)
        problem = record.error
        if problem is None and template.winner(record.output) is None:
            problem = (f"it answered {record.output[:100]!r}, none of "
                       f"{', '.join(template.choices)}: structured outputs need a vLLM server")
        if problem is not None:
            raise JudgeUnavailable(
                f"the judge model {self.name!r} at {self.endpoint.base_url} gave no usable "
                f"answer ({problem}). Start it (arena models up --config ...) or choose "
                "another [[models]] entry with --judge.")
