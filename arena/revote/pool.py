"""Re-voting logged battles (`arena serve --replay FILE`): the pool of battles and who saw what.

A replay arena shows new raters (say, expert annotators) battles that were already fought: the
recorded prompts and answers, no generation, no model server. Two pieces live here; the rules
(ownership, one vote, the vote in SQL before the reveal, rate limits) stay in
`arena.battles.BattleService.start_replay` and its ordinary `vote`, and so does laying a logged
battle out on new sides (`arena.battles.revoting.revote_sides`):

- `ReplayPool.load(path)` reads our JSONL export and keeps the battles that can be shown again:
  status `voted` or `abandoned`, at least one turn, every turn with both generations finished
  without error, two different models, not itself a replay. Everything else is counted by
  reason (`pool.skipped`), so `arena serve` can say what it left out.
- `ReplayLedger` keeps, in Redis, which original battles each rater was shown (a set per rater)
  and how many replay votes each original has (a hash). Both are rebuilt from the SQL log (the
  `replay` battles: their `rater_hash`, `replay_of` and status) whenever their marker key is
  missing, e.g. after a flush. `assign` picks, for one rater, an original this rater has not
  been shown, among those with the fewest replay votes (uniformly among ties), and marks it
  shown atomically (SADD), so two tabs of one rater never get the same battle. It is the
  battle service's `RevoteSource`.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.battles.revoting import PoolExhausted
from arena.live import LiveState
from arena.record import BattleRecord, InvalidRecord
from arena.store import BattleLog

REPLAYABLE_STATUSES = ("voted", "abandoned")
NO_CONSENT = "its rater did not agree to publish the text"


class ReplayPoolError(ValueError):
    """The replay file cannot be used; the message names the file and says why."""


@dataclass
class ReplayPool:
    """The logged battles a replay arena can show, by original battle id (file order kept)."""

    path: Path
    battles: dict[str, BattleRecord]
    skipped: Counter[str] = field(default_factory=Counter)

    @classmethod
    def load(cls, path: Path, *, require_consent: bool = True) -> ReplayPool:
        """Read a JSONL export; keep what can be re-voted, count the rest by reason.

        A re-voting arena shows strangers other raters' prompts and answers, so by default only
        battles whose rater agreed to publish the text (`publish_consent`) are kept;
        `require_consent=False` (`[arena] revote_without_consent`) is for logs that are public
        already or raters bound by the operator's terms. Raises ReplayPoolError when the file
        is missing or holds no replayable battle.
        """
        path = Path(path)
        if not path.is_file():
            raise ReplayPoolError(f"{path}: file not found (write one with `arena export "
                                  "--format jsonl --out FILE` on the original arena's log)")
        battles: dict[str, BattleRecord] = {}
        skipped: Counter[str] = Counter()
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                record, reason = _parse(line)
                if record is not None and reason is None and record.battle_id in battles:
                    reason = "duplicate battle_id"
                if (record is not None and reason is None and require_consent
                        and record.publish_consent is not True):
                    reason = NO_CONSENT
                if reason is not None:
                    skipped[reason] += 1
                    continue
                assert record is not None
                battles[record.battle_id] = record
        pool = cls(path, battles, skipped)
        if not battles:
            raise ReplayPoolError(
                f"{path}: no battle can be re-voted ({pool.skipped_text() or 'the file is empty'})"
                "; replay needs our JSONL export with voted or abandoned battles"
            )
        return pool

    def __len__(self) -> int:
        return len(self.battles)

    def skipped_text(self) -> str:
        """'3 status error, 1 no turns' (most common first), or '' when nothing was skipped."""
        return ", ".join(f"{count} {reason}" for reason, count in self.skipped.most_common())

    def summary(self) -> str:
        """One line for the server log: how many loaded, how many skipped and why."""
        line = f"loaded {len(self)} battle{'s' * (len(self) != 1)} from {self.path}"
        total = sum(self.skipped.values())
        if total:
            line += f"; skipped {total}: {self.skipped_text()}"
        return line

    def choose(self, shown: set[str], votes: dict[str, int], rng: random.Random) -> str:
        """An original id not in `shown`, with the fewest `votes`, uniformly among ties.

        Raises PoolExhausted when every battle is in `shown`.
        """
        fewest: list[str] = []
        least = None
        for battle_id in self.battles:
            if battle_id in shown:
                continue
            count = votes.get(battle_id, 0)
            if least is None or count < least:
                least, fewest = count, [battle_id]
            elif count == least:
                fewest.append(battle_id)
        if not fewest:
            raise PoolExhausted(f"all {len(self)} battles of the replay pool were shown to you")
        return rng.choice(fewest)


def _parse(line: str) -> tuple[BattleRecord | None, str | None]:
    """A record and None, or None/the record and the reason it is skipped."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None, "not valid JSON"
    if not isinstance(data, dict) or "battle_id" not in data:
        return None, "not a battle record of our JSONL export"
    try:
        record = BattleRecord.from_dict(data)
    except (InvalidRecord, TypeError) as bad:
        return None, f"invalid record ({str(bad).split(':')[0]})"
    return record, skip_reason(record)


def skip_reason(record: BattleRecord) -> str | None:
    """Why a logged battle cannot be shown again, or None when it can."""
    if record.mode == "judge":
        return "an LLM judge's verdict, not a battle"
    if record.mode == "replay":
        return "already a replay vote"
    if record.status not in REPLAYABLE_STATUSES:
        return f"status {record.status}"
    if not record.turns:
        return "no turns"
    for turn in record.turns:
        for generation in (turn.generation_a, turn.generation_b):
            if generation.error is not None or generation.finished_at is None:
                return "a generation failed or never finished"
    if record.model_a == record.model_b:
        return "both sides are the same model"
    return None


class ReplayLedger:
    """Which originals each rater was shown, and replay votes per original, kept in Redis.

    Keys (under the live state's prefix): ``replay:shown:<rater>`` (set of original ids),
    ``replay:votes`` (hash original id -> replay votes), ``replay:built`` (marker; when missing
    both are rebuilt from the SQL log before the next assignment).
    """

    def __init__(self, pool: ReplayPool, live: LiveState, log: BattleLog,
                 rng: random.Random | None = None) -> None:
        self.pool = pool
        self.live = live
        self.log = log
        self.rng = rng or random.SystemRandom()
        self._rebuild_lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self.pool)

    def _key(self, *parts: str) -> str:
        return self.live.key("replay", *parts)

    async def _redis(self, call: Callable[[], Any]) -> Any:
        """`call()` under the live state's deadline and error rules (LiveConnection.call)."""
        return await self.live.call(call)

    async def assign(self, rater: str) -> BattleRecord:
        """An original battle for `rater` (see the module docstring), marked as shown.

        Raises PoolExhausted, or LiveStateUnavailable when Redis cannot be reached.
        """
        await self.ensure_built()
        client = self.live.client
        for _ in range(8):
            shown = set(await self._redis(lambda: client.smembers(self._key("shown", rater))))
            raw = await self._redis(lambda: client.hgetall(self._key("votes")))
            votes = {battle_id: int(count) for battle_id, count in raw.items()}
            battle_id = self.pool.choose(shown, votes, self.rng)
            added = await self._redis(
                lambda battle_id=battle_id: client.sadd(self._key("shown", rater), battle_id))
            if added:  # another tab of this rater may have taken it in between: pick again
                return self.pool.battles[battle_id]
        raise PoolExhausted("could not reserve a battle; try again")

    async def note_vote(self, original_id: str) -> None:
        """Count one replay vote of `original_id` (after it is durable in SQL)."""
        await self._redis(lambda: self.live.client.hincrby(self._key("votes"), original_id, 1))

    async def votes(self) -> dict[str, int]:
        raw = await self._redis(lambda: self.live.client.hgetall(self._key("votes")))
        return {battle_id: int(count) for battle_id, count in raw.items()}

    async def ensure_built(self) -> None:
        """Rebuild both from SQL when the marker is missing (first start, or Redis flushed)."""
        client = self.live.client
        if await self._redis(lambda: client.exists(self._key("built"))):
            return
        async with self._rebuild_lock:
            if await self._redis(lambda: client.exists(self._key("built"))):
                return
            shown, votes = await asyncio.to_thread(self._count_from_sql)
            await self._redis(lambda: self._store(shown, votes))

    def _count_from_sql(self) -> tuple[dict[str, set[str]], Counter[str]]:
        shown: dict[str, set[str]] = {}
        votes: Counter[str] = Counter()
        for record in self.log.iter_battles(mode="replay"):
            if record.replay_of is None:
                continue
            shown.setdefault(record.rater_hash, set()).add(record.replay_of)
            if record.status == "voted":
                votes[record.replay_of] += 1
        return shown, votes

    async def _store(self, shown: dict[str, set[str]], votes: Counter[str]) -> None:
        async with self.live.client.pipeline(transaction=True) as pipe:
            pipe.delete(self._key("votes"))
            if votes:
                pipe.hset(self._key("votes"), mapping=dict(votes))
            for rater, ids in shown.items():
                pipe.sadd(self._key("shown", rater), *ids)
            pipe.set(self._key("built"), "1")
            await pipe.execute()

