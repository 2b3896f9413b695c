"""Background jobs of a running arena: the live leaderboard (leaderboard.py)."""
