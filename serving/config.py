"""The models of an arena, read from the `[[models]]`, `[sampling]` and `[serving]` tables of
the arena's TOML config file.

Each `[[models]]` entry has a public `name` and exactly one of

- `base_url` (+ optional `api_key`, `served_model_name`): an OpenAI-compatible server that
  already runs somewhere (another host, another team's vLLM, any compatible server), or
- `model` (a local directory or a hub id) + vLLM engine arguments (`port`, `dtype`,
  `max_model_len`, `gpu_memory_utilization`, `tensor_parallel_size`, `extra_args`, `env`):
  a server `serving.launcher` starts for us.

plus `system_prompt`, `family` (the model family, for the judge report), `weight` (relative
sampling weight for the pair sampler), `state`
(`preview`, `active` (the default) or `retired`: its lifecycle, docs/serving.md#model-lifecycle),
`identity_words` (words that reveal who the model is, for leak detection) and a `[models.sampling]`
sub-table that overrides the top-level `[sampling]` defaults for this model.

Relative paths (`model`, `[serving].vllm_python`) resolve against the directory of the config
file, so a config means the same thing from any working directory. A `model` value that starts
with `/`, `./`, `../` or `~` is a local directory and must exist; any other value is a local
directory if one exists there, and otherwise a hub id (`org/name`) that vLLM downloads.

Tables this module does not own (`[arena]`, ...) are ignored; unknown keys inside the tables it
owns are errors, because a misspelt sampling key would otherwise silently do nothing.

The objects a config becomes live in `serving.settings` and the checks of each table in
`serving.config_reader`; this module reads the file, checks the models against each other and
exports all of their public names.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from serving.config_reader import (
    ConfigReader,
    ModelConfigError,
    check_sampling,
    read_model,
    read_serving,
    sampling_values,
)
from serving.settings import (
    DEFAULT_HOST,
    DEFAULT_MODEL_STATE,
    DEFAULT_STARTUP_TIMEOUT_S,
    DEFAULT_VLLM_PYTHON,
    MODEL_STATES,
    SAMPLED_STATES,
    SEED_LIMIT,
    SEED_POLICIES,
    ModelSpec,
    SamplingSettings,
    ServingConfig,
    ServingSettings,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MODEL_STATE",
    "DEFAULT_STARTUP_TIMEOUT_S",
    "DEFAULT_VLLM_PYTHON",
    "MODEL_STATES",
    "SAMPLED_STATES",
    "SEED_LIMIT",
    "SEED_POLICIES",
    "ModelConfigError",
    "ModelSpec",
    "SamplingSettings",
    "ServingConfig",
    "ServingSettings",
    "load_models_config",
    "parse_models_config",
]


def _check_models_together(reader: ConfigReader, models: list[ModelSpec],
                           sampling: SamplingSettings) -> None:
    """What no single model table shows: unique names and ports, each model's merged sampling
    settings in range, and a positive total weight."""
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
        check_sampling(reader, merged, f"{where}.sampling" if spec.sampling else "sampling")
    if sum(spec.weight for spec in models) <= 0:
        raise reader.fail("models", "at least one model needs weight > 0")


def parse_models_config(data: dict[str, Any], path: Path | None = None) -> ServingConfig:
    """Validate an already-parsed TOML document; `path` is used for messages and relative paths."""
    reader = ConfigReader(path)
    models_table = data.get("models")
    if models_table is None:
        raise reader.fail("models", "missing: add at least one [[models]] table")
    if not isinstance(models_table, list) or not models_table:
        raise reader.fail("models", "must be one or more [[models]] tables")
    sampling = SamplingSettings(**sampling_values(reader, data.get("sampling", {}), "sampling"))
    serving = read_serving(reader, data.get("serving", {}))
    models = [read_model(reader, table, i) for i, table in enumerate(models_table)]
    check_sampling(reader, sampling, "sampling")
    _check_models_together(reader, models, sampling)
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
