"""Errors the ratings engine raises for bad input; every message says what was wrong and what
to do about it."""

from __future__ import annotations


class BattleDataError(ValueError):
    """The battles table is unusable as given (empty, unknown winner values, self-battles,
    missing columns). The message names the offending rows."""


class NoBattlesLeft(BattleDataError):
    """Every row was dropped by the selection rules. `rows_read` and `dropped` (per reason)
    say how; a board with a vote minimum reports this as too few votes instead."""

    def __init__(self, message: str, rows_read: int, dropped: dict[str, int]):
        self.rows_read = rows_read
        self.dropped = dropped
        super().__init__(message)


class DisconnectedGraphError(BattleDataError):
    """The comparison graph falls apart into components whose relative ratings the data cannot
    determine. `components` lists the model names of each component, largest first."""

    def __init__(self, components: list[list[str]]):
        self.components = components
        shown = "; ".join(
            f"{{{', '.join(c[:8])}{', ...' if len(c) > 8 else ''}}} ({len(c)} models)"
            for c in components[:6]
        )
        super().__init__(
            f"the comparison graph has {len(components)} disconnected components: {shown}. "
            "Ratings across components are not comparable; add battles that connect them, or "
            "pass --allow-disconnected (allow_disconnected=True) to rate each component on its "
            "own scale."
        )


class ConstantStyleFeature(BattleDataError):
    """A style feature has the same normalised difference in every battle, so its coefficient
    cannot be estimated. `feature` names it."""

    def __init__(self, feature: str):
        self.feature = feature
        super().__init__(
            f"style feature {feature!r} does not vary across battles; remove it with "
            "--style-features"
        )


def name_rows(labels: list, kind: str, limit: int = 10) -> str:
    """'line 3, 7 and 2 more' style listing of offending rows for error messages."""
    shown = ", ".join(str(label) for label in labels[:limit])
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    plural = "s" if len(labels) > 1 else ""
    return f"{kind}{plural} {shown}{more}"
