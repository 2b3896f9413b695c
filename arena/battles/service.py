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

State of a running battle is a JSON-able dict kept in Redis (so another worker process can take
the vote) and, as a fallback, in this process's memory. Nothing in Redis is needed to rebuild the
log: the SQL write at the end is the only durable step.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from arena.battles.sampling import NotEnoughModels, PairSampler, assign_sides, new_side_seed
from arena.config import ArenaSettings
from arena.errors import (
    BadInput,
    BattleNotFound,
    NotYourBattle,
    PromptTooLong,
    RateLimited,
    Unavailable,
    VoteConflict,
)
from arena.ids import new_battle_id
from arena.live import LiveState, LiveStateUnavailable, RateLimitDecision
from arena.record import WINNERS, BattleRecord, Turn
from arena.store import BattleLog, DuplicateBattle
from arena.store.group_writer import GroupWriter, RecordWriter
from serving.records import GenerationRecord

if TYPE_CHECKING:
    from arena.revote.pool import ReplayLedger

log = logging.getLogger(__name__)

SIDES = ("a", "b")
# Battle state machine: generating -> ready -> voted | ended; generating -> failed.
GENERATING, READY, FAILED, VOTED, ENDED = "generating", "ready", "failed", "voted", "ended"
REPLAY_ONLY = ("this arena replays logged battles: no new prompts or follow-ups; "
               "ask for the next logged battle instead")
ALREADY_VOTED = "this battle already has a vote; start a new round"
NOT_YOURS = "this battle belongs to another session"


@dataclass(frozen=True)
class Contender:
    """A model as the battle service sees it: a public name and what it needs around a call."""

    name: str
    system_prompt: str = ""
    identity_words: tuple[str, ...] = ()


class GenerateFn(Protocol):
    """Streams one completion: text deltas (str) and GenerationRecords; the last record is final.

    A record whose `finished_at` is unset is the live record of a generation still running
    (kept so that a battle abandoned mid-stream logs what was sent); the record with
    `finished_at` set ends the stream. Its `error` is set when the generation failed; the
    function must not raise for upstream failures, and must stop the upstream request when
    the iterator is closed.
    """

    def __call__(
        self, model: str, messages: list[dict[str, str]]
    ) -> AsyncIterator[str | GenerationRecord]: ...


@dataclass(frozen=True)
class BattleEvent:
    """One event of a battle's stream. Anonymous: carries sides, never model names.

    kinds: `battle` (id of the new battle), `delta` (text for a side), `done` (a side finished;
    data has finish_reason and completion_tokens), `error` (a side failed; text is a readable
    reason), `ready` (both finished: the battle can be voted), `failed` (the battle cannot be
    voted; start a new round).
    """

    kind: str
    side: str | None = None
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "side": self.side, "text": self.text, **self.data}


@dataclass(frozen=True)
class Reveal:
    """What a vote returns: the names, now that the vote is durable."""

    battle_id: str
    winner: str
    model_a: str
    model_b: str
    flags: tuple[str, ...]


def utcnow() -> datetime:
    return datetime.now(UTC)


def rater_hash(salt: str, session_id: str) -> str:
    """A salted SHA-256 of the session id (hex, 32 chars): stable per rater, not reversible."""
    return hashlib.sha256(f"{salt}\x00{session_id}".encode()).hexdigest()[:32]


def find_identity_leak(output: str, words: Sequence[str]) -> str | None:
    """The first identity word found in `output` on word boundaries (case-insensitive), or None.

    Only model outputs are checked: a user who types a model's name in the prompt does not flag
    the battle.
    """
    for word in words:
        if word and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", output, re.IGNORECASE):
            return word
    return None


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
        replay: ReplayLedger | None = None,
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
        # Replay mode (`arena serve --replay`): battles come from this pool, not from models.
        self.replay = replay
        # Fallback copy of the battles this process runs, used when Redis lost them (flushed or
        # down), and the basis of the expiry sweep. Keyed by battle id.
        self._local: dict[str, dict[str, Any]] = {}
        # One writer per process (BattleLog serialises writers anyway: SQLite admits one at a
        # time); it commits the records that queued up during a commit together (group
        # commit), each caller still awaiting its own. By default a thread of this process;
        # `arena serve` passes a writer child process (arena.store.log_process).
        self._writer = writer or GroupWriter(log)

    async def aclose(self) -> None:
        """Commit the records still queued for SQL and stop the writer."""
        await self._writer.aclose()

    async def _write(self, record: BattleRecord) -> None:
        """Commit one battle record to SQL (durable when this returns)."""
        await self._writer.write(record)

    # ----------------------------------------------------------------------------------- start
    def rater(self, session_id: str) -> str:
        return rater_hash(self.salt, session_id)

    async def healthy_models(self) -> list[str]:
        """Configured models not flagged down; raises Unavailable if Redis is unreachable."""
        down = await self._live(self.live.down_models())
        return [name for name in self.contenders if name not in down]

    async def start(
        self,
        session_id: str,
        prompt: str,
        *,
        mode: str = "anonymous",
        models: tuple[str, str] | None = None,
        category: str | None = None,
    ) -> tuple[str, AsyncIterator[BattleEvent]]:
        """Open a battle and return its id and the stream of its first turn.

        Anonymous mode samples the pair; named mode takes `models` as (left, right).
        Raises BadInput, PromptTooLong, RateLimited or Unavailable before anything streams.
        """
        if self.replay is not None:
            raise BadInput(REPLAY_ONLY)
        prompt = self._check_prompt(prompt)
        owner = self.rater(session_id)
        await self._limit_new_battles(owner)
        if mode == "anonymous":
            left, right, policy, probability, side_seed = await self._sample_pair()
        elif mode == "named":
            left, right = self._check_named(models)
            policy, probability, side_seed = "named", None, None
        else:
            raise BadInput(f"mode {mode!r} is not 'anonymous' or 'named'")
        battle_id = new_battle_id()
        state = {
            "battle_id": battle_id,
            "owner": owner,
            "mode": mode,
            "model_a": left,
            "model_b": right,
            "system_prompt_a": self.contenders[left].system_prompt,
            "system_prompt_b": self.contenders[right].system_prompt,
            "conversation_a": _opening(self.contenders[left].system_prompt),
            "conversation_b": _opening(self.contenders[right].system_prompt),
            "turns": [],
            "status": GENERATING,
            "flags": [],
            "pair_policy": policy,
            "pair_probability": probability,
            "side_seed": side_seed,
            "category": category,
            "started_at": utcnow().isoformat(),
            "touched": time.time(),
        }
        await self._save(state)
        return battle_id, self._stream_turn(state, prompt, announce=True)

    async def continue_battle(
        self, battle_id: str, session_id: str, prompt: str
    ) -> AsyncIterator[BattleEvent]:
        """Send a follow-up prompt to both models of an open battle; returns its stream."""
        prompt = self._check_prompt(prompt)
        state = await self._owned(battle_id, session_id)
        if state["mode"] == "replay":
            raise VoteConflict(REPLAY_ONLY)
        if state["status"] == GENERATING:
            raise VoteConflict("both answers are still streaming; wait for them to finish")
        if state["status"] != READY:
            raise VoteConflict(self._closed_reason(state))
        if len(state["turns"]) >= self.settings.max_turns:
            raise VoteConflict(
                f"this battle reached its limit of {self.settings.max_turns} turns; "
                "vote or start a new round"
            )
        state["status"] = GENERATING
        await self._save(state)
        return self._stream_turn(state, prompt, announce=False)

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
        state = await self._admit(battle_id, self.rater(session_id))
        voted_at = utcnow()
        record = battle_record(state, status="voted", winner=winner, voted_at=voted_at)
        try:
            await self._write(record)
        except DuplicateBattle:
            raise VoteConflict(ALREADY_VOTED) from None
        except BaseException:
            await self._release_claim(battle_id)
            raise
        # The vote is durable from here on; what follows only updates rebuildable state:
        # the battle's state shrinks to what a later reveal or refusal needs (the
        # conversations are in SQL now), and the sampler counts the pair (sampled pairs only).
        self._local.pop(battle_id, None)
        stub = _voted_stub(state, winner)
        stub["touched"] = time.time()
        pair = (state["model_a"], state["model_b"]) if state["mode"] == "anonymous" else None
        try:
            await self.live.settle_vote(battle_id, stub, self.settings.battle_ttl_s, pair)
        except LiveStateUnavailable:
            log.warning("battle %s voted, but its live state and pair counter were not "
                        "updated: live state unavailable", battle_id)
        if state.get("replay_of") and self.replay is not None:
            await self._note_replay_vote(state["replay_of"])
        if self.on_vote is not None:
            self.on_vote()
        return Reveal(
            battle_id=battle_id,
            winner=winner,
            model_a=state["model_a"],
            model_b=state["model_b"],
            flags=tuple(state["flags"]),
        )

    async def end(self, battle_id: str, session_id: str, reason: str = "new_round") -> bool:
        """Leave a battle without a vote; logs it as abandoned. True if something was logged."""
        try:
            state = await self._owned(battle_id, session_id)
        except BattleNotFound:
            return False
        return await self._abandon(state, reason)

    async def sweep_expired(self, now: float | None = None) -> int:
        """Log as abandoned this process's battles idle for longer than `battle_ttl_s`."""
        now = time.time() if now is None else now
        expired = [
            s for s in list(self._local.values())
            if now - s["touched"] > self.settings.battle_ttl_s
        ]
        logged = 0
        for state in expired:
            current = await self._load(state["battle_id"]) or state
            if await self._abandon(current, "expired"):
                logged += 1
            self._local.pop(state["battle_id"], None)
        return logged

    async def reveal(self, battle_id: str, session_id: str) -> Reveal:
        """The names of a battle this session already voted on (e.g. for a page reload)."""
        state = await self._owned(battle_id, session_id)
        if state["status"] != VOTED:
            raise VoteConflict("names are revealed only after the vote")
        return Reveal(battle_id, state["winner"], state["model_a"], state["model_b"],
                      tuple(state["flags"]))

    # ------------------------------------------------------------------------------- replay
    async def start_replay(self, session_id: str) -> tuple[str, AsyncIterator[BattleEvent]]:
        """Replay mode: open a battle on a logged battle this rater was not shown yet.

        The logged battle is chosen by `ReplayLedger.assign` (fewest replay votes first), laid
        out on new sides by a fresh logged coin (`side_seed`), and its recorded turns are
        streamed: a `turn` event (the logged prompt) before each turn's deltas, then `ready`.
        The vote goes through `vote` like any other and is logged with mode `replay`,
        `replay_of` the original id and pair_policy `replay`. Raises BadInput outside replay
        mode, RateLimited, or Unavailable when Redis is down or the rater has seen them all.
        """
        from arena.revote.pool import PoolExhausted, replay_sides

        if self.replay is None:
            raise BadInput("this arena is not in replay mode; start a battle with a prompt")
        owner = self.rater(session_id)
        await self._limit_new_battles(owner)
        try:
            original = await self._live(self.replay.assign(owner))
        except PoolExhausted:
            raise Unavailable(
                f"you have seen every battle of this replay pool ({len(self.replay.pool)}); "
                "thank you, there is nothing left to judge"
            ) from None
        side_seed = new_side_seed()
        shown = replay_sides(original, side_seed)
        battle_id = new_battle_id()
        state = {
            "battle_id": battle_id,
            "owner": owner,
            "mode": "replay",
            "replay_of": original.battle_id,
            **{key: shown[key] for key in (
                "model_a", "model_b", "system_prompt_a", "system_prompt_b",
                "conversation_a", "conversation_b", "turns")},
            "status": GENERATING,
            # The outputs are the logged ones, so whatever flagged them still applies.
            "flags": list(original.flags),
            "pair_policy": "replay",
            "pair_probability": None,
            "side_seed": side_seed,
            "category": original.category,
            "language": original.language,
            "started_at": utcnow().isoformat(),
            "touched": time.time(),
        }
        await self._save(state)
        return battle_id, self._stream_replay(state)

    async def _stream_replay(self, state: dict[str, Any]) -> AsyncIterator[BattleEvent]:
        """Send the logged turns as a stream: both sides' text interleaved, turn by turn."""
        from arena.revote.pool import text_chunks

        yield BattleEvent("battle", data={"battle_id": state["battle_id"]})
        finished = False
        try:
            for turn in state["turns"]:
                yield BattleEvent("turn", text=turn["prompt"], data={"index": turn["index"]})
                chunks = {side: text_chunks(turn[f"generation_{side}"]["output"])
                          for side in SIDES}
                for index in range(max(len(chunks["a"]), len(chunks["b"]))):
                    for side in SIDES:
                        if index < len(chunks[side]):
                            yield BattleEvent("delta", side, chunks[side][index])
                for side in SIDES:
                    generation = turn[f"generation_{side}"]
                    yield BattleEvent("done", side, data={
                        "finish_reason": generation.get("finish_reason"),
                        "completion_tokens": generation.get("completion_tokens"),
                    })
            state["status"] = READY
            await self._save(state, tolerate_outage=True)
            finished = True
            yield BattleEvent("ready")
        finally:
            if not finished:
                _detach(self._abandon(state, "disconnected_mid_turn"))

    async def _note_replay_vote(self, original_id: str) -> None:
        assert self.replay is not None
        try:
            await self.replay.note_vote(original_id)
        except LiveStateUnavailable:
            # Rebuilt from SQL with the rest of the replay ledger after a flush or outage.
            log.warning("replay vote count of %s not updated: live state unavailable",
                        original_id)

    # ---------------------------------------------------------------------------- streaming
    async def _stream_turn(
        self, state: dict[str, Any], prompt: str, *, announce: bool
    ) -> AsyncIterator[BattleEvent]:
        """Run one turn on both sides at once and yield their events as they arrive."""
        battle_id = state["battle_id"]
        if announce:
            yield BattleEvent("battle", data={"battle_id": battle_id})
        messages = {
            side: [*state[f"conversation_{side}"], {"role": "user", "content": prompt}]
            for side in SIDES
        }
        queue: asyncio.Queue[tuple[str, str | GenerationRecord | BaseException]] = (
            asyncio.Queue()
        )

        async def pump(side: str) -> None:
            try:
                async for item in self.generate(state[f"model_{side}"], messages[side]):
                    await queue.put((side, item))
            except asyncio.CancelledError:
                raise
            except Exception as failure:  # noqa: BLE001 - reported as this side's error
                await queue.put((side, failure))

        tasks = [asyncio.create_task(pump(side)) for side in SIDES]
        records: dict[str, GenerationRecord] = {}
        live: dict[str, GenerationRecord] = {}
        finished = False
        try:
            while len(records) < 2:
                side, item = await queue.get()
                if isinstance(item, str):
                    if item:
                        yield BattleEvent("delta", side, item)
                    continue
                if isinstance(item, GenerationRecord) and item.finished_at is None:
                    live[side] = item  # still streaming; kept in case the client leaves
                    continue
                if isinstance(item, BaseException):
                    item = _failed_record(state, side, messages[side], item)
                records[side] = item
                if item.error:
                    yield BattleEvent("error", side, _readable(item.error))
                else:
                    yield BattleEvent(
                        "done",
                        side,
                        data={
                            "finish_reason": item.finish_reason,
                            "completion_tokens": item.completion_tokens,
                        },
                    )
            finished = True
            yield await self._finish_turn(state, prompt, records)
        finally:
            if not finished:
                # The client went away mid-turn (closed tab, dropped connection). Nothing may
                # be awaited here under a cancelled scope, so a detached task stops both
                # generations and logs the battle as abandoned with what was produced so far.
                _detach(self._abandon_mid_turn(state, prompt, tasks, records, live, messages))

    async def _abandon_mid_turn(
        self,
        state: dict[str, Any],
        prompt: str,
        tasks: list[asyncio.Task[None]],
        records: dict[str, GenerationRecord],
        live: dict[str, GenerationRecord],
        messages: dict[str, list[dict[str, str]]],
    ) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        partial = {}
        for side in SIDES:
            record = records.get(side) or live.get(side)
            if record is None:
                record = _failed_record(
                    state, side, messages[side], ConnectionAbortedError("client disconnected")
                )
            elif record.error is None and side not in records:
                record.error = "cancelled: the client disconnected mid-stream"
            partial[side] = record
        state["turns"].append(Turn(len(state["turns"]), prompt, partial["a"],
                                   partial["b"]).to_dict())
        try:
            await self._abandon(state, "disconnected_mid_turn")
        except Exception:  # noqa: BLE001 - nobody is left to tell; keep the process alive
            log.exception("could not log abandoned battle %s", state["battle_id"])

    async def _finish_turn(
        self, state: dict[str, Any], prompt: str, records: dict[str, GenerationRecord]
    ) -> BattleEvent:
        turn = Turn(len(state["turns"]), prompt, records["a"], records["b"])
        state["turns"].append(turn.to_dict())
        for side in SIDES:
            state[f"conversation_{side}"] = [
                *records[side].messages,
                {"role": "assistant", "content": records[side].output},
            ]
            words = self.contenders[state[f"model_{side}"]].identity_words
            if (
                "identity_leak" not in state["flags"]
                and find_identity_leak(records[side].output, words) is not None
            ):
                state["flags"].append("identity_leak")
        state["touched"] = time.time()
        failed = [side for side in SIDES if records[side].error]
        if failed:
            state["status"] = FAILED
            reason = "; ".join(f"side {s}: {records[s].error}" for s in failed)
            state["end_reason"] = reason
            await self._save(state, tolerate_outage=True)
            await self._write(battle_record(state, status="error"))
            self._local.pop(state["battle_id"], None)
            return BattleEvent(
                "failed",
                text="One of the models failed to answer, so this battle cannot be voted. "
                "Please start a new round.",
            )
        state["status"] = READY
        await self._save(state, tolerate_outage=True)
        return BattleEvent("ready")

    # ------------------------------------------------------------------------------ helpers
    def _check_prompt(self, prompt: str) -> str:
        if not isinstance(prompt, str) or not prompt.strip():
            raise BadInput("the prompt is empty; type a question or instruction first")
        if len(prompt) > self.settings.max_prompt_chars:
            raise PromptTooLong(
                f"the prompt has {len(prompt)} characters; the limit is "
                f"{self.settings.max_prompt_chars}. Shorten it and send again"
            )
        return prompt

    def _check_named(self, models: tuple[str, str] | None) -> tuple[str, str]:
        if not models or len(models) != 2:
            raise BadInput("named mode needs two models: choose one for each side")
        left, right = models
        for name in (left, right):
            if name not in self.contenders:
                raise BadInput(
                    f"unknown model {name!r}; choose one of {', '.join(sorted(self.contenders))}"
                )
        if left == right:
            raise BadInput("choose two different models")
        return left, right

    async def _sample_pair(self) -> tuple[str, str, str, float, int]:
        down = await self._live(self.live.down_models())
        counts = await self._live(self.live.pair_counts(max_age_s=1.0))
        try:
            choice = self.sampler.sample(
                list(self.contenders), counts, self.rng, excluded=set(down)
            )
        except NotEnoughModels as short:
            raise Unavailable(str(short)) from None
        side_seed = new_side_seed()
        left, right = assign_sides(choice.pair, side_seed)
        return left, right, choice.policy, choice.probability, side_seed

    async def _limit_new_battles(self, owner: str) -> None:
        """Count one new battle against the rater's per-minute limit: RateLimited beyond it,
        Unavailable when Redis is down (votes are admitted by `_admit_vote`)."""
        limit = self.settings.battles_per_minute
        try:
            decision = await self.live.allow_battle(owner, limit)
        except LiveStateUnavailable:
            raise Unavailable(
                "the arena's live-state store (Redis) is unreachable, so no new battle can "
                "start; try again shortly"
            ) from None
        if not decision.allowed:
            raise RateLimited(
                f"too many new battles: the limit is {limit} per minute; "
                f"try again in {decision.retry_after_s:.0f} s",
                retry_after_s=decision.retry_after_s,
            )

    async def _live(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except LiveStateUnavailable as down:
            raise Unavailable(
                f"the arena's live-state store (Redis) is unreachable, so no new battle can "
                f"start; try again shortly ({down})"
            ) from None

    async def _admit(self, battle_id: str, owner: str) -> dict[str, Any]:
        """The battle's state, once this vote is admitted: the battle is `owner`'s and ready,
        the vote is within the rater's hourly limit, and this caller holds its vote claim.

        One Redis round trip (`LiveState.admit_stored_vote`) reads, checks, counts and claims
        atomically. When Redis lost the battle's state (flushed), this process's own copy
        stands in and the limit and claim are taken separately. When Redis is down, a battle
        that already streamed is still votable on that copy: its vote is counted rather than
        lost for want of a rate counter, and SQL's unique battle id still guarantees one vote
        per battle. Raises BattleNotFound, NotYourBattle, VoteConflict or RateLimited.
        """
        try:
            admission = await self.live.admit_stored_vote(
                battle_id, owner, votable_status=READY,
                limit=self.settings.votes_per_hour, window_s=3600,
            )
        except LiveStateUnavailable as down:
            log.warning("vote rate limit and claim not checked: %s", down)
            return self._votable(self._local.get(battle_id), battle_id, owner)
        if admission.outcome == "missing":
            state = self._votable(self._local.get(battle_id), battle_id, owner)
            if not await self._admit_vote(battle_id, owner):
                raise VoteConflict(ALREADY_VOTED)
            return state
        if admission.outcome == "not_owner":
            raise NotYourBattle(NOT_YOURS)
        if admission.outcome == "not_ready":
            raise VoteConflict(self._closed_reason(admission.state or {}))
        if admission.outcome == "limited":
            assert admission.decision is not None
            raise self._vote_limit_refusal(admission.decision)
        if admission.outcome == "taken":
            raise VoteConflict(ALREADY_VOTED)
        assert admission.state is not None
        return admission.state

    def _votable(self, state: dict[str, Any] | None, battle_id: str, owner: str
                 ) -> dict[str, Any]:
        """`state` if it is `owner`'s battle and ready for a vote; raises why not."""
        state = self._check_owner(state, battle_id, owner)
        if state["status"] != READY:
            raise VoteConflict(self._closed_reason(state))
        return state

    async def _admit_vote(self, battle_id: str, owner: str) -> bool:
        """Count the vote against the rater's hourly limit (RateLimited beyond it) and claim
        the battle's vote; False when another vote holds the claim. For a battle whose state
        Redis does not hold (see `_admit`)."""
        try:
            decision, claimed = await self.live.admit_vote(
                battle_id, owner, limit=self.settings.votes_per_hour, window_s=3600)
        except LiveStateUnavailable as down:
            log.warning("vote rate limit and claim not checked: %s", down)
            return True
        if not decision.allowed:
            raise self._vote_limit_refusal(decision)
        return claimed

    @staticmethod
    def _vote_limit_refusal(decision: RateLimitDecision) -> RateLimited:
        return RateLimited(
            f"too many votes: the limit is {decision.limit} per hour; "
            f"try again in {decision.retry_after_s:.0f} s",
            retry_after_s=decision.retry_after_s,
        )

    async def _release_claim(self, battle_id: str) -> None:
        try:
            await self.live.release_vote(battle_id)
        except LiveStateUnavailable:
            pass

    async def _save(self, state: dict[str, Any], *, tolerate_outage: bool = False) -> None:
        state["touched"] = time.time()
        if state["status"] in (GENERATING, READY):
            self._local[state["battle_id"]] = state
        try:
            await self.live.put_battle(state["battle_id"], state, self.settings.battle_ttl_s)
        except LiveStateUnavailable:
            if not tolerate_outage:
                raise Unavailable(
                    "the arena's live-state store (Redis) is unreachable; try again shortly"
                ) from None
            log.warning("battle %s kept in process memory only", state["battle_id"])

    async def _load(self, battle_id: str) -> dict[str, Any] | None:
        try:
            state = await self.live.get_battle(battle_id)
        except LiveStateUnavailable:
            state = None
        return state if state is not None else self._local.get(battle_id)

    async def _owned(self, battle_id: str, session_id: str) -> dict[str, Any]:
        return self._check_owner(await self._load(battle_id), battle_id, self.rater(session_id))

    @staticmethod
    def _check_owner(state: dict[str, Any] | None, battle_id: str, owner: str
                     ) -> dict[str, Any]:
        if state is None:
            raise BattleNotFound(
                f"battle {battle_id} is unknown or expired; start a new round"
            )
        if state["owner"] != owner:
            raise NotYourBattle(NOT_YOURS)
        return state

    @staticmethod
    def _closed_reason(state: dict[str, Any]) -> str:
        return {
            GENERATING: "both answers must finish before you can vote",
            FAILED: "a model failed in this battle, so it cannot be voted; start a new round",
            VOTED: ALREADY_VOTED,
            ENDED: "this battle has ended; start a new round",
        }.get(state["status"], f"battle is {state['status']}")

    async def _abandon(self, state: dict[str, Any], reason: str) -> bool:
        if state["status"] not in (GENERATING, READY):
            return False
        state["status"] = ENDED
        state["end_reason"] = reason
        await self._save(state, tolerate_outage=True)
        self._local.pop(state["battle_id"], None)
        if not state["turns"]:
            return False
        try:
            await self._write(battle_record(state, status="abandoned"))
        except DuplicateBattle:
            return False
        return True


def battle_record(
    state: dict[str, Any],
    *,
    status: str,
    winner: str | None = None,
    voted_at: datetime | None = None,
) -> BattleRecord:
    """The log record of a battle from its live state (as the service keeps it), ending now
    (at `voted_at` for a vote) with `status`."""
    return BattleRecord(
        battle_id=state["battle_id"],
        mode=state["mode"],
        model_a=state["model_a"],
        model_b=state["model_b"],
        conversation_a=state["conversation_a"],
        conversation_b=state["conversation_b"],
        turns=[Turn.from_dict(t) for t in state["turns"]],
        started_at=datetime.fromisoformat(state["started_at"]),
        ended_at=voted_at or utcnow(),
        status=status,
        rater_hash=state["owner"],
        system_prompt_a=state["system_prompt_a"],
        system_prompt_b=state["system_prompt_b"],
        winner=winner,
        voted_at=voted_at,
        end_reason=state.get("end_reason"),
        pair_policy=state["pair_policy"],
        pair_probability=state["pair_probability"],
        side_seed=state["side_seed"],
        flags=list(state["flags"]),
        category=state.get("category"),
        language=state.get("language"),
        replay_of=state.get("replay_of"),
    )


def _voted_stub(state: dict[str, Any], winner: str) -> dict[str, Any]:
    """The small state a voted battle keeps in Redis until its TTL: enough to refuse a second
    vote with the right reason and to reveal the names again."""
    keep = ("battle_id", "owner", "mode", "model_a", "model_b", "flags", "started_at")
    return {**{key: state[key] for key in keep}, "status": VOTED, "winner": winner,
            "turns": []}


_DETACHED: set[asyncio.Task[Any]] = set()


def _detach(coroutine: Any) -> None:
    """Run a coroutine to completion in the background, keeping a reference until it ends."""
    task = asyncio.get_running_loop().create_task(coroutine)
    _DETACHED.add(task)
    task.add_done_callback(_DETACHED.discard)


def _opening(system_prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system_prompt}] if system_prompt else []


def _failed_record(
    state: dict[str, Any], side: str, messages: list[dict[str, str]], failure: BaseException
) -> GenerationRecord:
    """A record for a generator that raised instead of returning an error record."""
    now = utcnow()
    return GenerationRecord(
        endpoint="",
        served_model=state[f"model_{side}"],
        messages=messages,
        params={},
        started_at=now,
        finished_at=now,
        error=f"{type(failure).__name__}: {failure}",
    )


def _readable(error: str) -> str:
    """The user-facing text for a side's failure: no stack traces, no endpoints or names."""
    lowered = error.lower()
    if "timeout" in lowered or "timed out" in lowered:
        return "This model took too long to answer."
    return "This model failed to answer."
