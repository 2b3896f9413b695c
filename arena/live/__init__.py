"""Live state in Redis: running battles, vote claims, rate windows, pair counts, model health
and the cached leaderboard. Everything here can be rebuilt; nothing here is the vote log.

`LiveState` (state.py) is the client, built on a fail-fast connection (connection.py); the Lua
of its atomic steps is in scripts.py, value encodings in encoding.py, what calls answer in
results.py; embedded.py runs a private `redis-server` for one host.
"""

from arena.live.results import LiveStateUnavailable, RateLimitDecision
from arena.live.state import LiveState

__all__ = ["LiveState", "LiveStateUnavailable", "RateLimitDecision"]
