"""The browser UI (Gradio): the whole page (page.py) and its screens: the battle screen
(battle.py), the re-vote screen (revote.py), what both share (panel.py), the leaderboard tab
(leaderboard.py) and the page's fixed text (text.py)."""
