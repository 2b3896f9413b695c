"""The public data release: what of the vote log anyone may download.

One JSON object per line (UTF-8, compact), one line per published battle, in the order
(day, public_id), so that neither the order of the lines nor any field says when within a day a
battle was fought or which battles one rater fought. Every field is listed, with its meaning,
in docs/release.md; in short:

    public_id, day, mode, model_a, model_b, winner, category, language,
    labels, labeller_version, model_state_a, model_state_b, pair_probability,
    tokens_a, tokens_b, headers_a, headers_b, lists_a, lists_b, bold_a, bold_b,
    timings_a, timings_b, terms_version, conversation_a, conversation_b

`timings_a/_b` hold, per turn, the side's generation timings as seconds since that
generation started (`started_at` 0.0, `first_token_at`, `finished_at`, rounded to the
millisecond) with its `completion_tokens`: enough for time to first token and tokens per
second (ratings.timings), never a time of day.

Which battles (`left_out_reason`): voted battles the default leaderboard rates (mode not
`named` and not `judge`: an LLM judge's verdicts are not rater votes, and each would repeat a
battle's text under another id; no flags), except those still in a re-voting pool (`withheld`:
an original battle id in the pool, or a re-vote of one). Text (`conversation_a/_b`, user and
assistant messages, no system prompt) only when the record says `publish_consent` is true,
never for a re-vote (mode `replay`: the re-voter did not write it), and scrubbed of personal
data by `arena.transfer.scrub.TextScrubber`. Nothing identifies a rater: no rater hash, no time
finer than the UTC day of the vote, no endpoint, served model id, system prompt, sampling
parameters, seeds or timings. `public_id` is an HMAC-SHA256 of the log's battle id under a key
kept in the data directory (`release_key`), so it is stable across releases and cannot be
turned back into the log's id, or matched with an id a rater was shown, without that key.

`write_release` writes the file and its manifest (`FILE.manifest.json`); `export_public` is
the one entry point both `arena export --public` and the leaderboard job call, so both write
the same bytes from the same log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arena.record import BattleRecord
from arena.store import BattleLog
from arena.transfer.release_file import SortedLines, replace_atomically, sha256_of
from arena.transfer.scrub import TextScrubber, scrubber_info
from ratings.options import STYLE_FEATURES
from ratings.style import markdown_counts

RELEASE_VERSION = 1
RELEASE_FILE = "release.jsonl"
KEY_FILE = "release_key"
PUBLIC_ID_HEX = 32  # 128 bits of the HMAC
# Why a voted battle is left out, in the order the rules are applied (a battle counts under
# the first that applies). The first two are the default leaderboard's own rules.
LEFT_OUT_REASONS = ("judge", "named", "flagged", "in_revote_pool")
# The manifest's name for battles no labeller has seen (labeller_version null).
UNLABELLED = "unlabelled"


def load_release_key(data_dir: Path) -> bytes:
    """The HMAC key of public ids, kept in `<data_dir>/release_key` (created, mode 0600, on
    first use). Losing it changes every public id of later releases; never publish it."""
    path = Path(data_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes creating it at once agree on the one that won.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32))
    text = path.read_text(encoding="utf-8").strip()
    if len(text) < 32:
        raise ValueError(f"{path}: the release key is missing or too short; delete the file "
                         "to have a new one made (public ids of later releases will change)")
    return text.encode("utf-8")


def public_id(key: bytes, battle_id: str) -> str:
    """The battle's id in public releases: HMAC-SHA256(key, battle_id), first 32 hex digits."""
    digest = hmac.new(key, battle_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:PUBLIC_ID_HEX]


def left_out_reason(record: BattleRecord, withheld: Collection[str] = ()) -> str | None:
    """Why a voted battle is not published (one of LEFT_OUT_REASONS), or None to publish it."""
    if record.mode == "judge":
        return "judge"  # an LLM judge's verdict, not a rater's vote: never on the public board
    if record.mode == "named":
        return "named"  # names were shown: the default board does not rate it
    if record.flags:
        return "flagged"  # identity leak, moderation...: off the default board
    if record.battle_id in withheld or (record.replay_of is not None
                                        and record.replay_of in withheld):
        return "in_revote_pool"  # other raters are still being shown it
    return None


def publishes_text(record: BattleRecord) -> bool:
    """True when the battle's conversation may be published: the rater said yes (records
    from before consent was asked have no answer: no), and it is not a re-vote."""
    return getattr(record, "publish_consent", None) is True and record.mode != "replay"


def style_features(record: BattleRecord) -> dict[str, int]:
    """`<feature>_a/_b` for every feature `ratings.style` controls for, as it counts them:
    tokens are the completion tokens summed over turns (words of the answers when a turn lacks
    the count), headers/lists/bold are counted in the answers with code blocks removed."""
    features: dict[str, int] = {}
    for side in ("a", "b"):
        conversation = getattr(record, f"conversation_{side}")
        answers = "\n".join(message.get("content") or "" for message in conversation
                            if message.get("role") == "assistant")
        counts = markdown_counts(answers)
        tokens = [getattr(turn, f"generation_{side}").completion_tokens
                  for turn in record.turns]
        counts["tokens"] = (sum(tokens) if tokens and None not in tokens
                            else counts["words"])
        for feature in STYLE_FEATURES:
            features[f"{feature}_{side}"] = int(counts[feature])
    return {key: features[key] for key in sorted(features, key=_feature_order)}


def _feature_order(column: str) -> tuple[int, str]:
    feature, _, side = column.rpartition("_")
    return STYLE_FEATURES.index(feature), side


def vote_day(record: BattleRecord) -> str:
    """The UTC date of the vote (of the end, for imported records without a vote time)."""
    moment = record.voted_at or record.ended_at
    return moment.astimezone(UTC).date().isoformat()


def public_row(record: BattleRecord, key: bytes, scrubber: TextScrubber) -> dict[str, Any]:
    """The release line of one battle to publish (see the module docstring)."""
    text = publishes_text(record)
    row: dict[str, Any] = {
        "public_id": public_id(key, record.battle_id),
        "day": vote_day(record),
        "mode": record.mode,
        "model_a": record.model_a,
        "model_b": record.model_b,
        "winner": record.winner,
        "category": record.category,
        "language": record.language,
        "labels": list(record.labels),
        "labeller_version": record.labeller_version,
        "model_state_a": record.model_state_a,
        "model_state_b": record.model_state_b,
        "pair_probability": record.pair_probability,
        **style_features(record),
        "timings_a": side_timings(record, "a"),
        "timings_b": side_timings(record, "b"),
        "terms_version": getattr(record, "terms_version", None) if text else None,
        "conversation_a": _public_conversation(record.conversation_a, scrubber) if text else None,
        "conversation_b": _public_conversation(record.conversation_b, scrubber) if text else None,
    }
    return row


def side_timings(record: BattleRecord, side: str) -> list[dict[str, Any]]:
    """Per turn, one side's generation times in seconds since that generation started (None
    where the log lacks a time) and its completion tokens: durations, never times of day."""
    timings = []
    for turn in record.turns:
        generation = getattr(turn, f"generation_{side}")
        start = generation.started_at
        timings.append({
            "started_at": 0.0 if start is not None else None,
            "first_token_at": _seconds_since(start, generation.first_token_at),
            "finished_at": _seconds_since(start, generation.finished_at),
            "completion_tokens": generation.completion_tokens,
        })  # fmt: skip
    return timings


def _seconds_since(start: datetime | None, moment: datetime | None) -> float | None:
    if start is None or moment is None:
        return None
    return round((moment - start).total_seconds(), 3)


def _public_conversation(messages: list[dict[str, str]], scrubber: TextScrubber
                         ) -> list[dict[str, str]]:
    """User and assistant messages, scrubbed; the operator's system prompt stays private."""
    return [{"role": message["role"], "content": scrubber.scrub(message.get("content") or "")}
            for message in messages if message.get("role") in ("user", "assistant")]


@dataclass
class PublicRelease:
    """What `write_release` wrote: the file, its manifest, and the counts the manifest holds."""

    path: Path
    manifest_path: Path
    sha256: str = ""
    rows: int = 0
    rows_with_text: int = 0
    left_out: Counter[str] = field(default_factory=Counter)
    terms_versions: set[str] = field(default_factory=set)
    days: set[str] = field(default_factory=set)
    label_counts: Counter[str] = field(default_factory=Counter)
    labeller_versions: Counter[str] = field(default_factory=Counter)

    def manifest(self) -> dict[str, Any]:
        """The manifest's content (documented in docs/release.md)."""
        return {
            "release_version": RELEASE_VERSION,
            "file": self.path.name,
            "sha256": self.sha256,
            "bytes": self.path.stat().st_size,
            "rows": self.rows,
            "rows_with_text": self.rows_with_text,
            "left_out": {reason: self.left_out[reason] for reason in LEFT_OUT_REASONS},
            "first_day": min(self.days, default=None),
            "last_day": max(self.days, default=None),
            "terms_versions": sorted(self.terms_versions),
            "labels": dict(sorted(self.label_counts.items())),
            "labeller_versions": dict(sorted(self.labeller_versions.items())),
            "scrubber": scrubber_info(),
        }


def manifest_path(release: Path) -> Path:
    """Where the manifest of release file `release` goes: `release.jsonl.manifest.json`."""
    return release.with_name(release.name + ".manifest.json")


def write_release(records: Iterable[BattleRecord], out: Path, *, key: bytes,
                  withheld: Collection[str] = ()) -> PublicRelease:
    """Write the release of the voted battles among `records` to `out` and its manifest.

    Lines are sorted on disk (a temporary SQLite file), so memory stays flat however long the
    log. `out` is replaced only once complete; the manifest is written after it.
    """
    release = PublicRelease(path=out, manifest_path=manifest_path(out))
    scrubber = TextScrubber()
    with SortedLines(out.parent) as lines:
        for record in _voted(records):
            reason = left_out_reason(record, withheld)
            if reason is not None:
                release.left_out[reason] += 1
                continue
            row = public_row(record, key, scrubber)
            if row["conversation_a"] is not None:
                release.rows_with_text += 1
                if row["terms_version"] is not None:
                    release.terms_versions.add(str(row["terms_version"]))
            release.rows += 1
            release.days.add(row["day"])
            release.label_counts.update(record.labels)
            release.labeller_versions[record.labeller_version or UNLABELLED] += 1
            line = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
            lines.add((row["day"], row["public_id"]), line)
        replace_atomically(out, lines.sorted())
    release.sha256 = sha256_of(out)
    replace_atomically(release.manifest_path,
                       [json.dumps(release.manifest(), indent=2, ensure_ascii=False)])
    return release


def _voted(records: Iterable[BattleRecord]) -> Iterator[BattleRecord]:
    return (record for record in records if record.status == "voted")


def export_public(log: BattleLog, out: Path, *, key: bytes,
                  withheld: Collection[str] = ()) -> PublicRelease:
    """The public release of the whole log (see `write_release`)."""
    return write_release(log.iter_battles(status="voted"), out, key=key, withheld=withheld)
