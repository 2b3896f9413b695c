"""Model lifecycle in the battle rules: which state each model is in now, and which may battle.

The states are `serving.settings.MODEL_STATES`: `preview` and `active` models are sampled alike
(the board marks a preview model); a `retired` model is never sampled again, and a named battle
asking for one is refused (409, `RetiredModel`). Its past battles stay in the log and on the
board.

The states in force live in Redis (`LiveState.model_states`), shared by every worker, so a
reload (`arena models reload`, or SIGHUP to `arena serve`) reaches all of them without a
restart. A battle reads them once, when it starts, and keeps them in its state: a battle in
flight finishes under the states it started with, and its record keeps them (`model_state_a`,
`model_state_b`).

Redis holds only what can be rebuilt: when it holds no states (flushed), the states this
process last saw stand in (those `arena serve` published from the config at start, or a later
read) and are written back, so a flush never brings a retired model back into battles.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from arena.errors import VoteConflict
from arena.live import LiveState, LiveStateUnavailable
from serving.settings import DEFAULT_MODEL_STATE, MODEL_STATES, SAMPLED_STATES

log = logging.getLogger(__name__)


class RetiredModel(VoteConflict):
    """A named battle asked for a retired model (409: the request is well formed, the model's
    state refuses it)."""

    status = 409
    code = "model_retired"


def retired_names(states: Mapping[str, str]) -> set[str]:
    """The models of `states` that are not sampled (retired)."""
    return {name for name, state in states.items() if state not in SAMPLED_STATES}


def check_not_retired(pair: Iterable[str], states: Mapping[str, str]) -> None:
    """Refuse a named battle with a retired model (RetiredModel names it and the choices)."""
    for name in pair:
        if states.get(name) not in SAMPLED_STATES:
            choices = sorted(set(states) - retired_names(states))
            raise RetiredModel(
                f"model {name!r} is retired and no longer takes part in battles; choose "
                f"one of {', '.join(choices) or 'the models that are not retired'}"
            )


class ModelStates:
    """The lifecycle states in force for the models of one battle service."""

    def __init__(self, live: LiveState, names: Iterable[str]) -> None:
        self.live = live
        self.names = tuple(names)
        self._last: dict[str, str] = {}

    def remember(self, states: Mapping[str, str]) -> None:
        """States that stand in while Redis holds none (`arena serve` gives the config's)."""
        self._last = dict(states)

    async def current(self) -> dict[str, str]:
        """The state of every model of the service: as published in Redis, else as this
        process last saw them (written back), else `active`. Raises LiveStateUnavailable."""
        published = await self.live.model_states()
        if published:
            self._last = published
        elif self._last:
            log.warning("the live state holds no model states (flushed?); restoring the "
                        "ones this worker last saw: %s", self._last)
            await self.live.restore_model_states(self._last)
        return {name: self._state_of(name) for name in self.names}

    async def pickable(self) -> list[str]:
        """The models a rater may pick for a named battle now (retired ones left out), sorted;
        all of them while Redis is unreachable (a battle then fails on its own, with a 503)."""
        try:
            retired = retired_names(await self.current())
        except LiveStateUnavailable:
            retired = set()
        return sorted(set(self.names) - retired)

    def _state_of(self, name: str) -> str:
        state = self._last.get(name, DEFAULT_MODEL_STATE)
        if state not in MODEL_STATES:
            # Only a hand-edited Redis gets here; the publishers check the config first.
            log.warning("model %s has unknown lifecycle state %r in the live state; treating "
                        "it as %s", name, state, DEFAULT_MODEL_STATE)
            return DEFAULT_MODEL_STATE
        return state
