"""Judge panels: several judges' verdicts on one battle and order combined by a stated rule.

The rule is "majority": the panel's winner is the winner a strict majority of its members
gave for that battle in that order (more than half of them); without one it is "tie". So
three judges saying model_a, model_a, model_b give model_a; model_a, model_b, tie give tie;
two judges must agree to name a winner. Each order is combined on its own (a panel has
position bias exactly when its members do, and the report measures it the same way).

A panel verdict is stored only once every member's verdict on that battle and order is
stored, as a record like a member's (arena.judge.verdict) with `judge.model` = the panel's
name, `judge.panel` = its name, `judge.members` = the members' verdict battle ids (in the
order of `Panel.members`), `judge.member_winners`, `judge.rule` = "majority", and no call of
its own (`generation`, `raw_output`, `choice_logprobs` null). Its time is when it was formed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from arena.judge.template import JudgeTemplate
from arena.judge.verdict import rater_of, verdict_id, verdict_record
from arena.record import BattleRecord

RULES = ("majority",)


class PanelError(ValueError):
    """A panel cannot be formed as asked; the message says what to change."""


@dataclass(frozen=True)
class Panel:
    """A named panel of judges (their `[[models]]` names) and its rule."""

    name: str
    members: tuple[str, ...]
    rule: str = "majority"

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise PanelError(f"panel rule {self.rule!r} is not one of {', '.join(RULES)}")
        if len(self.members) < 2 or len(set(self.members)) != len(self.members):
            raise PanelError("a panel needs two or more different judges (give --judge once "
                             "per member; an odd number avoids ties by even splits)")
        if not self.name or self.name in self.members:
            raise PanelError(f"the panel's name {self.name!r} must be non-empty and differ "
                             "from its members' model names")


def majority(winners: Sequence[str]) -> str:
    """The winner more than half of `winners` agree on, else "tie"."""
    if not winners:
        raise ValueError("no member verdicts to combine")
    winner, votes = Counter(winners).most_common(1)[0]
    return winner if 2 * votes > len(winners) else "tie"


def member_ids(panel: Panel, battle_id: str, template: JudgeTemplate, order: str, seed: int
               ) -> list[str]:
    """The verdict ids of the panel's members on one battle and order."""
    return [verdict_id(battle_id, member, template.hash, order, seed)
            for member in panel.members]


def panel_verdict(battle: BattleRecord, panel: Panel, template: JudgeTemplate, order: str,
                  seed: int, winners: dict[str, str], now: datetime | None = None
                  ) -> BattleRecord | None:
    """The panel's verdict record on `battle` in `order`, from its members' stored winners
    (verdict id -> winner); None while a member's verdict is missing."""
    ids = member_ids(panel, battle.battle_id, template, order, seed)
    if any(member not in winners for member in ids):
        return None
    given = [winners[member] for member in ids]
    judge = {
        "model": panel.name, "template": template.name, "template_hash": template.hash,
        "order": order, "seed": seed, "raw_output": None, "choice_logprobs": None,
        "generation": None, "panel": panel.name, "members": ids,
        "member_winners": dict(zip(panel.members, given, strict=True)), "rule": panel.rule,
    }
    moment = now or datetime.now(UTC)
    return verdict_record(
        battle, winner=majority(given), judge=judge, rater=rater_of(panel.name),
        verdict_battle_id=verdict_id(battle.battle_id, panel.name, template.hash, order, seed),
        started_at=moment, ended_at=moment)
