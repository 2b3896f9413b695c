"""Every knob of a leaderboard computation in one frozen, JSON-serialisable object.

The manifest stores `RatingOptions.to_dict()`; `RatingOptions.from_dict` rebuilds it, which is
what makes `arena ratings --from-manifest` reproduce a table bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

METHODS = ("bt", "elo")
TIE_RULES = ("half", "drop", "davidson")
BOTHBAD_RULES = ("tie", "drop")
CI_METHODS = ("sandwich", "bootstrap", "none")
STYLE_FEATURES = ("tokens", "headers", "lists", "bold")

# Default L2 penalty on log-strengths (logits): a N(0, 1/0.001) prior, i.e. a prior standard
# deviation of about 31.6 logits = 5,500 Elo points. It only matters for models that never lost
# or never won (their likelihood has no maximum); elsewhere the data outweigh it by far.
DEFAULT_PRIOR = 1e-3
# Removal vectors the robustness search may refit to prove a swap cost minimal (see
# `ratings.robustness`); above it the verified greedy answer stands, marked as an upper bound.
ROBUSTNESS_EXACT_LIMIT = 20_000
# A model is marked provisional on the board until it has this many votes.
DEFAULT_PROVISIONAL_VOTES = 300
MODEL_STATES = ("preview", "active", "retired")


@dataclass(frozen=True)
class RatingOptions:
    """Options of `ratings.compute_leaderboard` (the CLI flags map one to one).

    Scale: a logit difference of 1 is `scale / ln(base)` Elo points (400 / ln 10 = 173.7 by
    default). Ratings are centred on `mean`, unless `anchor=(model, rating)` pins one model.

    Vote filters (`ratings.vote_filters`, applied to the selected votes before anything is
    fitted): `max_votes_per_rater_per_day` keeps each rater's first N votes of every UTC day;
    `dedupe_prompts` counts a rater's identical first prompt once. `robustness` adds the
    fewest votes whose removal would change #1 and each adjacent pair
    (`ratings.robustness`), proven minimal while at most `robustness_exact_limit` removals
    need refitting.

    Categories and readable boards: `min_votes` reports a board with fewer votes as too few
    instead of ranking it (with `--by`, each group's board and the overall one);
    `provisional_votes` marks a model with fewer votes `provisional`; `model_states` gives
    each model's lifecycle state ("preview", "active", "retired") for the `state` column.
    `sampling_correction` weights every battle by 1 / pair_probability (normalised to mean 1)
    in the Bradley–Terry fit and its intervals (`ratings.weights`); battles without a valid
    pair probability are dropped (counted as "no_pair_probability").

    Judge verdicts (rows with mode "judge", written by `arena judge`): `judge` None rates
    the humans only (verdicts dropped, counted as "judge"); "*" rates every judge's verdicts
    and drops the human votes (counted as "not_judge"); a name rates that judge's verdicts
    only (column `judge_model`; other judges' counted as "other_judge").
    """

    method: str = "bt"
    ties: str = "half"
    bothbad: str = "tie"
    ci: str | None = None  # None: sandwich for bt, none for elo
    rounds: int = 1000
    seed: int = 0
    level: float = 0.95
    scale: float = 400.0
    base: float = 10.0
    mean: float = 1000.0
    anchor: tuple[str, float] | None = None
    prior: float = DEFAULT_PRIOR
    allow_disconnected: bool = False
    k: float = 4.0
    initial: float = 1000.0
    include_named: bool = False
    include_flagged_battles: bool = False
    where: tuple[tuple[str, str], ...] = ()
    style: bool = False
    style_features: tuple[str, ...] = STYLE_FEATURES
    position_bias: bool = False
    raters: bool = False
    exclude_flagged: bool = False
    rater_alpha: float = 0.01
    rater_min_votes: int = 5
    max_votes_per_rater_per_day: int | None = None
    dedupe_prompts: bool = False
    robustness: bool = False
    robustness_exact_limit: int = ROBUSTNESS_EXACT_LIMIT
    min_votes: int = 0
    provisional_votes: int = DEFAULT_PROVISIONAL_VOTES
    model_states: tuple[tuple[str, str], ...] = ()
    sampling_correction: bool = False
    judge: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = [
            (self.method in METHODS, f"method must be one of {METHODS}"),
            (self.ties in TIE_RULES, f"ties must be one of {TIE_RULES}"),
            (self.bothbad in BOTHBAD_RULES, f"bothbad must be one of {BOTHBAD_RULES}"),
            (self.ci is None or self.ci in CI_METHODS, f"ci must be one of {CI_METHODS}"),
            (self.rounds >= 2, "rounds must be at least 2"),
            (0 < self.level < 1, "level must be in (0, 1)"),
            (self.scale > 0 and self.base > 1, "scale must be > 0 and base > 1"),
            (self.prior >= 0, "prior must be >= 0"),
            (0 < self.rater_alpha < 1, "rater_alpha must be in (0, 1)"),
            (all(f in STYLE_FEATURES for f in self.style_features),
             f"style features must be among {STYLE_FEATURES}"),
            (not (self.method == "elo" and self.effective_ci not in ("none",)),
             "online Elo has no confidence intervals here; use ci='none' or method='bt'"),
            (not (self.ties == "davidson" and (self.style or self.position_bias)),
             "style control and position bias use ties='half' or 'drop', not 'davidson'"),
            (self.max_votes_per_rater_per_day is None
             or (_whole(self.max_votes_per_rater_per_day)
                 and self.max_votes_per_rater_per_day >= 1),
             "max_votes_per_rater_per_day must be a whole number >= 1 (or unset for no cap)"),
            (_whole(self.robustness_exact_limit) and self.robustness_exact_limit >= 0,
             "robustness_exact_limit must be a whole number >= 0"),
            (not self.robustness or (self.method == "bt" and self.ties in ("half", "drop")
                                     and self.prior > 0),
             "robustness refits the Bradley–Terry board: it needs method='bt', ties='half' "
             "or 'drop' (not 'davidson') and prior > 0"),
            (_whole(self.min_votes) and self.min_votes >= 0,
             "min_votes must be a whole number >= 0"),
            (_whole(self.provisional_votes) and self.provisional_votes >= 0,
             "provisional_votes must be a whole number >= 0"),
            (all(state in MODEL_STATES for _, state in self.model_states),
             f"model states must be among {MODEL_STATES}"),
            (not self.sampling_correction or (
                self.method == "bt" and self.ties in ("half", "drop") and not self.robustness),
             "sampling correction weights the Bradley–Terry fits (plain, style, position "
             "bias): it needs method='bt', ties='half' or 'drop', and no robustness (which "
             "counts votes, not weights)"),
            (self.judge is None or (isinstance(self.judge, str) and self.judge.strip() != ""),
             "judge must be None (humans only), '*' (every judge) or a judge model's name"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def effective_ci(self) -> str:
        return self.ci if self.ci is not None else ("sandwich" if self.method == "bt" else "none")

    @property
    def points_per_logit(self) -> float:
        """Elo points per unit of log-strength: scale / ln(base)."""
        return self.scale / math.log(self.base)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["anchor"] = list(self.anchor) if self.anchor else None
        data["where"] = [list(w) for w in self.where]
        data["style_features"] = list(self.style_features)
        data["model_states"] = [list(pair) for pair in self.model_states]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RatingOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown rating option(s): {', '.join(unknown)}")
        data = dict(data)
        if data.get("anchor"):
            data["anchor"] = (str(data["anchor"][0]), float(data["anchor"][1]))
        if "where" in data:
            data["where"] = tuple((str(c), str(v)) for c, v in data["where"])
        if "style_features" in data:
            data["style_features"] = tuple(data["style_features"])
        if "model_states" in data:
            data["model_states"] = tuple((str(m), str(s)) for m, s in data["model_states"])
        return cls(**data)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
