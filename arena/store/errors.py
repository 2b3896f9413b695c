"""What can go wrong when using the vote log, as exception types callers can catch."""

from __future__ import annotations


class DuplicateBattle(ValueError):
    """A battle with this id is already stored; nothing was written."""

    def __init__(self, battle_id: str) -> None:
        super().__init__(f"battle {battle_id!r} is already recorded; a battle is stored once")
        self.battle_id = battle_id

    def __reduce__(self) -> tuple[type, tuple[str]]:  # pickled by the writer process
        return type(self), (self.battle_id,)


class SchemaError(RuntimeError):
    """The database's tables do not match what this program expects."""


class SchemaTooNew(SchemaError):
    """The database was written by a newer arena whose tables this one does not know."""
