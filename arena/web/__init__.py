"""The web front ends over one `BattleService`: the process's parts (runtime.py), the FastAPI
app that lists every route (app.py), the REST handlers (routes.py) with their sessions
(sessions.py) and Server-Sent-Event answers (sse.py), and the Gradio UI (ui/)."""
