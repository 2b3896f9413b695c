"""The sampler's per-pair vote counts in Redis, kept in line with the SQL log.

A vote is counted for its pair in Redis only after it is durable in SQL (`settle_vote`). If
Redis blips between the two, the count stays one short; a flush loses them all. The counts are
rebuildable from SQL, so `reconcile_pair_counts` compares both and rewrites Redis's where they
differ. The arena runs it at start and then every few minutes (one SQL GROUP BY over the
battles table and one HGETALL; a rewrite only when they differ).
"""

from __future__ import annotations

import asyncio
import logging

from arena.battles.sampling import Pair, count_drift
from arena.live import LiveState
from arena.store import BattleLog

log = logging.getLogger(__name__)


async def reconcile_pair_counts(battle_log: BattleLog, live: LiveState) -> dict[Pair, int]:
    """Set the sampler's per-pair vote counts in Redis to what the SQL log holds (anonymous,
    voted battles) where they differ; return that drift (SQL minus Redis per unordered pair,
    empty when they agreed).

    Votes settled while this runs may be counted once too often or too few until the next
    call. Raises LiveStateUnavailable when Redis is down.
    """
    before = await live.pair_counts()
    stored = await asyncio.to_thread(battle_log.pair_counts, mode="anonymous", status="voted")
    drift = count_drift(stored, before)
    if drift:
        await live.rebuild_pair_counts(stored)  # (a, b) and (b, a) add up there
        log.warning("sampler pair counts repaired from SQL: %s",
                    ", ".join(f"{'/'.join(sorted(pair))} {n:+d}" for pair, n in drift.items()))
    return drift
