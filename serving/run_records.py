"""What servers were started, and where: run records and server logs under a data directory.

A launched server's output is appended to `<data_dir>/logs/<name>.log`. What was started is
recorded in `<data_dir>/run/<name>.json` (pid, process group, the process's start time to guard
against pid reuse, URL, log file and offset), so another process can find and stop it later.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

LOG_TAIL_LINES = 30


@dataclass
class RunRecord:
    """What the launcher wrote to `<data_dir>/run/<name>.json` for one server it started."""

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


def run_dir(data_dir: Path) -> Path:
    """The folder of run records under a data directory."""
    return Path(data_dir) / "run"


def log_dir(data_dir: Path) -> Path:
    """The folder of server logs under a data directory."""
    return Path(data_dir) / "logs"


def record_path(data_dir: Path, name: str) -> Path:
    """Where the run record of the server `name` lives."""
    return run_dir(data_dir) / f"{name}.json"


def write_run_record(path: Path, record: RunRecord) -> None:
    """Write a run record atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".json.tmp")
    staging.write_text(json.dumps(asdict(record), indent=2) + "\n")
    os.replace(staging, path)


def read_run_record(data_dir: Path, name: str) -> RunRecord | None:
    """The run record of `name`, or None if there is none (or it is unreadable)."""
    path = record_path(data_dir, name)
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
