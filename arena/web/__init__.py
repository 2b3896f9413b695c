"""The web front ends: the FastAPI app (app.py) with its REST routes (routes.py) and the
Gradio UI (ui/), all over the same `BattleService`."""
