"""The random API key of each launched vLLM server, and how the arena finds it again.

Every server the launcher starts gets a fresh key for that run, passed in its environment
(`VLLM_API_KEY`), never on its command line: vLLM then refuses `/v1/*` requests without
`Authorization: Bearer <key>` (`/health` and `/metrics` stay open). The key is kept next to
the server's run record, in `<data_dir>/run/<name>.key`, readable by its owner only (0600), and
removed when the server is stopped. Whoever may read that file may use the model: `arena
serve` (also with `--no-models` after `arena models up`), its workers, `arena models status` and
`arena drift` read it with `with_launched_keys`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from serving.credentials import new_secret
from serving.run_records import run_dir
from serving.settings import ModelSpec, ServingConfig


def key_path(data_dir: Path, name: str) -> Path:
    """Where the API key of the launched server `name` is kept."""
    return run_dir(data_dir) / f"{name}.key"


def new_api_key() -> str:
    """A fresh random API key (48 hex digits)."""
    return new_secret(24)


def write_api_key(path: Path, key: str) -> None:
    """Write `key` to `path`, readable and writable by its owner only, atomically: the file is
    created 0600 before the key is written, so it is never readable by others, even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".key.tmp")
    staging.unlink(missing_ok=True)
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    os.replace(staging, path)


def read_api_key(path: Path) -> str | None:
    """The key kept in `path`, or None when there is none (the server is not running, or was
    started before keys were kept)."""
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def with_launched_key(spec: ModelSpec, data_dir: Path) -> ModelSpec:
    """`spec` with the API key of its running launched server (unchanged for a remote model,
    or when no key is kept for it)."""
    if not spec.launched:
        return spec
    key = read_api_key(key_path(data_dir, spec.name))
    return replace(spec, api_key=key) if key else spec


def with_launched_keys(config: ServingConfig, data_dir: Path) -> ServingConfig:
    """`config` with every launched model's API key read from `data_dir` (see the module
    docstring), so the arena's client and health checks can reach them."""
    return replace(config, models=[with_launched_key(spec, data_dir) for spec in config.models])
