"""The Lua scripts behind live state's atomic steps: each runs inside Redis in one round trip,
so concurrent arena processes never interleave between its reads and writes.

Every script's KEYS and ARGV are documented above it; `LiveState` passes them.
"""

from __future__ import annotations


def count_hit_lua(key: str, window_ms: str) -> str:
    """Lua for one hit on a fixed-window counter anchored at the first hit: INCR `key`, start
    the window's clock (`window_ms`) on the first hit. Leaves `hits` (in this window) and `ttl`
    (ms until it closes) set. `key` and `window_ms` are Lua expressions (KEYS[i], ARGV[j])."""
    return f"""
local hits = redis.call('INCR', {key})
if hits == 1 then redis.call('PEXPIRE', {key}, {window_ms}) end
local ttl = redis.call('PTTL', {key})
if ttl < 0 then
  redis.call('PEXPIRE', {key}, {window_ms})
  ttl = tonumber({window_ms})
end
"""


# One hit on a rate limit (KEYS[1], window ARGV[1] ms). Returns {hits in this window, ms until
# the window closes}.
RATE_LUA = count_hit_lua("KEYS[1]", "ARGV[1]") + "return {hits, ttl}\n"

# The admission of a vote in one round trip: count it against the rater's vote rate limit
# (as RATE_LUA: KEYS[1], window ARGV[1] ms) and, if within ARGV[2] hits, claim the battle's
# vote (SET KEYS[2] ARGV[3] NX PX ARGV[4]). Returns {hits, ms until the window closes,
# claimed: 1, 0 (someone holds the claim) or -1 (rate-limited, nothing claimed)}.
ADMIT_VOTE_LUA = count_hit_lua("KEYS[1]", "ARGV[1]") + """
if hits > tonumber(ARGV[2]) then return {hits, ttl, -1} end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4]) then return {hits, ttl, 1} end
return {hits, ttl, 0}
"""

# The whole admission of a vote on a stored battle, atomically, in one round trip: read the
# battle's state (KEYS[1]); only if ARGV[1] owns it and its status is ARGV[2], count the vote
# against the rater's rate limit (KEYS[2], window ARGV[3] ms, at most ARGV[4] hits) and, within
# it, claim the vote (SET KEYS[3] ARGV[6] NX PX ARGV[5]: the claim's value, see
# arena.battles.vote_claims). Returns {outcome, state JSON or '',
# hits, ms until the window closes}; outcome is one of the VoteAdmission outcomes. Nothing is
# counted or claimed unless the rater owns a battle in that status.
ADMIT_STORED_VOTE_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {'missing', '', 0, 0} end
local ok, state = pcall(cjson.decode, raw)
if not ok or type(state) ~= 'table' then return {'missing', '', 0, 0} end
if state['owner'] ~= ARGV[1] then return {'not_owner', '', 0, 0} end
if state['status'] ~= ARGV[2] then return {'not_ready', raw, 0, 0} end
""" + count_hit_lua("KEYS[2]", "ARGV[3]") + """
if hits > tonumber(ARGV[4]) then return {'limited', '', hits, ttl} end
if redis.call('SET', KEYS[3], ARGV[6], 'NX', 'PX', ARGV[5]) then
  return {'admitted', raw, hits, ttl}
end
return {'taken', '', hits, ttl}
"""

# Take a vote claim over from a claimer that is gone: only if the claim (KEYS[1]) still holds
# ARGV[1] ('' for no claim at all), set it to ARGV[2] with a TTL of ARGV[3] ms. Returns 1 if
# taken, 0 if the claim changed meanwhile (another caller took it first).
TAKE_OVER_VOTE_LUA = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
