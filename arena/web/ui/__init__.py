"""The browser UI (Gradio): the battle screen (battle.py), the re-vote screen (revote.py),
the leaderboard tab (leaderboard.py) and the page's fixed text (text.py)."""
