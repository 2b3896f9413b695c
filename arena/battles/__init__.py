"""The battle rules: start a battle, stream both sides, take follow-ups, take the vote.

`BattleService` (service.py) is the one entry point every front end uses, composed of: the
battle's state and its log record (state.py), checks on input (checks.py), where running
battles are kept (running.py), rate limits and vote claims (admission.py), streaming a turn
(streaming.py), battles over logged battles for re-voting (revoting.py); the pair sampler
(sampling.py) chooses who fights, among the models whose lifecycle state (lifecycle.py) lets
them. interface.py holds what the service takes and gives.
"""

from arena.battles.interface import BattleEvent, Contender, GenerateFn, Reveal
from arena.battles.service import BattleService

__all__ = ["BattleEvent", "BattleService", "Contender", "GenerateFn", "Reveal"]
