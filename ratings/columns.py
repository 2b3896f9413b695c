"""What a reader sees per model beside the rating: votes, tie shares, speed, marks.

Columns added to every board (`ratings.leaderboard.compute_leaderboard`):

- `votes`: the model's votes that reached the tie rules (they passed the status, mode, flag,
  `--where` and pair-probability rules); ties and both-bad votes count even when `--ties
  drop` / `--bothbad drop` leave them out of the fit. The vote filters and the flagged-rater
  exclusion are not subtracted; `battles` is what the fit used.
- `tie_share`, `bothbad_share`: the shares of those votes that were "tie" and
  "tie (bothbad)" (disjoint).
- `median_ttft_s`, `tokens_per_s`: medians over the model's generations in the battles used
  (`ratings.timings`); NaN when the log has no timings.
- `provisional`: votes < `provisional_votes`.
- `state`: the lifecycle state given in `model_states` ("preview", "active", "retired"), or
  None.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ratings.options import RatingOptions
from ratings.prepare import Selection
from ratings.timings import per_model_speed

READER_COLUMNS = ["votes", "tie_share", "bothbad_share", "median_ttft_s", "tokens_per_s",
                  "provisional", "state"]


def add_reader_columns(table: pd.DataFrame, selection: Selection, options: RatingOptions
                       ) -> pd.DataFrame:
    """`table` (with a `model` column) with `READER_COLUMNS` inserted after `win_rate`."""
    models = table["model"].astype(str).tolist()
    columns: dict[str, object] = {}
    if selection.votes is not None:
        votes = selection.votes.set_index("model").reindex(models, fill_value=0)
        count = votes["votes"].to_numpy(dtype=np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns["votes"] = count
            columns["tie_share"] = np.where(count > 0, votes["ties"] / np.maximum(count, 1),
                                            np.nan)
            columns["bothbad_share"] = np.where(
                count > 0, votes["bothbad"] / np.maximum(count, 1), np.nan)
    else:
        count = table["battles"].to_numpy(dtype=np.int64)
        columns.update(votes=count, tie_share=np.nan, bothbad_share=np.nan)
    speed = per_model_speed(selection.battles, models)
    columns["median_ttft_s"] = speed["median_ttft_s"].to_numpy(dtype=float)
    columns["tokens_per_s"] = speed["tokens_per_s"].to_numpy(dtype=float)
    columns["provisional"] = count < options.provisional_votes
    states = dict(options.model_states)
    columns["state"] = [states.get(model) for model in models]
    out = table.copy()
    at = list(out.columns).index("win_rate") + 1 if "win_rate" in out.columns else len(
        out.columns)
    for offset, name in enumerate(READER_COLUMNS):
        out.insert(at + offset, name, columns[name])
    return out
