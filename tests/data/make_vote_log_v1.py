"""How tests/data/vote-log-v1.* were made: a vote log of store schema version 1, written by the
arena of commit 27d56b0 (the last one before Alembic), for tests/test_migrations.py.

It only makes sense with that commit's arena/store (STORE_SCHEMA_VERSION 1, no Alembic), so it
refuses to run on a newer one. To remake the files:

    git worktree add /tmp/arena-v1 27d56b0
    cd /tmp/arena-v1 && cp /path/to/this/file tests/data/ && \\
        /path/to/.venv/bin/python tests/data/make_vote_log_v1.py OUT_DIR [POSTGRES_URL]

Writes OUT_DIR/vote-log-v1.sqlite.sql (`sqlite3 .dump`-style, from `iterdump`),
OUT_DIR/vote-log-v1.postgresql.sql (`pg_dump --inserts` of the same battles in an empty
Postgres database, when POSTGRES_URL is given) and OUT_DIR/vote-log-v1.jsonl (the records as
that arena exported them, the expected values after an upgrade).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from factories import make_battle

from arena.record import BattleRecord
from arena.store import STORE_SCHEMA_VERSION, BattleLog


def v1_battles() -> list[BattleRecord]:
    """Battles of every shape the log keeps (as factories.varied_battles, without the 1 MB
    answer so the dumps stay small), with fixed ids."""
    shapes = [
        make_battle(turn_count=1),
        make_battle(turn_count=4, flags=["identity_leak", "moderation"]),
        make_battle(
            prompts=["Erkläre 量子 🤖 «ñ» \u200b\t\n", "и ещё 'quoted' \"twice\""],
            outputs=["Ответ: ∑ ≠ ∞ 😀", "\U0001f600" * 10],
            model_a="模型-a", language="mixed", category="coding",
        ),  # fmt: skip
        make_battle(system_prompt_a="", system_prompt_b=""),
        make_battle(system_prompt_a="Answer in French.", system_prompt_b=""),
        make_battle(status="abandoned"),
        make_battle(status="error", pair_probability=None, side_seed=None),
        make_battle(turn_count=0, status="abandoned", end_reason="tab_closed"),
        make_battle(mode="named", winner="tie (bothbad)", pair_policy="active"),
        make_battle(mode="replay", winner="tie", replay_of="v1-battle-01", app_version="9.9"),
    ]
    for number, record in enumerate(shapes, start=1):
        record.battle_id = f"v1-battle-{number:02d}"
    return shapes


def main(out_dir: Path, postgres_url: str | None) -> None:
    if STORE_SCHEMA_VERSION != 1:
        sys.exit("run this at commit 27d56b0 (store schema version 1); see the docstring")
    battles = v1_battles()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "v1.db"
        with BattleLog(f"sqlite:///{path}") as log:
            log.record_new_battles(battles)
        with sqlite3.connect(path) as raw:
            dump = "\n".join(raw.iterdump())
    (out_dir / "vote-log-v1.sqlite.sql").write_text(dump + "\n")
    with (out_dir / "vote-log-v1.jsonl").open("w") as jsonl:
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
        # Newer pg_dumps wrap the dump in psql's \restrict ... \unrestrict: not SQL, and the
        # test loads the file through the driver.
        sql = "".join(line for line in dump.splitlines(keepends=True)
                      if not line.startswith("\\"))
        (out_dir / "vote-log-v1.postgresql.sql").write_text(sql)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
