"""The rules of the arena: start a battle, stream both sides, take follow-ups, take the vote.

Every front end (the Gradio UI, the REST API, the tests) goes through `BattleService`, so the
rules live here once:

- A battle starts with a prompt. The pair sampler picks two healthy models that are not
  retired and logs the probability of the chosen pair; a seeded coin (seed logged) puts one on
  the left (`model_a`). The models' lifecycle states are read when the battle starts and kept
  with it to the record (lifecycle.py); a named battle with a retired model is refused.
- Both sides stream at the same time. Follow-up prompts go to the same two models, each with its
  own history, until the vote; `max_turns` and `max_prompt_chars` bound a battle.
- The vote (`model_a`, `model_b`, `tie`, `tie (bothbad)`) is accepted once, only from the session
  that owns the battle, only after both sides of the last turn finished without error. It is
  committed to SQL before it is acknowledged; only then are the names revealed. A vote may
  carry the client's idempotency key: a retry with the same key (the answer was lost) gets the
  recorded vote's reveal again; any other second vote is refused.
- Every text a rater sends (prompts, category, mode, models, winner, battle id, key) is checked
  before anything is stored: length, NUL, lone surrogates, control characters (checks.py);
  `category` must be one of the configured categories.
- A battle where a side failed is logged with the error (status `error`) and cannot be voted. A
  battle left without a vote (new round, tab closed, expired) is logged as `abandoned`.
- An output that names its own model or maker flags the battle `identity_leak`; the vote is kept.
- Before the vote the rater may Regenerate the last turn (new answers from the same pair to
  the same prompt; the replaced turn stays in the record's `discarded_turns`; at most
  `max_regenerations`, each counted as a new battle) and Stop the turn streaming (both
  generations cancelled; votable if both sides wrote text). After it, they may give one
  reason (tags from `reason_tags`, a short comment) and, if they agreed to publish the text,
  get a share link to a read-only page of the battle.
- Workers die (a host lost): a vote claimed by a worker that is gone is taken over by the
  retry (vote_claims.py), and a battle streaming on a worker that is gone is ended as
  abandoned (`host_lost`) when the rater next acts on it (lost_streams.py). Each worker keeps
  a presence key in Redis for this (arena.live.presence).

The parts: the battle's state and record (state.py), input checks (checks.py), where running
battles are kept (running.py), rate limits and vote claims (admission.py), streaming a turn
(streaming.py), battles over logged battles for re-voting (revoting.py), the pair of a new
battle (pairing.py), the models' lifecycle states (lifecycle.py), Regenerate and Stop
(controls.py, regenerate.py, stopping.py), the reason and share link (after_vote.py,
reasons.py, sharing.py), workers that die (vote_claims.py, lost_streams.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping

from arena.battles.admission import Admission, unless_redis_down
from arena.battles.after_vote import AfterVote
from arena.battles.checks import (
    check_category,
    check_consent_text,
    check_mode,
    check_named,
    check_prompt,
    check_token,
)
from arena.battles.controls import BattleControls
from arena.battles.interface import BattleEvent, Contender, GenerateFn
from arena.battles.lifecycle import ModelStates, check_not_retired, retired_names
from arena.battles.pair_counts import reconcile_pair_counts
from arena.battles.pairing import draw_pair
from arena.battles.revoting import PoolExhausted, RevoteSource, revote_state, stream_logged_turns
from arena.battles.running import RunningBattles
from arena.battles.sampling import Pair, PairSampler, new_side_seed
from arena.battles.sharing import ShareLinks
from arena.battles.state import (
    GENERATING,
    READY,
    REPLAY_ONLY,
    begin_stream,
    closed_reason,
    mark_streaming,
    new_battle_state,
)
from arena.battles.stopping import StopSignals
from arena.battles.stream_claims import StreamClaims
from arena.battles.streaming import TurnStreamer, wait_detached
from arena.battles.voting import VoteTaking
from arena.config import ArenaSettings
from arena.consent import check_consent
from arena.errors import BadInput, BattleNotFound, Unavailable, VoteConflict
from arena.ids import new_battle_id
from arena.live import LiveState
from arena.live.presence import WorkerPresence
from arena.record import BattleRecord, Consent
from arena.store import BattleLog
from arena.store.group_writer import GroupWriter, RecordWriter

log = logging.getLogger(__name__)

# How long closing the service waits for the records of battles being abandoned (a client
# left mid-stream) before it closes the writer, in seconds.
ABANDON_WAIT_S = 5.0


async def wait_for_abandoned(wait_s: float) -> None:
    """Wait at most `wait_s` seconds for the records of battles being abandoned in the
    background (clients that left mid-stream) to reach the writer."""
    try:
        async with asyncio.timeout(wait_s):
            await wait_detached()
    except TimeoutError:
        log.warning("closing with abandoned battles still being logged after %.1f s; "
                    "they may be missing from the log", wait_s)


class BattleService(BattleControls, VoteTaking, AfterVote):
    """The arena's rules over a vote log (SQL), live state (Redis), a sampler and two streams.
    Regenerate and Stop: `BattleControls`; the vote: `VoteTaking`; the reason and share
    link: `AfterVote`."""

    def __init__(
        self,
        *,
        contenders: Mapping[str, Contender],
        generate: GenerateFn,
        log: BattleLog,
        live: LiveState,
        sampler: PairSampler,
        settings: ArenaSettings,
        salt: str,
        rng: random.Random | None = None,
        on_vote: Callable[[], None] | None = None,
        on_voted: Callable[[BattleRecord], None] | None = None,
        replay: RevoteSource | None = None,
        writer: RecordWriter | None = None,
        categories: Collection[str] | None = None,
    ) -> None:
        self.contenders = dict(contenders)
        self.generate = generate
        self.log = log
        self.live = live
        self.sampler = sampler
        self.settings = settings
        self.salt = salt
        self.rng = rng or random.SystemRandom()
        self.on_vote = on_vote
        # Given each newly voted record (the live judge's queue); must never block or raise.
        self.on_voted = on_voted
        # The values a battle's `category` may take (none: a battle has no category).
        self.categories = frozenset(
            getattr(settings, "categories", ()) if categories is None else categories)
        # Re-voting (`arena serve --replay`): battles come from this pool, not from models.
        self.replay = replay
        # One writer per process (BattleLog serialises writers anyway: SQLite admits one at a
        # time); it commits the records that queued up during a commit together (group
        # commit), each caller still awaiting its own. By default a thread of this process;
        # `arena serve` passes a writer child process (arena.store.log_process).
        # Lifecycle states (preview, active, retired), shared by the workers through Redis.
        self.states = ModelStates(live, self.contenders)
        self.battles = RunningBattles(live, writer or GroupWriter(log), settings, log)
        # This worker's presence in Redis: another worker ends a battle this one streamed, or
        # takes over a vote it claimed, once it is gone (lost_streams.py, vote_claims.py).
        self.presence = WorkerPresence(live.client, prefix=live.prefix)
        self.admission = Admission(live, settings, self.battles, self.presence)
        # Stop requests reach the worker that streams through Redis (stopping.py); a share
        # link is signed with the rater salt, a secret every worker shares (sharing.py).
        self.stops = StopSignals(live.client, prefix=live.prefix,
                                 ttl_s=settings.generation_timeout_s + 60)
        self.claims = StreamClaims(live.client, prefix=live.prefix)
        self.turns = TurnStreamer(generate, self.contenders, self.battles, stops=self.stops)
        self.share_links = ShareLinks(salt)

    async def aclose(self, wait_s: float = ABANDON_WAIT_S) -> None:
        """Wait (at most `wait_s` seconds) for the records of battles being abandoned, then
        commit the records still queued for SQL and stop the writer. Close the live state
        (Redis) after this: an abandoned battle's state is saved there on the way."""
        await wait_for_abandoned(wait_s)
        await self.stops.aclose()
        await self.battles.aclose()
        await self.presence.aclose()

    # ----------------------------------------------------------------------------------- start
    async def healthy_models(self) -> list[str]:
        """Configured models not flagged down; raises Unavailable if Redis is unreachable."""
        down = await unless_redis_down(self.live.down_models())
        return [name for name in self.contenders if name not in down]

    async def start(
        self,
        session_id: str,
        prompt: str,
        *,
        mode: str = "anonymous",
        models: tuple[str, str] | None = None,
        category: str | None = None,
        consent: Consent | None = None,
    ) -> tuple[str, AsyncIterator[BattleEvent]]:
        """Open a battle and return its id and the stream of its first turn.

        Anonymous mode samples the pair; named mode takes `models` as (left, right).
        `consent` is the rater's answer to the publication terms (arena.consent), logged with
        the battle; None means they were not asked. Raises BadInput (also for a consent to
        terms that are no longer in force), InvalidField (a text field the arena refuses),
        PromptTooLong, RetiredModel (named mode), RateLimited or Unavailable before anything
        is stored or streams.
        """
        if self.replay is not None:
            raise BadInput(REPLAY_ONLY)
        prompt = check_prompt(prompt, self.settings.max_prompt_chars)
        category = check_category(category, self.categories)
        named = check_named(models, self.contenders) if check_mode(mode) == "named" else None
        consent = check_consent(check_consent_text(consent), self.settings)
        states = await unless_redis_down(self.states.current())
        if named is not None:
            check_not_retired(named, states)
        owner = self.rater(session_id)
        await self.admission.admit_new_battle(owner)
        if named is None:
            left, right, pair = await draw_pair(self.live, self.sampler, self.contenders,
                                                self.rng, retired_names(states))
        else:
            left, right = named
            pair = ("named", None, None)
        battle_id = new_battle_id()
        sides = ((left, self.contenders[left]), (right, self.contenders[right]))
        state = new_battle_state(battle_id, owner, mode, sides, pair=pair, category=category,
                                 consent=consent, states=(states[left], states[right]))
        await self.presence.ensure_running()
        mark_streaming(state, self.presence.worker_id, prompt)
        await self.battles.save(state)
        return battle_id, self.turns.stream(state, prompt, announce=True)

    async def continue_battle(
        self, battle_id: str, session_id: str, prompt: str
    ) -> AsyncIterator[BattleEvent]:
        """Send a follow-up prompt to both models of an open battle; returns its stream."""
        check_token(battle_id, "battle_id")
        prompt = check_prompt(prompt, self.settings.max_prompt_chars, "follow-up prompt")
        state = await self.battles.owned(battle_id, self.rater(session_id))
        if state["mode"] == "replay":
            raise VoteConflict(REPLAY_ONLY)
        await self.end_if_stream_lost(state)
        if state["status"] == GENERATING:
            raise VoteConflict("both answers are still streaming; wait for them to finish")
        if state["status"] != READY:
            raise VoteConflict(closed_reason(state))
        if len(state["turns"]) >= self.settings.max_turns:
            raise VoteConflict(
                f"this battle reached its limit of {self.settings.max_turns} turns; "
                "vote or start a new round"
            )
        async with self.next_stream(state):  # one follow-up, however many requests
            begin_stream(state)
            await self.presence.ensure_running()
            mark_streaming(state, self.presence.worker_id, prompt)
            await self.battles.save(state)
        return self.turns.stream(state, prompt, announce=False)

    # ----------------------------------------------------------------------- after the battle
    async def reconcile_pair_counts(self) -> dict[Pair, int]:
        """Repair the sampler's counts in Redis from SQL (`arena.battles.pair_counts`)."""
        return await reconcile_pair_counts(self.log, self.live)

    async def end(self, battle_id: str, session_id: str, reason: str = "new_round") -> bool:
        """Leave a battle without a vote; logs it as abandoned. True if something was logged."""
        check_token(battle_id, "battle_id")
        try:
            state = await self.battles.owned(battle_id, self.rater(session_id))
        except BattleNotFound:
            return False
        return await self.battles.abandon(state, reason)

    async def sweep_expired(self, now: float | None = None) -> int:
        """Log as abandoned this process's battles idle for longer than `battle_ttl_s`."""
        return await self.battles.sweep_expired(time.time() if now is None else now)

    # ---------------------------------------------------------------------------- re-voting
    async def start_replay(self, session_id: str) -> tuple[str, AsyncIterator[BattleEvent]]:
        """Re-voting: open a battle on a logged battle this rater was not shown yet.

        The logged battle is chosen by the pool's `assign` (fewest re-votes first), laid
        out on new sides by a fresh logged coin (`side_seed`), and its recorded turns are
        streamed: a `turn` event (the logged prompt) before each turn's deltas, then `ready`.
        The vote goes through `vote` like any other and is logged with mode `replay`,
        `replay_of` the original id and pair_policy `replay`. Raises BadInput outside replay
        mode, RateLimited, or Unavailable when Redis is down or the rater has seen them all.
        """
        if self.replay is None:
            raise BadInput("this arena is not in replay mode; start a battle with a prompt")
        owner = self.rater(session_id)
        await self.admission.admit_new_battle(owner)
        try:
            original = await unless_redis_down(self.replay.assign(owner))
        except PoolExhausted:
            raise Unavailable(
                f"you have seen every battle of this replay pool ({len(self.replay)}); "
                "thank you, there is nothing left to judge"
            ) from None
        battle_id = new_battle_id()
        state = revote_state(battle_id, owner, original, new_side_seed())
        # The states in force now (None for a model this arena's config does not name).
        states = await unless_redis_down(self.states.current())
        state.update(model_state_a=states.get(state["model_a"]),
                     model_state_b=states.get(state["model_b"]))
        await self.battles.save(state)
        return battle_id, stream_logged_turns(state, self.battles)
