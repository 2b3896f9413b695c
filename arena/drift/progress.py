"""The resumable part of a drift check: finished results, one JSON line each, in the out dir.

`OUT_DIR/progress.jsonl` gets one line per finished generation (re-generated or failed) the moment
it finishes, flushed, so an interrupted run (Ctrl-C, a killed job, a crash) loses at most the
generations that were in flight. `OUT_DIR/run.json` records which log the progress belongs to
(its SHA-256), so a different log is never mixed into an old run.

On resume the latest line per (battle_id, turn, side) counts; re-generated results are kept
and failed ones are tried again, since a failure says something about the endpoint at that time,
not about the generation. A torn last line (the process died mid-write) is ignored.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from arena.drift.tasks import DriftInputError

PROGRESS_FILE = "progress.jsonl"
RUN_FILE = "run.json"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ProgressStore:
    """Finished results of one drift-check run, kept in `out_dir` (created if missing)."""

    def __init__(self, out_dir: Path, log_path: Path, log_sha256: str) -> None:
        self.out_dir = out_dir
        self.path = out_dir / PROGRESS_FILE
        out_dir.mkdir(parents=True, exist_ok=True)
        run_path = out_dir / RUN_FILE
        if run_path.exists():
            run = json.loads(run_path.read_text(encoding="utf-8"))
            if run.get("log_sha256") != log_sha256:
                raise DriftInputError(
                    f"{out_dir} holds the progress of another log ({run.get('log')}, SHA-256 "
                    f"{str(run.get('log_sha256'))[:12]}...); {log_path} differs. Use another "
                    f"--out-dir, or delete {run_path} and {self.path} to start over"
                )
        else:
            run_path.write_text(json.dumps({
                "log": str(log_path), "log_sha256": log_sha256,
                "created_at": datetime.now(UTC).isoformat(),
            }, indent=2) + "\n", encoding="utf-8")
        self._stream: IO[str] | None = None

    def load(self) -> dict[tuple[str, int, str], dict[str, Any]]:
        """Re-generated results already in the file, by (battle_id, turn, side); failed ones are
        left out so that they are tried again."""
        latest: dict[tuple[str, int, str], dict[str, Any]] = {}
        if not self.path.exists():
            return latest
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by an interrupted write
                latest[(row["battle_id"], int(row["turn"]), row["side"])] = row
        return {key: row for key, row in latest.items() if row.get("status") == "replayed"}

    def append(self, row: dict[str, Any]) -> None:
        """Write one finished result and flush it to the OS at once."""
        if self._stream is None:
            self._stream = self.path.open("a", encoding="utf-8")
            # A previous run killed mid-write may have left a line without its newline.
            if self.path.stat().st_size and not self._ends_with_newline():
                self._stream.write("\n")
        self._stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._stream.flush()

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as raw:
            raw.seek(-1, 2)
            return raw.read(1) == b"\n"

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
