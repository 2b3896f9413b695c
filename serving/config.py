"""The models of an arena, read from the `[[models]]`, `[sampling]` and `[serving]` tables of
the arena's TOML config file.

Each `[[models]]` entry has a public `name` and exactly one of

- `base_url` (+ optional `api_key`, `served_model_name`): an OpenAI-compatible server that
  already runs somewhere (another host, another team's vLLM, any compatible server), or
- `model` (a local directory or a hub id) + vLLM engine arguments (`port`, `dtype`,
  `max_model_len`, `gpu_memory_utilization`, `tensor_parallel_size`, `extra_args`, `env`):
  a server `serving.launcher` starts for us.

plus `system_prompt`, `weight` (relative sampling weight for the pair sampler),
`identity_words` (words that reveal who the model is, for leak detection) and a `[models.sampling]`
sub-table that overrides the top-level `[sampling]` defaults for this model.

Relative paths (`model`, `[serving].vllm_python`) resolve against the directory of the config
file, so a config means the same thing from any working directory. A `model` value that starts
with `/`, `./`, `../` or `~` is a local directory and must exist; any other value is a local
directory if one exists there, and otherwise a hub id (`org/name`) that vLLM downloads.

Tables this module does not own (`[arena]`, ...) are ignored; unknown keys inside the tables it
owns are errors, because a misspelt sampling key would otherwise silently do nothing.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from random import Random
from typing import Any

from serving.client import Endpoint
from serving.records import SAMPLING_KEYS

# vLLM accepts seeds in the int64 range; we draw below 2**31 so that any OpenAI-compatible
# server (and any JSON reader) takes them.
SEED_LIMIT = 2**31
SEED_POLICIES = ("random", "fixed")
DEFAULT_VLLM_PYTHON = ".venv-vllm/bin/python"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_STARTUP_TIMEOUT_S = 600.0
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]*$")


class ModelConfigError(ValueError):
    """The models part of a config file is wrong; the message names the file, key and reason."""


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
    """One model of the arena. Exactly one of `base_url` and `model` is set."""

    name: str
    base_url: str | None = None
    api_key: str | None = None
    served_model_name: str | None = None
    model: str | None = None
    port: int | None = None
    host: str = DEFAULT_HOST
    dtype: str | None = None
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    tensor_parallel_size: int | None = None
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    system_prompt: str | None = None
    weight: float = 1.0
    identity_words: tuple[str, ...] = ()
    sampling: dict[str, Any] = field(default_factory=dict)

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
        return Endpoint(
            name=self.name, base_url=self.url, model=self.served_name, api_key=self.api_key
        )

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
    env: dict[str, str] = field(default_factory=dict)


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

    def sampling_for(self, name: str) -> SamplingSettings:
        """The `[sampling]` defaults with this model's `[models.sampling]` overrides applied."""
        return replace(self.sampling, **self.model(name).sampling)

    def params_for(self, name: str, rng: Random | None = None) -> dict[str, Any]:
        """The full explicit sampling parameters for one request to this model, seed drawn."""
        return self.sampling_for(name).request_params(rng)


# ---------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------

_SAMPLING_TYPES: dict[str, tuple[type, ...]] = {
    "temperature": (float, int),
    "top_p": (float, int),
    "top_k": (int,),
    "min_p": (float, int),
    "max_tokens": (int,),
    "repetition_penalty": (float, int),
    "presence_penalty": (float, int),
    "frequency_penalty": (float, int),
    "stop": (list,),
    "seed_policy": (str,),
    "seed": (int,),
}
_MODEL_KEYS = {f.name for f in fields(ModelSpec)}
_SERVING_KEYS = {f.name for f in fields(ServingSettings)}


class _Reader:
    """Reports errors as `file: key: reason`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.base = path.parent if path is not None else Path.cwd()

    def fail(self, key: str, reason: str) -> ModelConfigError:
        where = f"{self.path}: " if self.path is not None else ""
        return ModelConfigError(f"{where}{key}: {reason}")

    def check_keys(self, table: dict, allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    f"{where}.{key}", f"unknown key; allowed keys: {', '.join(sorted(allowed))}"
                )

    def typed(self, table: dict, key: str, types: tuple[type, ...], where: str) -> Any:
        value = table[key]
        # TOML booleans are ints in Python; reject them where a number is meant.
        if isinstance(value, bool) or not isinstance(value, types):
            wanted = " or ".join(t.__name__ for t in types)
            raise self.fail(f"{where}.{key}", f"must be {wanted}, got {value!r}")
        return value

    def string_list(self, table: dict, key: str, where: str) -> tuple[str, ...]:
        value = self.typed(table, key, (list,), where)
        if not all(isinstance(item, str) for item in value):
            raise self.fail(f"{where}.{key}", f"must be a list of strings, got {value!r}")
        return tuple(value)

    def string_table(self, table: dict, key: str, where: str) -> dict[str, str]:
        value = self.typed(table, key, (dict,), where)
        out = {}
        for env_key, env_value in value.items():
            if isinstance(env_value, bool) or not isinstance(env_value, str | int | float):
                raise self.fail(f"{where}.{key}.{env_key}", f"must be a string, got {env_value!r}")
            out[str(env_key)] = str(env_value)
        return out

    def resolve_path(self, value: str) -> Path:
        # normpath, not resolve(): a venv's bin/python is a symlink that must stay unresolved.
        return Path(os.path.normpath(self.base / Path(value).expanduser()))


def _sampling_values(reader: _Reader, table: Any, where: str) -> dict[str, Any]:
    """Validated sampling keys of one table (the defaults or a model's overrides)."""
    if not isinstance(table, dict):
        raise reader.fail(where, "must be a table")
    reader.check_keys(table, set(_SAMPLING_TYPES), where)
    values: dict[str, Any] = {}
    for key, types in _SAMPLING_TYPES.items():
        if key not in table:
            continue
        if key == "stop":
            values[key] = reader.string_list(table, key, where)
            continue
        value = reader.typed(table, key, types, where)
        values[key] = float(value) if float in types else value
    return values


def _check_sampling(reader: _Reader, settings: SamplingSettings, where: str) -> None:
    """Range checks after defaults and overrides are merged, so each model is checked whole."""
    checks = [
        ("temperature", settings.temperature >= 0, "must be >= 0"),
        ("top_p", 0 < settings.top_p <= 1, "must be in (0, 1]"),
        ("top_k", settings.top_k >= 0, "must be >= 0 (0 disables it)"),
        ("min_p", 0 <= settings.min_p <= 1, "must be in [0, 1]"),
        ("max_tokens", settings.max_tokens >= 1, "must be >= 1"),
        ("repetition_penalty", settings.repetition_penalty > 0, "must be > 0"),
        ("presence_penalty", -2 <= settings.presence_penalty <= 2, "must be in [-2, 2]"),
        ("frequency_penalty", -2 <= settings.frequency_penalty <= 2, "must be in [-2, 2]"),
        ("seed_policy", settings.seed_policy in SEED_POLICIES, 'must be "random" or "fixed"'),
    ]
    for key, ok, reason in checks:
        if not ok:
            raise reader.fail(f"{where}.{key}", f"{reason}, got {getattr(settings, key)!r}")
    if settings.seed_policy == "fixed" and settings.seed is None:
        raise reader.fail(f"{where}.seed", 'seed_policy = "fixed" needs an integer seed')
    if settings.seed is not None and not 0 <= settings.seed < 2**63:
        raise reader.fail(f"{where}.seed", f"must be in [0, 2**63), got {settings.seed}")


def _normalise_base_url(reader: _Reader, value: str, where: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise reader.fail(where, f"must be an http(s) URL like http://host:8000, got {value!r}")
    url = value.rstrip("/")
    # People paste OpenAI-style base URLs ending in /v1; we keep the server root.
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _model_location(reader: _Reader, value: str, where: str) -> str:
    """A local directory (absolute path) or a hub id, as the launcher passes it to vLLM."""
    looks_local = value.startswith(("/", "./", "../", "~")) or value in (".", "..")
    path = reader.resolve_path(value)
    if looks_local:
        if not path.is_dir():
            raise reader.fail(
                where,
                f"model directory {path} does not exist (build a test model with "
                f"`arena models make-tiny {value}`, or give a hub id like org/name)",
            )
        return str(path)
    if path.is_dir():
        return str(path)
    if not _HUB_ID.match(value):
        raise reader.fail(where, f"neither an existing directory nor a hub id: {value!r}")
    return value


def _read_model(reader: _Reader, table: Any, index: int) -> ModelSpec:
    where = f"models[{index}]"
    if not isinstance(table, dict):
        raise reader.fail(where, "must be a table ([[models]])")
    if isinstance(table.get("name"), str):
        reader.check_keys(table, _MODEL_KEYS, f"{where} ({table['name']})")
    reader.check_keys(table, _MODEL_KEYS, where)
    if "name" not in table:
        raise reader.fail(f"{where}.name", "missing field: every model needs a public name")
    name = reader.typed(table, "name", (str,), where)
    if not _NAME.match(name):
        raise reader.fail(
            f"{where}.name", f"use letters, digits, '.', '_' and '-' only, got {name!r}"
        )
    where = f"models[{index}] ({name})"
    has_url, has_model = "base_url" in table, "model" in table
    if has_url == has_model:
        raise reader.fail(
            where,
            "give exactly one of base_url (a server that already runs) and model "
            "(a directory or hub id for us to launch)"
            + (", not both" if has_url else ""),
        )
    values: dict[str, Any] = {"name": name}
    if has_url:
        for key in ("port", "dtype", "max_model_len", "gpu_memory_utilization",
                    "tensor_parallel_size", "extra_args", "env", "host"):
            if key in table:
                raise reader.fail(
                    f"{where}.{key}", "is a launch setting; it applies only to models with `model`"
                )
        values["base_url"] = _normalise_base_url(
            reader, reader.typed(table, "base_url", (str,), where), f"{where}.base_url"
        )
    else:
        values["model"] = _model_location(
            reader, reader.typed(table, "model", (str,), where), f"{where}.model"
        )
        if "port" not in table:
            raise reader.fail(f"{where}.port", "missing field: a launched model needs a port")
        port = reader.typed(table, "port", (int,), where)
        if not 1 <= port <= 65535:
            raise reader.fail(f"{where}.port", f"must be in 1..65535, got {port}")
        values["port"] = port
        if "api_key" in table:
            raise reader.fail(f"{where}.api_key", "only applies to models with base_url")
    for key in ("api_key", "served_model_name", "host", "dtype", "system_prompt"):
        if key in table:
            values[key] = reader.typed(table, key, (str,), where)
    for key in ("max_model_len", "tensor_parallel_size"):
        if key in table:
            values[key] = reader.typed(table, key, (int,), where)
            if values[key] < 1:
                raise reader.fail(f"{where}.{key}", f"must be >= 1, got {values[key]}")
    if "gpu_memory_utilization" in table:
        value = float(reader.typed(table, "gpu_memory_utilization", (float, int), where))
        if not 0 < value <= 1:
            raise reader.fail(f"{where}.gpu_memory_utilization", f"must be in (0, 1], got {value}")
        values["gpu_memory_utilization"] = value
    if "weight" in table:
        weight = float(reader.typed(table, "weight", (float, int), where))
        if not (math.isfinite(weight) and weight >= 0):
            raise reader.fail(f"{where}.weight", f"must be a number >= 0, got {weight}")
        values["weight"] = weight
    for key in ("extra_args", "identity_words"):
        if key in table:
            values[key] = reader.string_list(table, key, where)
    if "env" in table:
        values["env"] = reader.string_table(table, "env", where)
    if "sampling" in table:
        values["sampling"] = _sampling_values(reader, table["sampling"], f"{where}.sampling")
    return ModelSpec(**values)


def _read_serving(reader: _Reader, table: Any) -> ServingSettings:
    if not isinstance(table, dict):
        raise reader.fail("serving", "must be a table")
    reader.check_keys(table, _SERVING_KEYS, "serving")
    values: dict[str, Any] = {}
    if "vllm_python" in table:
        values["vllm_python"] = reader.resolve_path(
            reader.typed(table, "vllm_python", (str,), "serving")
        )
    if "startup_timeout_s" in table:
        timeout = float(reader.typed(table, "startup_timeout_s", (float, int), "serving"))
        if timeout <= 0:
            raise reader.fail("serving.startup_timeout_s", f"must be > 0, got {timeout}")
        values["startup_timeout_s"] = timeout
    if "env" in table:
        values["env"] = reader.string_table(table, "env", "serving")
    return ServingSettings(**values)


def parse_models_config(data: dict[str, Any], path: Path | None = None) -> ServingConfig:
    """Validate an already-parsed TOML document; `path` is used for messages and relative paths."""
    reader = _Reader(path)
    models_table = data.get("models")
    if models_table is None:
        raise reader.fail("models", "missing: add at least one [[models]] table")
    if not isinstance(models_table, list) or not models_table:
        raise reader.fail("models", "must be one or more [[models]] tables")
    sampling = SamplingSettings(**_sampling_values(reader, data.get("sampling", {}), "sampling"))
    serving = _read_serving(reader, data.get("serving", {}))
    models = [_read_model(reader, table, i) for i, table in enumerate(models_table)]

    _check_sampling(reader, sampling, "sampling")
    seen_names: dict[str, int] = {}
    seen_ports: dict[tuple[str, int], str] = {}
    for index, spec in enumerate(models):
        where = f"models[{index}] ({spec.name})"
        if spec.name in seen_names:
            raise reader.fail(
                f"{where}.name", f"duplicate name; models[{seen_names[spec.name]}] has it too"
            )
        seen_names[spec.name] = index
        if spec.port is not None:
            # Listening on 0.0.0.0 collides with every host; compare ports only.
            other = next((n for (_, p), n in seen_ports.items() if p == spec.port), None)
            if other is not None:
                raise reader.fail(f"{where}.port", f"duplicate port {spec.port}; {other} uses it")
            seen_ports[(spec.host, spec.port)] = spec.name
        merged = replace(sampling, **spec.sampling)
        _check_sampling(reader, merged, f"{where}.sampling" if spec.sampling else "sampling")
    if sum(spec.weight for spec in models) <= 0:
        raise reader.fail("models", "at least one model needs weight > 0")
    return ServingConfig(path=path, models=models, sampling=sampling, serving=serving)


def load_models_config(path: str | Path) -> ServingConfig:
    """Read the models, sampling and serving tables of a TOML config file.

    Raises ModelConfigError naming the file, key and reason for every mistake a user can make.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelConfigError(f"{path}: config file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as bad:
        raise ModelConfigError(f"{path}: not valid TOML: {bad}") from None
    return parse_models_config(data, path.resolve())
