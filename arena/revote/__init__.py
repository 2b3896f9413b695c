"""Re-voting: raters judge battles already in the log again (`arena serve --replay FILE`).

pool.py loads the logged battles and tracks who saw which; routes.py adds its REST routes.
Not to be confused with drift checks (arena.drift), which re-generate logged battles.
"""
