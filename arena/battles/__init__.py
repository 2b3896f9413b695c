"""The battle rules: start a battle, stream both sides, take follow-ups, take the vote.

`BattleService` (service.py) is the one entry point every front end uses; the pair sampler
(sampling.py) chooses who fights.
"""

from arena.battles.service import (
    BattleEvent,
    BattleService,
    Contender,
    GenerateFn,
    Reveal,
)

__all__ = ["BattleEvent", "BattleService", "Contender", "GenerateFn", "Reveal"]
