"""What a board leaves out before fitting, beyond `ratings.prepare`'s rules: the votes one
rater should not be able to multiply, and (when asked) the raters the anomaly test flags.

`screen_votes` applies the vote filters of `ratings.vote_filters` to the selected votes, in
this order: identical prompts of one rater counted once (`dedupe_prompts`), then each rater's
first `max_votes_per_rater_per_day` votes of every UTC day. Deduplicating first means a replayed
prompt does not use up its rater's daily allowance. The votes each filter removed are counted in
`Selection.dropped` under "duplicate_prompt" and "rater_daily_cap" (present only when the filter
is on, so boards without filters keep their old drop counts). With `--by`, `compute_leaderboard`
runs once per group, so the filters count within each group.

`screen_raters` runs after them, on the votes that remain.
"""

from __future__ import annotations

import pandas as pd

from ratings.errors import BattleDataError
from ratings.options import RatingOptions
from ratings.prepare import Selection
from ratings.raters import rater_anomalies
from ratings.vote_filters import cap_votes_per_rater_per_day, dedupe_identical_prompts

DUPLICATE_PROMPT = "duplicate_prompt"
RATER_DAILY_CAP = "rater_daily_cap"


def screen_votes(selection: Selection, options: RatingOptions) -> Selection:
    """The selection without the votes the vote filters of `options` remove (counted)."""
    battles, dropped = selection.battles, dict(selection.dropped)
    if options.dedupe_prompts:
        battles, dropped[DUPLICATE_PROMPT] = dedupe_identical_prompts(battles)
    if options.max_votes_per_rater_per_day is not None:
        battles, dropped[RATER_DAILY_CAP] = cap_votes_per_rater_per_day(
            battles, options.max_votes_per_rater_per_day)
    return Selection(battles, selection.rows_read, dropped, selection.votes)


def screen_raters(selection: Selection, options: RatingOptions
                  ) -> tuple[Selection, pd.DataFrame | None]:
    """The rater anomaly table when asked for (`raters` or `exclude_flagged`); with
    `exclude_flagged`, the selection without the flagged raters' battles, counted as
    "flagged_rater"."""
    if not (options.raters or options.exclude_flagged):
        return selection, None
    raters = rater_anomalies(selection.battles, options.rater_alpha, options.rater_min_votes)
    if options.exclude_flagged:
        flagged = set(raters.loc[raters["flagged"], "judge"])
        hit = selection.battles["judge"].astype(str).isin(flagged).to_numpy()
        selection.dropped["flagged_rater"] = int(hit.sum())
        selection = Selection(selection.battles.loc[~hit], selection.rows_read,
                              selection.dropped, selection.votes)
        if selection.rows_used == 0:
            raise BattleDataError("every battle came from a flagged rater")
    return selection, raters
