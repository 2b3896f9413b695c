"""How tests/data/vote-log-v3.* were made: a vote log of store schema version 3 (labels and
model states, before regenerated turns, reasons and judge verdicts), written by the arena of
commit e1ae3e6, for tests/test_migrations.py.

The fourteen battles are the twelve of vote-log-v2 (make_vote_log_v2.py) plus one labelled
battle between a preview and an active model and one whose side had been retired. It only
makes sense with that commit's arena/store (STORE_SCHEMA_VERSION 3), so it refuses to run on
another. To remake the files:

    git worktree add /tmp/arena-v3 e1ae3e6
    cp tests/data/make_vote_log_v*.py /tmp/arena-v3/tests/data/
    cd /tmp/arena-v3 && /path/to/.venv/bin/python tests/data/make_vote_log_v3.py OUT_DIR \\
        [POSTGRES_URL]

Writes OUT_DIR/vote-log-v3.sqlite.sql, OUT_DIR/vote-log-v3.postgresql.sql (when POSTGRES_URL,
an empty database, is given) and OUT_DIR/vote-log-v3.jsonl (the records as that arena exported
them: the expected values after an upgrade), as make_vote_log_v1.py does.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from factories import make_battle
from make_vote_log_v2 import v2_battles

from arena.record import BattleRecord
from arena.store import STORE_SCHEMA_VERSION, BattleLog


def v3_battles() -> list[BattleRecord]:
    """The v2 battles plus two labelled battles with the models' lifecycle states."""
    labelled = replace(
        make_battle(prompts=["Write a Python function that reverses a list."]),
        battle_id="v3-battle-13", labels=["code", "lang:en"], language="en",
        labeller_version="heuristic-1", model_state_a="preview", model_state_b="active",
    )
    retired = replace(
        make_battle(prompts=["Solve x^2 - 4 = 0."]), battle_id="v3-battle-14",
        labels=["lang:en", "math"], language="en", labeller_version="heuristic-1",
        model_state_a="active", model_state_b="retired", publish_consent=True,
        terms_version="2026-01",
    )
    return [*v2_battles(), labelled, retired]


def main(out_dir: Path, postgres_url: str | None) -> None:
    if STORE_SCHEMA_VERSION != 3:
        sys.exit("run this at commit e1ae3e6 (store schema version 3); see the docstring")
    battles = v3_battles()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "v3.db"
        with BattleLog(f"sqlite:///{path}") as log:
            log.record_new_battles(battles)
        with sqlite3.connect(path) as raw:
            dump = "\n".join(raw.iterdump())
    (out_dir / "vote-log-v3.sqlite.sql").write_text(dump + "\n")
    with (out_dir / "vote-log-v3.jsonl").open("w") as jsonl:
        for record in battles:
            jsonl.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
    if postgres_url:
        with BattleLog(postgres_url) as log:
            log.record_new_battles(battles)
        libpq = postgres_url.replace("postgresql+psycopg://", "postgresql://")
        dump = subprocess.run(
            ["pg_dump", "--inserts", "--no-owner", "--no-privileges", "--no-comments", libpq],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        # As in make_vote_log_v1.py: drop psql's \restrict lines, the test loads plain SQL.
        sql = "".join(line for line in dump.splitlines(keepends=True)
                      if not line.startswith("\\"))
        (out_dir / "vote-log-v3.postgresql.sql").write_text(sql)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
