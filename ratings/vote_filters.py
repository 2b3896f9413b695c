"""Vote filters that blunt one rater's weight: a daily cap and one count per repeated prompt.

Both take the battles frame of `ratings.io` / `ratings.prepare` (columns `judge` = rater id,
`tstamp` = seconds since the Unix epoch, optionally `battle_id`, `source_row` and the
conversations) and return the rows kept with the number removed, so the manifest can record
what each filter cost. They are meant for the votes a fit would use (the output of
`ratings.prepare.select_battles`): abandoned battles and other non-votes should not use up a
rater's allowance.

Order. "First" means first in the order (time, battle id, source row): `tstamp` ascending
(rows without a time come after every timed row of the same rater), then `battle_id` as text
when the frame has it, then `source_row` (the position in the input). The order never depends
on the row order of the frame, so a shuffled log keeps the same votes.

Rows with no rater (`judge` missing or empty) cannot be attributed to anyone and are kept.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ratings.errors import BattleDataError

SECONDS_PER_DAY = 86_400
USER_ROLES = ("user", "human")


class Filtered(NamedTuple):
    """A filter's result: the rows kept (original index and order) and how many it removed."""

    battles: pd.DataFrame
    removed: int


def cap_votes_per_rater_per_day(battles: pd.DataFrame, cap: int) -> Filtered:
    """Keep each rater's first `cap` votes of every UTC day.

    A UTC day is ``floor(tstamp / 86400)``: days start at 00:00 UTC whatever the rater's time
    zone. Votes without a timestamp form one extra "day unknown" group per rater, so they are
    capped too. See the module docstring for what "first" means and for rows with no rater.

    Parameters
    ----------
    battles : DataFrame
        Needs `judge`; `tstamp` (epoch seconds) when any vote has a time.
    cap : int
        Votes kept per rater and day, at least 1.

    Returns
    -------
    Filtered
        (kept battles, number of votes removed).
    """
    if not isinstance(cap, (int, np.integer)) or isinstance(cap, bool) or cap < 1:
        raise ValueError(f"the daily vote cap must be a whole number >= 1, not {cap!r}")
    raters = _rater_codes(battles, "a daily vote cap")
    stamps = _timestamps(battles)
    day = np.floor(np.nan_to_num(stamps) / SECONDS_PER_DAY).astype(np.int64)
    day[np.isnan(stamps)] = np.iinfo(np.int64).max  # one "day unknown" group per rater
    keep = _first_per_group(battles, [raters, day], stamps, limit=int(cap))
    keep |= raters < 0
    return Filtered(battles.loc[keep], int((~keep).sum()))


def dedupe_identical_prompts(battles: pd.DataFrame, prompt_column: str | None = None
                             ) -> Filtered:
    """Count a rater's identical first prompt once: keep their first battle with that prompt.

    Two prompts are identical when `normalise_prompt` maps them to the same text: the same
    words up to Unicode compatibility forms, invisible format characters, whitespace and
    letter case. Paraphrases are different prompts; this is a guard against one rater replaying
    a prompt, not a near-duplicate detector. Prompts of different raters never merge.

    Parameters
    ----------
    battles : DataFrame
        Needs `judge`, and `prompt_column` or `conversation_a` (a list of chat messages or its
        JSON text, as our exports and FastChat logs hold it; the first user message is the
        first prompt).
    prompt_column : str, optional
        A column holding each battle's first prompt as text, instead of the conversation.

    Returns
    -------
    Filtered
        (kept battles, number of battles removed). Rows with no rater or no prompt are kept.
    """
    raters = _rater_codes(battles, "counting identical prompts once")
    texts = _first_prompts(battles, prompt_column)
    normalised = pd.Series([normalise_prompt(t) if t is not None else None for t in texts],
                           dtype=object)
    prompt_codes, _ = pd.factorize(normalised, use_na_sentinel=True)
    keep = _first_per_group(battles, [raters, prompt_codes], _timestamps(battles), limit=1)
    keep |= (raters < 0) | (prompt_codes < 0)
    return Filtered(battles.loc[keep], int((~keep).sum()))


def normalise_prompt(text: str) -> str:
    """The form two prompts must share to count as identical.

    Steps, in order: Unicode NFKC (compatibility forms such as full-width letters and
    ligatures become their plain letters, and composed / decomposed accents agree); drop
    format characters (category Cf: zero-width spaces and joiners, byte-order marks, soft
    hyphens), which are invisible; case-fold; split on any Unicode whitespace and join the
    words with one space (so leading, trailing and repeated spaces, tabs and newlines do not
    matter). Returns "" for a prompt of only whitespace and invisible characters.
    """
    folded = unicodedata.normalize("NFKC", text)
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return " ".join(visible.casefold().split())


def first_user_message(conversation: Any) -> str | None:
    """The text of the first user message of a conversation (a list of {"role", "content"}
    messages, or its JSON text); None when there is none. OpenAI content parts
    ([{"type": "text", "text": ...}, ...]) are joined with newlines."""
    if isinstance(conversation, str):
        try:
            conversation = json.loads(conversation)
        except json.JSONDecodeError:
            return None
    if not isinstance(conversation, (list, tuple, np.ndarray)):
        return None
    for message in conversation:
        if isinstance(message, dict) and message.get("role") in USER_ROLES:
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, (list, tuple, np.ndarray)):
                return "\n".join(part.get("text", "") for part in content
                                 if isinstance(part, dict))
            return None
    return None


def _first_prompts(battles: pd.DataFrame, prompt_column: str | None) -> list[str | None]:
    if prompt_column is not None:
        if prompt_column not in battles.columns:
            raise BattleDataError(f"no prompt column {prompt_column!r}; columns are "
                                  f"{', '.join(map(str, battles.columns))}")
        return [v if isinstance(v, str) else None for v in battles[prompt_column].tolist()]
    if "conversation_a" not in battles.columns:
        raise BattleDataError(
            "counting identical prompts once needs the prompts: a `conversation_a` column (our "
            "full export or a FastChat log) or a prompt column; this log has neither (a public "
            "release without consented text cannot be deduplicated)")
    return [first_user_message(c) for c in battles["conversation_a"].tolist()]


def _rater_codes(battles: pd.DataFrame, purpose: str) -> np.ndarray:
    """An int code per row for its rater; -1 where the rater is missing or empty."""
    if "judge" not in battles.columns:
        raise BattleDataError(f"{purpose} needs a `judge` column (the rater id, `rater_hash` "
                              "in our exports) in the input")
    judge = battles["judge"].astype(object)
    present = judge.notna().to_numpy() & (judge.astype(str).str.strip() != "").to_numpy()
    codes, _ = pd.factorize(judge.where(present, None).astype(str))
    return np.where(present, codes, -1)


def _timestamps(battles: pd.DataFrame) -> np.ndarray:
    if "tstamp" not in battles.columns:
        return np.full(len(battles), np.nan)
    return pd.to_numeric(battles["tstamp"], errors="coerce").to_numpy(dtype=float)


def _first_per_group(battles: pd.DataFrame, groups: list[np.ndarray], stamps: np.ndarray,
                     limit: int) -> np.ndarray:
    """Mask of the first `limit` rows of each group (rows with equal `groups` codes) in the
    module's order: time (missing last), battle id, source row."""
    n = len(battles)
    source = (battles["source_row"].to_numpy() if "source_row" in battles.columns
              else np.arange(n))
    keys = [pd.factorize(pd.Series(source), sort=True)[0]]
    if "battle_id" in battles.columns:
        ids = battles["battle_id"].astype(str).to_numpy()
        keys.append(pd.factorize(pd.Series(ids), sort=True)[0])
    missing = np.isnan(stamps)
    keys += [np.where(missing, 0.0, stamps), missing, *reversed(groups)]
    order = np.lexsort(keys)  # last key first: group, then missing time, time, id, row
    grouped = np.column_stack([g[order] for g in groups])
    starts = np.r_[True, (grouped[1:] != grouped[:-1]).any(axis=1)] if n else np.zeros(0, bool)
    group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    position = np.arange(n) - group_start
    keep = np.zeros(n, dtype=bool)
    keep[order] = position < limit
    return keep
