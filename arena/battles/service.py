"""The rules of the arena: start a battle, stream both sides, take follow-ups, take the vote.

Every front end (the Gradio UI, the REST API, the tests) goes through `BattleService`, so the
rules live here once:

- A battle starts with a prompt. The pair sampler picks two healthy models and logs the
  probability of the chosen pair; a seeded coin (seed logged) puts one on the left (`model_a`).
- Both sides stream at the same time. Follow-up prompts go to the same two models, each with its
  own history, until the vote; `max_turns` and `max_prompt_chars` bound a battle.
- The vote (`model_a`, `model_b`, `tie`, `tie (bothbad)`) is accepted once, only from the session
  that owns the battle, only after both sides of the last turn finished without error. It is
  committed to SQL before it is acknowledged; only then are the names revealed.
- A battle where a side failed is logged with the error (status `error`) and cannot be voted. A
  battle left without a vote (new round, tab closed, expired) is logged as `abandoned`.
- An output that names its own model or maker flags the battle `identity_leak`; the vote is kept.

The parts: the battle's state and record (state.py), input checks (checks.py), where running
battles are kept (running.py), rate limits and vote claims (admission.py), streaming a turn
(streaming.py), battles over logged battles for re-voting (revoting.py).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping

from arena.battles.admission import Admission, unless_redis_down
from arena.battles.checks import check_mode, check_named, check_prompt
from arena.battles.interface import BattleEvent, Contender, GenerateFn, Reveal
from arena.battles.revoting import PoolExhausted, RevoteSource, revote_state, stream_logged_turns
from arena.battles.running import RunningBattles
from arena.battles.sampling import NotEnoughModels, PairSampler, assign_sides, new_side_seed
from arena.battles.state import (
    ALREADY_VOTED,
    GENERATING,
    READY,
    REPLAY_ONLY,
    VOTED,
    battle_record,
    closed_reason,
    new_battle_state,
    rater_hash,
    reveal_of,
    utcnow,
    voted_stub,
)
from arena.battles.streaming import TurnStreamer
from arena.config import ArenaSettings
from arena.consent import check_consent
from arena.errors import BadInput, BattleNotFound, Unavailable, VoteConflict
from arena.ids import new_battle_id
from arena.live import LiveState, LiveStateUnavailable
from arena.record import WINNERS, Consent
from arena.store import BattleLog, DuplicateBattle
from arena.store.group_writer import GroupWriter, RecordWriter

log = logging.getLogger(__name__)


class BattleService:
    """The arena's rules over a vote log (SQL), live state (Redis), a sampler and two streams."""

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
        replay: RevoteSource | None = None,
        writer: RecordWriter | None = None,
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
        # Re-voting (`arena serve --replay`): battles come from this pool, not from models.
        self.replay = replay
        # One writer per process (BattleLog serialises writers anyway: SQLite admits one at a
        # time); it commits the records that queued up during a commit together (group
        # commit), each caller still awaiting its own. By default a thread of this process;
        # `arena serve` passes a writer child process (arena.store.log_process).
        self.battles = RunningBattles(live, writer or GroupWriter(log), settings)
        self.admission = Admission(live, settings, self.battles)
        self.turns = TurnStreamer(generate, self.contenders, self.battles)

    async def aclose(self) -> None:
        """Commit the records still queued for SQL and stop the writer."""
        await self.battles.aclose()

    # ----------------------------------------------------------------------------------- start
    def rater(self, session_id: str) -> str:
        return rater_hash(self.salt, session_id)

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
        terms that are no longer in force), PromptTooLong, RateLimited or Unavailable before
        anything streams.
        """
        if self.replay is not None:
            raise BadInput(REPLAY_ONLY)
        prompt = check_prompt(prompt, self.settings.max_prompt_chars)
        consent = check_consent(consent, self.settings)
        owner = self.rater(session_id)
        await self.admission.admit_new_battle(owner)
        if check_mode(mode) == "anonymous":
            left, right, pair = await self._sample_pair()
        else:
            left, right = check_named(models, self.contenders)
            pair = ("named", None, None)
        battle_id = new_battle_id()
        sides = ((left, self.contenders[left]), (right, self.contenders[right]))
        state = new_battle_state(battle_id, owner, mode, sides, pair=pair, category=category,
                                 consent=consent)
        await self.battles.save(state)
        return battle_id, self.turns.stream(state, prompt, announce=True)

    async def continue_battle(
        self, battle_id: str, session_id: str, prompt: str
    ) -> AsyncIterator[BattleEvent]:
        """Send a follow-up prompt to both models of an open battle; returns its stream."""
        prompt = check_prompt(prompt, self.settings.max_prompt_chars)
        state = await self.battles.owned(battle_id, self.rater(session_id))
        if state["mode"] == "replay":
            raise VoteConflict(REPLAY_ONLY)
        if state["status"] == GENERATING:
            raise VoteConflict("both answers are still streaming; wait for them to finish")
        if state["status"] != READY:
            raise VoteConflict(closed_reason(state))
        if len(state["turns"]) >= self.settings.max_turns:
            raise VoteConflict(
                f"this battle reached its limit of {self.settings.max_turns} turns; "
                "vote or start a new round"
            )
        state["status"] = GENERATING
        await self.battles.save(state)
        return self.turns.stream(state, prompt, announce=False)

    async def _sample_pair(self) -> tuple[str, str, tuple[str, float | None, int | None]]:
        """(left, right, (policy, probability of the pair, side seed)) among healthy models."""
        down = await unless_redis_down(self.live.down_models())
        counts = await unless_redis_down(self.live.pair_counts(max_age_s=1.0))
        try:
            choice = self.sampler.sample(
                list(self.contenders), counts, self.rng, excluded=set(down)
            )
        except NotEnoughModels as short:
            raise Unavailable(str(short)) from None
        side_seed = new_side_seed()
        left, right = assign_sides(choice.pair, side_seed)
        return left, right, (choice.policy, choice.probability, side_seed)

    # ------------------------------------------------------------------------------------ vote
    async def vote(self, battle_id: str, session_id: str, winner: str) -> Reveal:
        """Record the vote durably in SQL, then reveal the names.

        Refused (VoteConflict) when already voted, still generating, failed or ended;
        NotYourBattle for another session's battle; BadInput for an unknown winner.
        """
        if winner not in WINNERS:
            raise BadInput(
                f"winner {winner!r} is not one of {', '.join(repr(w) for w in WINNERS)}"
            )
        state = await self.admission.admit_vote(battle_id, self.rater(session_id))
        record = battle_record(state, status="voted", winner=winner, voted_at=utcnow())
        try:
            await self.battles.write(record)
        except DuplicateBattle:
            raise VoteConflict(ALREADY_VOTED) from None
        except BaseException:
            await self.admission.release_vote(battle_id)
            raise
        # The vote is durable from here on; what follows only updates rebuildable state:
        # the battle's state shrinks to what a later reveal or refusal needs (the
        # conversations are in SQL now), and the sampler counts the pair (sampled pairs only).
        self.battles.forget(battle_id)
        pair = (state["model_a"], state["model_b"]) if state["mode"] == "anonymous" else None
        try:
            await self.live.settle_vote(battle_id, voted_stub(state, winner),
                                        self.settings.battle_ttl_s, pair)
        except LiveStateUnavailable:
            log.warning("battle %s voted, but its live state and pair counter were not "
                        "updated: live state unavailable", battle_id)
        if state.get("replay_of") and self.replay is not None:
            await self._note_revote(state["replay_of"])
        if self.on_vote is not None:
            self.on_vote()
        return reveal_of(state, winner)

    async def end(self, battle_id: str, session_id: str, reason: str = "new_round") -> bool:
        """Leave a battle without a vote; logs it as abandoned. True if something was logged."""
        try:
            state = await self.battles.owned(battle_id, self.rater(session_id))
        except BattleNotFound:
            return False
        return await self.battles.abandon(state, reason)

    async def sweep_expired(self, now: float | None = None) -> int:
        """Log as abandoned this process's battles idle for longer than `battle_ttl_s`."""
        now = time.time() if now is None else now
        logged = 0
        for state in self.battles.idle(now):
            current = await self.battles.load(state["battle_id"]) or state
            if await self.battles.abandon(current, "expired"):
                logged += 1
            self.battles.forget(state["battle_id"])
        return logged

    async def reveal(self, battle_id: str, session_id: str) -> Reveal:
        """The names of a battle this session already voted on (e.g. for a page reload)."""
        state = await self.battles.owned(battle_id, self.rater(session_id))
        if state["status"] != VOTED:
            raise VoteConflict("names are revealed only after the vote")
        return reveal_of(state, state["winner"])

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
        await self.battles.save(state)
        return battle_id, stream_logged_turns(state, self.battles)

    async def _note_revote(self, original_id: str) -> None:
        assert self.replay is not None
        try:
            await self.replay.note_vote(original_id)
        except LiveStateUnavailable:
            # Rebuilt from SQL with the rest of the re-vote ledger after a flush or outage.
            log.warning("replay vote count of %s not updated: live state unavailable",
                        original_id)
