"""How tests/data/vote-log-v2.* were made: a vote log of store schema version 2 (consent
columns, before labels and model states), written by the arena of commit a9720e9, for
tests/test_migrations.py.

The twelve battles are the ten of vote-log-v1 (make_vote_log_v1.py) plus one whose rater
agreed to publication and one whose rater declined. It only makes sense with that commit's
arena/store (STORE_SCHEMA_VERSION 2), so it refuses to run on another. To remake the files:

    git worktree add /tmp/arena-v2 a9720e9
    cp tests/data/make_vote_log_v2.py tests/data/make_vote_log_v1.py /tmp/arena-v2/tests/data/
    cd /tmp/arena-v2 && /path/to/.venv/bin/python tests/data/make_vote_log_v2.py OUT_DIR \\
        [POSTGRES_URL]

Writes OUT_DIR/vote-log-v2.sqlite.sql, OUT_DIR/vote-log-v2.postgresql.sql (when POSTGRES_URL,
an empty database, is given) and OUT_DIR/vote-log-v2.jsonl (the records as that arena exported
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
from make_vote_log_v1 import v1_battles

from arena.record import BattleRecord
from arena.store import STORE_SCHEMA_VERSION, BattleLog


def v2_battles() -> list[BattleRecord]:
    """The v1 battles plus one agreed and one declined publication."""
    agreed = replace(make_battle(prompts=["Was ist die Hauptstadt von Frankreich?"]),
                     battle_id="v2-battle-11", publish_consent=True, terms_version="2026-01")
    declined = replace(make_battle(), battle_id="v2-battle-12", publish_consent=False,
                       terms_version="2026-01")
    return [*v1_battles(), agreed, declined]


def main(out_dir: Path, postgres_url: str | None) -> None:
    if STORE_SCHEMA_VERSION != 2:
        sys.exit("run this at commit a9720e9 (store schema version 2); see the docstring")
    battles = v2_battles()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "v2.db"
        with BattleLog(f"sqlite:///{path}") as log:
            log.record_new_battles(battles)
        with sqlite3.connect(path) as raw:
            dump = "\n".join(raw.iterdump())
    (out_dir / "vote-log-v2.sqlite.sql").write_text(dump + "\n")
    with (out_dir / "vote-log-v2.jsonl").open("w") as jsonl:
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
        (out_dir / "vote-log-v2.postgresql.sql").write_text(sql)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
