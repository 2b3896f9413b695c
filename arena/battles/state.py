"""A running battle's state: a JSON-able dict kept in Redis (so another worker can take the
vote) and in the memory of the process that runs it, and the log record made from it at the end.

The state machine: generating -> ready -> voted | ended; generating -> failed. A follow-up turn
takes a ready battle back to generating.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from arena.battles.interface import Contender, Reveal
from arena.record import BattleRecord, Consent, Turn

SIDES = ("a", "b")
GENERATING, READY, FAILED, VOTED, ENDED = "generating", "ready", "failed", "voted", "ended"
OPEN = (GENERATING, READY)  # the statuses of a battle that is still running

REPLAY_ONLY = ("this arena replays logged battles: no new prompts or follow-ups; "
               "ask for the next logged battle instead")
ALREADY_VOTED = "this battle already has a vote; start a new round"
NOT_YOURS = "this battle belongs to another session"


def utcnow() -> datetime:
    return datetime.now(UTC)


def rater_hash(salt: str, session_id: str) -> str:
    """A salted SHA-256 of the session id (hex, 32 chars): stable per rater, not reversible."""
    return hashlib.sha256(f"{salt}\x00{session_id}".encode()).hexdigest()[:32]


class SaltedRaters:
    """The rater behind a session, as every part of the battle service names it: the salted
    hash of the session id under the service's `salt`."""

    salt: str

    def rater(self, session_id: str) -> str:
        return rater_hash(self.salt, session_id)


def vote_key_digest(key: str) -> str:
    """What a battle's state keeps of a vote's idempotency key: a SHA-256 (hex, 32 chars), so
    client-chosen text is never stored or echoed."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def opening_messages(system_prompt: str) -> list[dict[str, str]]:
    """A conversation before its first prompt: the system prompt, if the model has one."""
    return [{"role": "system", "content": system_prompt}] if system_prompt else []


def new_battle_state(
    battle_id: str,
    owner: str,
    mode: str,
    sides: tuple[tuple[str, Contender], tuple[str, Contender]],
    *,
    pair: tuple[str, float | None, int | None],
    category: str | None,
    consent: Consent | None = None,
    states: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """The state of a battle about to stream its first turn. `sides` is (name, contender) on
    the left and on the right; `pair` is (policy, probability of the chosen pair, side seed)
    as the record logs them; `consent` the rater's answer to the publication terms (None:
    not asked); `states` the lifecycle state of the left and right model now."""
    (left, left_contender), (right, right_contender) = sides
    policy, probability, side_seed = pair
    return {
        "battle_id": battle_id,
        "owner": owner,
        "mode": mode,
        "model_a": left,
        "model_b": right,
        "system_prompt_a": left_contender.system_prompt,
        "system_prompt_b": right_contender.system_prompt,
        "conversation_a": opening_messages(left_contender.system_prompt),
        "conversation_b": opening_messages(right_contender.system_prompt),
        "turns": [],
        "status": GENERATING,
        "flags": [],
        "pair_policy": policy,
        "pair_probability": probability,
        "side_seed": side_seed,
        "category": category,
        "publish_consent": consent.publish_text if consent else None,
        "terms_version": consent.terms_version if consent else None,
        "started_at": utcnow().isoformat(),
        "touched": time.time(),
        "model_state_a": states[0],
        "model_state_b": states[1],
        "stream_no": 1,  # the first turn's stream (begin_stream counts the next ones)
        "discarded_turns": [],  # turns a Regenerate replaced, in the order replaced
    }


def begin_stream(state: dict[str, Any]) -> None:
    """Mark the battle as streaming a new turn: status generating, and `stream_no` (the count
    of streams begun) one up, so a stop request names this stream and no later one."""
    state["status"] = GENERATING
    state["stream_no"] = state.get("stream_no", 0) + 1


def mark_streaming(state: dict[str, Any], worker_id: str, prompt: str) -> None:
    """Stamp a state about to be saved as generating with the worker that streams the turn
    (`streamer`) and the turn's prompt (`streaming_prompt`), so that another worker can end
    the battle if this one dies mid-turn (arena.battles.lost_streams)."""
    state["streamer"] = worker_id
    state["streaming_prompt"] = prompt


def clear_streaming(state: dict[str, Any]) -> None:
    """The turn ended (ready, failed, stopped or abandoned): no streamer any more."""
    state.pop("streamer", None)
    state.pop("streaming_prompt", None)


def closed_reason(state: dict[str, Any]) -> str:
    """Why a battle in this state takes no vote (or follow-up), in the rater's words."""
    return {
        GENERATING: "both answers must finish before you can vote",
        FAILED: "a model failed in this battle, so it cannot be voted; start a new round",
        VOTED: ALREADY_VOTED,
        ENDED: "this battle has ended; start a new round",
    }.get(state["status"], f"battle is {state['status']}")


def reveal_of(state: dict[str, Any], winner: str) -> Reveal:
    """The names of a voted battle, as the rater is shown them."""
    return Reveal(battle_id=state["battle_id"], winner=winner, model_a=state["model_a"],
                  model_b=state["model_b"], flags=tuple(state["flags"]))


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
        # .get: states saved by an arena before consent existed (a rolling upgrade) have none.
        publish_consent=state.get("publish_consent"),
        terms_version=state.get("terms_version"),
        # The lifecycle states when the battle started (.get: none in states saved before).
        model_state_a=state.get("model_state_a"),
        model_state_b=state.get("model_state_b"),
        # Turns a Regenerate replaced (.get: none in states saved before Regenerate existed).
        discarded_turns=[Turn.from_dict(t) for t in state.get("discarded_turns", ())],
    )


def voted_stub(state: dict[str, Any], winner: str, vote_key: str | None = None
               ) -> dict[str, Any]:
    """The small state a voted battle keeps in Redis until its TTL: enough to refuse a second
    vote with the right reason, to reveal the names again, and to answer a retry of the same
    vote (`vote_key`: the `vote_key_digest` of its idempotency key, if it had one) with them."""
    keep = ("battle_id", "owner", "mode", "model_a", "model_b", "flags", "started_at")
    return {**{key: state[key] for key in keep}, "status": VOTED, "winner": winner,
            "turns": [], "touched": time.time(), "vote_key": vote_key}
