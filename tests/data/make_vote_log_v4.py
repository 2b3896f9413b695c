"""How tests/data/vote-log-v4.* were made: a vote log of store schema version 4 (regenerated
turns, the rater's reason and judge verdicts, before stored style features and the vote's
commit key), written by the arena of commit 7f27ab5, for tests/test_migrations.py.

The eighteen battles are the fourteen of vote-log-v3 (make_vote_log_v3.py) plus a battle with
markdown answers (headers, lists, bold, a fenced code block) whose generations report tokens
and timings, a regenerated battle with a reason, a judge verdict, and a battle whose server
reported no completion tokens: the migration to version 5 must backfill their style features
and generation speeds exactly as `ratings` counts them from an export. It only makes sense
with that commit's arena/store (STORE_SCHEMA_VERSION 4), so it refuses to run on another. To
remake the files:

    git worktree add /tmp/arena-v4 7f27ab5
    cp tests/data/make_vote_log_v*.py /tmp/arena-v4/tests/data/
    cd /tmp/arena-v4 && /path/to/.venv/bin/python tests/data/make_vote_log_v4.py OUT_DIR \\
        [POSTGRES_URL]

Writes OUT_DIR/vote-log-v4.sqlite.sql, OUT_DIR/vote-log-v4.postgresql.sql (when POSTGRES_URL,
an empty database, is given) and OUT_DIR/vote-log-v4.jsonl (the records as that arena exported
them: the expected values after an upgrade), as make_vote_log_v3.py does.
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
from make_vote_log_v3 import v3_battles

from arena.record import BattleRecord
from arena.store import STORE_SCHEMA_VERSION, BattleLog

MARKDOWN = ("# Plan\n\nSome **bold** words and __more__.\n\n- one\n- two\n1. three\n\n"
            "```python\n# not a header\n- not a list\n```\n## Done")


def v4_battles() -> list[BattleRecord]:
    """The v3 battles plus markdown, regenerated, judged and token-less battles."""
    styled = replace(make_battle(prompts=["Plan a trip.", "Shorter?"],
                                 outputs=[MARKDOWN, "**Yes**: - no list"]),
                     battle_id="v4-battle-15", model_a="alpha", model_b="beta")
    regenerated = make_battle(turn_count=2)
    regenerated = replace(regenerated, battle_id="v4-battle-16",
                          discarded_turns=[replace(make_battle(turn_count=1).turns[0], index=1)],
                          reason_tags=["more accurate"], reason_comment="Checked the sum.")
    judged = make_battle(turn_count=1)
    verdict = replace(
        judged, battle_id="v4-battle-17", mode="judge", replay_of="v1-battle-01",
        rater_hash="judge:tiny-a",
        judge={"model": "tiny-a", "template": "pairwise-v1", "template_hash": "sha256:00ff",
               "order": "original", "raw_output": "A", "choice_logprobs": {"A": -0.1},
               "generation": judged.turns[0].generation_a.to_dict(), "panel": None},
    )
    plain = make_battle(turn_count=1)
    untimed = replace(plain.turns[0].generation_b, completion_tokens=None,
                      first_token_at=None)
    no_tokens = replace(plain, battle_id="v4-battle-18",
                        turns=[replace(plain.turns[0], generation_b=untimed)])
    return [*v3_battles(), styled, regenerated, verdict, no_tokens]


def main(out_dir: Path, postgres_url: str | None) -> None:
    if STORE_SCHEMA_VERSION != 4:
        sys.exit("run this at commit 7f27ab5 (store schema version 4); see the docstring")
    battles = v4_battles()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "v4.db"
        with BattleLog(f"sqlite:///{path}") as log:
            log.record_new_battles(battles)
        with sqlite3.connect(path) as raw:
            dump = "\n".join(raw.iterdump())
    (out_dir / "vote-log-v4.sqlite.sql").write_text(dump + "\n")
    with (out_dir / "vote-log-v4.jsonl").open("w") as jsonl:
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
        (out_dir / "vote-log-v4.postgresql.sql").write_text(sql)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
