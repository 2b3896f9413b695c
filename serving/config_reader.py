"""Reading and validating the tables of the models config: `[[models]]`, `[sampling]`, `[serving]`.

Every mistake a user can make raises `ModelConfigError` with `file: key: reason`. Relative paths
resolve against the directory of the config file.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from serving.credentials import redact_url, split_credentials
from serving.settings import (
    MODEL_STATES,
    SEED_POLICIES,
    ModelSpec,
    SamplingSettings,
    ServingSettings,
)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]*$")
# Keys that configure a server we launch; a model with `base_url` must not set them.
_LAUNCH_ONLY_KEYS = ("port", "dtype", "max_model_len", "gpu_memory_utilization",
                     "tensor_parallel_size", "extra_args", "env", "host")


class ModelConfigError(ValueError):
    """The models part of a config file is wrong; the message names the file, key and reason."""


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
# `url_credentials` is filled from `base_url`, never written in a config.
_MODEL_KEYS = {f.name for f in fields(ModelSpec)} - {"url_credentials"}
_API_KEY_KEYS = ("api_key", "api_key_env", "api_key_file")
_SERVING_KEYS = {f.name for f in fields(ServingSettings)}


class ConfigReader:
    """Typed access to the tables of one config file; reports errors as `file: key: reason`."""

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


def sampling_values(reader: ConfigReader, table: Any, where: str) -> dict[str, Any]:
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


def check_sampling(reader: ConfigReader, settings: SamplingSettings, where: str) -> None:
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


def _normalise_base_url(reader: ConfigReader, value: str, where: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise reader.fail(where, f"must be an http(s) URL like http://host:8000, got {value!r}")
    url = value.rstrip("/")
    # People paste OpenAI-style base URLs ending in /v1; we keep the server root.
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _model_location(reader: ConfigReader, value: str, where: str) -> str:
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



def _model_name(reader: ConfigReader, table: Any, index: int) -> str:
    """The public name of `models[index]`, after checking the table's keys."""
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
    return name


def _remote_values(reader: ConfigReader, table: dict, where: str) -> dict[str, Any]:
    """The `base_url` of a model that already runs elsewhere (it takes no launch settings),
    with any `user:password@` moved out of it, and its API key."""
    for key in _LAUNCH_ONLY_KEYS:
        if key in table:
            raise reader.fail(
                f"{where}.{key}", "is a launch setting; it applies only to models with `model`"
            )
    base_url = reader.typed(table, "base_url", (str,), where)
    try:
        clean, credentials = split_credentials(base_url)
    except ValueError:
        raise reader.fail(f"{where}.base_url",
                          f"not a URL: {redact_url(base_url)}") from None
    values: dict[str, Any] = {
        "base_url": _normalise_base_url(reader, clean, f"{where}.base_url")
    }
    if credentials is not None:
        values["url_credentials"] = credentials
    values.update(_api_key_values(reader, table, where, credentials is not None))
    return values


def _api_key_values(reader: ConfigReader, table: dict, where: str,
                    has_url_credentials: bool) -> dict[str, Any]:
    """The API key of a remote model: inline (`api_key`), from an environment variable named
    by `api_key_env`, or from the file named by `api_key_file`; at most one of them."""
    given = [key for key in _API_KEY_KEYS if key in table]
    if len(given) > 1 or (given and has_url_credentials):
        also = " and user:password@ in base_url" if has_url_credentials else ""
        raise reader.fail(where, f"give one way to authenticate, not {', '.join(given)}{also}")
    if not given:
        return {}
    key = given[0]
    value = reader.typed(table, key, (str,), where)
    if key == "api_key":
        return {"api_key": value}
    if key == "api_key_env":
        secret = os.environ.get(value, "").strip()
        if not secret:
            raise reader.fail(f"{where}.api_key_env", f"environment variable {value} is not "
                              "set or empty; export it with the model's API key")
        return {"api_key_env": value, "api_key": secret}
    path = reader.resolve_path(value)
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as unreadable:
        raise reader.fail(f"{where}.api_key_file",
                          f"cannot read {path}: {unreadable.strerror}") from None
    if not secret:
        raise reader.fail(f"{where}.api_key_file", f"{path} is empty; write the API key there")
    return {"api_key_file": str(path), "api_key": secret}


def _launch_values(reader: ConfigReader, table: dict, where: str) -> dict[str, Any]:
    """The `model` location and `port` of a model we launch (it takes no API key: it gets a
    random one each run)."""
    model = reader.typed(table, "model", (str,), where)
    values: dict[str, Any] = {"model": _model_location(reader, model, f"{where}.model")}
    if "port" not in table:
        raise reader.fail(f"{where}.port", "missing field: a launched model needs a port")
    port = reader.typed(table, "port", (int,), where)
    if not 1 <= port <= 65535:
        raise reader.fail(f"{where}.port", f"must be in 1..65535, got {port}")
    values["port"] = port
    for key in _API_KEY_KEYS:
        if key in table:
            raise reader.fail(f"{where}.{key}", "only applies to models with base_url (a "
                              "launched model gets a random API key every run)")
    return values


def _optional_values(reader: ConfigReader, table: dict, where: str) -> dict[str, Any]:
    """The optional keys of a model table that are given, validated."""
    values: dict[str, Any] = {}
    for key in ("served_model_name", "host", "dtype", "system_prompt", "family"):
        if key in table:
            values[key] = reader.typed(table, key, (str,), where)
    if "state" in table:
        state = reader.typed(table, "state", (str,), where)
        if state not in MODEL_STATES:
            raise reader.fail(f"{where}.state", f"must be one of {', '.join(MODEL_STATES)} "
                              f"(retired: never sampled again), got {state!r}")
        values["state"] = state
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
        values["sampling"] = sampling_values(reader, table["sampling"], f"{where}.sampling")
    return values


def read_model(reader: ConfigReader, table: Any, index: int) -> ModelSpec:
    """One `[[models]]` table (the `index`-th) as a ModelSpec; ModelConfigError if it is wrong."""
    name = _model_name(reader, table, index)
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
        values.update(_remote_values(reader, table, where))
    else:
        values.update(_launch_values(reader, table, where))
    values.update(_optional_values(reader, table, where))
    return ModelSpec(**values)


def read_serving(reader: ConfigReader, table: Any) -> ServingSettings:
    """The `[serving]` table as ServingSettings; ModelConfigError if it is wrong."""
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
