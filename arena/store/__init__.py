"""The vote log in SQL (sqlmodel): the source of truth for every battle and vote.

from arena.store import BattleLog
log = BattleLog("sqlite:///./data/arena.db")   # or "postgresql+psycopg://user@host/db"
log.record_battle(record)                      # atomic, committed on return
for battle in log.iter_battles(status="voted"):
    ...
"""

from arena.record import InvalidRecord
from arena.store.errors import DuplicateBattle, SchemaError, SchemaTooNew
from arena.store.log import BattleLog, RecordRefused
from arena.store.tables import STORE_SCHEMA_VERSION

__all__ = [
    "STORE_SCHEMA_VERSION",
    "BattleLog",
    "DuplicateBattle",
    "InvalidRecord",
    "RecordRefused",
    "SchemaError",
    "SchemaTooNew",
]
