"""Process helpers for servers we start: process groups, dying with the parent, ports, stopping.

Linux only where it reads `/proc`: a process is identified by its pid and its start time in
clock ticks (field 22 of `/proc/<pid>/stat`), so a recorded pid that the kernel has reused for
another process is not mistaken for the server. Servers run in their own process group, so
stopping the group stops every engine and worker process they spawned.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

DEFAULT_GRACE_S = 15.0
_PR_SET_PDEATHSIG = 1


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def process_start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (None if there is no such process)."""
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


def die_with_parent(parent_pid: int, sig: signal.Signals = signal.SIGTERM):
    """preexec_fn: ask the kernel to send `sig` to this child when its parent (thread) dies."""

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
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
