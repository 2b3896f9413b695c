"""The pair of a new anonymous battle: the models in outage (health, in Redis) and the retired
ones (lifecycle.py) left out, the sampler's draw among the rest, and the logged coin that puts
one of the two on the left.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Collection

from arena.battles.admission import unless_redis_down
from arena.battles.sampling import NotEnoughModels, PairSampler, assign_sides, new_side_seed
from arena.errors import Unavailable
from arena.live import LiveState

log = logging.getLogger(__name__)

# The same words whichever models are down or retired: which ones is per-model health
# (operators only).
NO_HEALTHY_PAIR = ("no battle can start right now: fewer than two models are available; "
                   "try again in a minute")


async def draw_pair(live: LiveState, sampler: PairSampler, models: Collection[str],
                    rng: random.Random, retired: Collection[str]
                    ) -> tuple[str, str, tuple[str, float | None, int | None]]:
    """(left, right, (policy, probability of the pair, side seed)) among the healthy `models`
    that are not `retired`. The probability is that of the pair among the pairs that could be
    drawn. Unavailable when Redis is down or fewer than two models are left."""
    down = set(await unless_redis_down(live.down_models()))
    counts = await unless_redis_down(live.pair_counts(max_age_s=1.0))
    try:
        choice = sampler.sample(list(models), counts, rng, excluded=down, retired=retired)
    except NotEnoughModels as short:
        log.warning("no battle can start: %s", short)  # which models: operators only
        raise Unavailable(NO_HEALTHY_PAIR, retry_after_s=60.0) from None
    side_seed = new_side_seed()
    left, right = assign_sides(choice.pair, side_seed)
    return left, right, (choice.policy, choice.probability, side_seed)
