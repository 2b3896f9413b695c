"""Live state in Redis: running battles, vote claims, rate windows, pair counts, model health
and the cached leaderboard. Everything here can be rebuilt; nothing here is the vote log.

`LiveState` (state.py) is the client; embedded.py runs a private `redis-server` for one host.
"""

from arena.live.state import LiveState, LiveStateUnavailable, RateLimitDecision

__all__ = ["LiveState", "LiveStateUnavailable", "RateLimitDecision"]
