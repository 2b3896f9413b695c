"""The settings objects of an arena's models: sampling defaults, one model, the `[serving]`
table and the whole models config. `serving.config` reads them from the TOML config file.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from random import Random
from typing import Any

from serving.client import Endpoint
from serving.credentials import split_credentials
from serving.records import SAMPLING_KEYS

# vLLM accepts seeds in the int64 range; we draw below 2**31 so that any OpenAI-compatible
# server (and any JSON reader) takes them.
SEED_LIMIT = 2**31
SEED_POLICIES = ("random", "fixed")
DEFAULT_VLLM_PYTHON = ".venv-vllm/bin/python"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_STARTUP_TIMEOUT_S = 600.0
# A model's lifecycle: `preview` (new; sampled, marked on the board), `active`, `retired` (kept
# on the board, never sampled again). The arena publishes them to its live state, so a reload
# changes them without a restart (docs/serving.md#model-lifecycle).
MODEL_STATES = ("preview", "active", "retired")
DEFAULT_MODEL_STATE = "active"
SAMPLED_STATES = frozenset({"preview", "active"})


@dataclass(frozen=True)
class SamplingSettings:
    """Sampling defaults; every field is sent explicitly with each request.

    `top_k = 0` and `min_p = 0.0` disable those filters (vLLM's conventions); `stop` is a list of
    stop strings. `seed_policy = "random"` draws a fresh seed in [0, 2**31) for each request (the
    client logs it in the generation record); `"fixed"` sends `seed` every time.
    """

    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    max_tokens: int = 512
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    seed_policy: str = "random"
    seed: int | None = None

    def draw_seed(self, rng: Random | None = None) -> int:
        """The seed for the next request under this policy."""
        if self.seed_policy == "fixed":
            assert self.seed is not None
            return self.seed
        return rng.randrange(SEED_LIMIT) if rng is not None else secrets.randbelow(SEED_LIMIT)

    def request_params(self, rng: Random | None = None) -> dict[str, Any]:
        """The full, explicit parameter dict for one request: every key of `SAMPLING_KEYS`."""
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "min_p": self.min_p,
            "max_tokens": self.max_tokens,
            "seed": self.draw_seed(rng),
            "repetition_penalty": self.repetition_penalty,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
            "stop": list(self.stop),
        }
        assert set(params) == set(SAMPLING_KEYS)
        return params


@dataclass(frozen=True)
class ModelSpec:
    """One model of the arena. Exactly one of `base_url` and `model` is set.

    Secrets: `api_key` is the key the client sends (`Authorization: Bearer`); for a model with
    `base_url` the config names it with `api_key_env` (an environment variable) or
    `api_key_file` (a file), which the reader resolves into `api_key`; for a launched model it
    is the random key of this run (`serving.api_keys`). `url_credentials` holds a `user:pass@`
    taken out of `base_url` (sent as HTTP Basic auth), so `base_url` itself never carries one.
    Neither secret, nor `env`, appears in the repr.
    """

    name: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    api_key_file: str | None = None
    url_credentials: tuple[str, str] | None = field(default=None, repr=False)
    served_model_name: str | None = None
    model: str | None = None
    port: int | None = None
    host: str = DEFAULT_HOST
    dtype: str | None = None
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    tensor_parallel_size: int | None = None
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict, repr=False)
    system_prompt: str | None = None
    weight: float = 1.0
    identity_words: tuple[str, ...] = ()
    sampling: dict[str, Any] = field(default_factory=dict)
    state: str = DEFAULT_MODEL_STATE  # one of MODEL_STATES
    # The model's family ("llama", "qwen", ...), for the judge report's self-preference
    # (docs/judge.md); empty: the model is a family of its own.
    family: str = ""

    @property
    def family_name(self) -> str:
        """`family`, or the public name when no family is configured."""
        return self.family or self.name

    def __post_init__(self) -> None:
        # A `user:pass@` in base_url moves to url_credentials, so the URL, which is shown,
        # logged and stored in every generation record, never carries it.
        if self.base_url is not None:
            clean, credentials = split_credentials(self.base_url)
            if credentials is not None:
                object.__setattr__(self, "base_url", clean)
                if self.url_credentials is None:
                    object.__setattr__(self, "url_credentials", credentials)

    @property
    def launched(self) -> bool:
        """True when `serving.launcher` starts this model (it has `model`, not `base_url`)."""
        return self.model is not None

    @property
    def served_name(self) -> str:
        """The model id the server knows: `served_model_name`, else the public name."""
        return self.served_model_name or self.name

    @property
    def url(self) -> str:
        """Root URL of the server (no trailing `/v1`)."""
        if self.base_url is not None:
            return self.base_url
        return f"http://{self.host}:{self.port}"

    def endpoint(self) -> Endpoint:
        """Where the streaming client sends this model's requests."""
        return Endpoint(name=self.name, base_url=self.url, model=self.served_name,
                        api_key=self.api_key, basic_auth=self.url_credentials)

    def with_system_prompt(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        """`messages` with this model's system prompt in front (unchanged when it has none)."""
        if not self.system_prompt:
            return list(messages)
        return [{"role": "system", "content": self.system_prompt}, *messages]


@dataclass(frozen=True)
class ServingSettings:
    """The `[serving]` table: how the launcher starts vLLM."""

    vllm_python: Path | None = None
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
    env: dict[str, str] = field(default_factory=dict, repr=False)  # may hold tokens (HF_TOKEN)


@dataclass(frozen=True)
class ServingConfig:
    """Everything `serving` reads from one config file."""

    path: Path | None
    models: list[ModelSpec]
    sampling: SamplingSettings = SamplingSettings()
    serving: ServingSettings = ServingSettings()

    def model(self, name: str) -> ModelSpec:
        """The model with this public name (KeyError names the known ones)."""
        for spec in self.models:
            if spec.name == name:
                return spec
        raise KeyError(f"no model named {name!r}; known: {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return [spec.name for spec in self.models]

    def states(self) -> dict[str, str]:
        """Each model's lifecycle state (`MODEL_STATES`), by public name, in config order."""
        return {spec.name: spec.state for spec in self.models}

    def sampling_for(self, name: str) -> SamplingSettings:
        """The `[sampling]` defaults with this model's `[models.sampling]` overrides applied."""
        return replace(self.sampling, **self.model(name).sampling)

    def params_for(self, name: str, rng: Random | None = None) -> dict[str, Any]:
        """The full explicit sampling parameters for one request to this model, seed drawn."""
        return self.sampling_for(name).request_params(rng)

