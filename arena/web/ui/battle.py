"""The browser arena: a thin Gradio 6 front end over `arena.battles.BattleService`.

Every rule (who may vote, when names are revealed, what is logged) lives in the service; this
module only wires widgets to it. Tabs: Arena (anonymous battle), Side by side (named battle),
Leaderboard, About.

Anonymity. Before a vote the browser receives no model name, endpoint or served id:
- the battle id is the only handle; it stays on the server in `_Views`, keyed by Gradio's
  per-tab `session_hash` (which is also the session id the service hashes for the rater);
- names arrive only in the vote's reply, after the service committed the vote to SQL;
- the Side-by-side model list and the leaderboard are fetched when their tab is opened, never
  at page load, so an Arena-only visit carries no model name at all;
- every event is `api_visibility="private"` (not in the API page, not callable by Gradio's
  clients), run history and the footer links are off.

Streaming: one event per turn; its async generator iterates over the service's merged stream
of both sides, so the two columns fill at the same time. Updates are coalesced to at most one
per `UPDATE_INTERVAL_S` (state changes always go out at once).

Text safety: prompts and answers go through `markdown_literal`, so Markdown renders but HTML
and scripts are shown as text; Gradio's HTML sanitiser stays on behind it.
"""

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
from fastapi import FastAPI

from arena.battles import BattleEvent, BattleService, Reveal
from arena.config import ArenaSettings
from arena.errors import ArenaError, VoteConflict
from arena.web.ui.leaderboard import build_leaderboard_tab
from arena.web.ui.text import ABOUT_MARKDOWN, markdown_literal

log = logging.getLogger(__name__)

# Streaming events wait on the model servers, not on this process: many can run at once.
# Gradio's default is 1 at a time, which would queue every user behind one battle.
STREAM_CONCURRENCY = 64
# Votes are short (one SQL commit); resets and tab closes shorter still.
VOTE_CONCURRENCY = 32
DEFAULT_CONCURRENCY = 16
UPDATE_INTERVAL_S = 0.05

VOTES = (
    ("vote-a", "👈  A is better", "model_a"),
    ("vote-b", "👉  B is better", "model_b"),
    ("vote-tie", "🤝  Tie", "tie"),
    ("vote-bothbad", "👎  Both are bad", "tie (bothbad)"),
)
SIDES = ("a", "b")
UNEXPECTED = "Something went wrong on the server. Please start a new round."

# Options for `gr.mount_gradio_app` / `launch`: no run history (it would keep calls in the
# browser), no footer (API page, settings), no server-side rendering (needs Node), errors as
# generic text.
MOUNT_OPTIONS: dict[str, Any] = {
    "ssr_mode": False,
    "run_history": False,
    "footer_links": [],
    "show_error": False,
    "mcp_server": False,
    "css": """
.arena-names { min-height: 1.8em; text-align: center; }
.arena-status { min-height: 1.2em; }
footer { display: none !important; }
/* The chat's own Clear button would only blank this page's copy of a live battle. */
.arena-chat button[aria-label="Clear"] { display: none !important; }
""",
}


@dataclass
class _Message:
    role: str
    text: str = ""
    note: str = ""  # a readable failure note shown under a side's partial answer


@dataclass
class _View:
    """One browser tab's battle in one mode; never sent to the browser."""

    battle_id: str | None = None
    phase: str = "idle"  # idle -> streaming -> ready -> (streaming ...) -> voted | failed
    chats: dict[str, list[_Message]] = field(default_factory=lambda: {"a": [], "b": []})


class _Views:
    """The open battle of each (session, mode); the only place the battle id lives."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, str], _View] = {}

    def get(self, session: str, mode: str) -> _View:
        return self._views.setdefault((session, mode), _View())

    def reset(self, session: str, mode: str) -> _View:
        self._views[(session, mode)] = _View()
        return self._views[(session, mode)]

    def pop_session(self, session: str) -> list[_View]:
        keys = [key for key in self._views if key[0] == session]
        return [self._views.pop(key) for key in keys]


def _session(request: gr.Request) -> str:
    session = getattr(request, "session_hash", None)
    if not session:
        raise ArenaError("this page lost its session; reload the page to start again")
    return session


def _chat_value(messages: list[_Message]) -> list[dict[str, str]]:
    value = []
    for message in messages:
        content = markdown_literal(message.text)
        if message.note:
            content = f"{content}\n\n⚠️ *{markdown_literal(message.note)}*".lstrip()
        value.append({"role": message.role, "content": content})
    return value


def _status(text: str) -> str:
    return markdown_literal(text)


class BattlePanel:
    """Prompt box, two chat columns, vote buttons and New round, for one battle mode.

    `prefix` is prepended to every element id (the Arena tab uses none, so its ids are the
    documented `prompt`, `send`, `chat-a`, ...; Side by side uses `named-`).
    """

    def __init__(self, service: BattleService, views: _Views, *, mode: str, prefix: str):
        self.service = service
        self.views = views
        self.mode = mode
        self.prefix = prefix
        self.pickers: tuple[gr.Dropdown, gr.Dropdown] | None = None

    # ------------------------------------------------------------------------------ layout
    def build(self) -> None:
        p = self.prefix
        if self.mode == "named":
            with gr.Row():
                self.pickers = (
                    gr.Dropdown(label="Model A (left)", choices=[], elem_id=f"{p}model-a"),
                    gr.Dropdown(label="Model B (right)", choices=[], elem_id=f"{p}model-b"),
                )
        with gr.Row(equal_height=True):
            self.chats = {
                side: gr.Chatbot(
                    label=f"Model {side.upper()}",
                    elem_id=f"{p}chat-{side}",
                    height=420,
                    render_markdown=True,
                    sanitize_html=True,
                    allow_tags=False,
                    buttons=["copy"],
                    group_consecutive_messages=False,
                    elem_classes=["arena-chat"],
                )
                for side in SIDES
            }
        with gr.Row():
            self.names = {
                side: gr.Markdown("", elem_id=f"{p}model-name-{side}",
                                  elem_classes=["arena-names"])
                for side in SIDES
            }
        with gr.Row():
            self.vote_buttons = [
                gr.Button(label, elem_id=f"{p}{elem}", interactive=False)
                for elem, label, _ in VOTES
            ]
        with gr.Row():
            self.prompt = gr.Textbox(
                show_label=False,
                placeholder="Type a prompt and press Enter",
                elem_id=f"{p}prompt",
                scale=6,
                lines=1,
                max_lines=8,
                autofocus=self.mode == "anonymous",
            )
            self.send = gr.Button("Send", variant="primary", elem_id=f"{p}send", scale=1)
        self.status = gr.Markdown("", elem_id=f"{p}status" if p else "arena-status",
                                  elem_classes=["arena-status"])
        self.new_round = gr.Button("🎲  New round", elem_id=f"{p}new-round")
        self.outputs = [self.prompt, self.send, *self.chats.values(), *self.names.values(),
                        *self.vote_buttons, self.status]
        if self.pickers:
            self.outputs.extend(self.pickers)
        self._wire()

    def _wire(self) -> None:
        private = {"api_visibility": "private", "show_progress": "hidden"}
        pickers = list(self.pickers or ())
        stream = {**private, "concurrency_id": "battle-stream",
                  "concurrency_limit": STREAM_CONCURRENCY}
        if self.pickers:
            async def turn_named(
                prompt: str, left: str | None, right: str | None, request: gr.Request
            ) -> AsyncIterator[dict]:
                async for frame in self.run_turn(prompt, (left, right), request):
                    yield frame

            handler: Callable[..., AsyncIterator[dict]] = turn_named
        else:
            async def turn(prompt: str, request: gr.Request) -> AsyncIterator[dict]:
                async for frame in self.run_turn(prompt, None, request):
                    yield frame

            handler = turn
        sent = [
            trigger(handler, inputs=[self.prompt, *pickers], outputs=self.outputs, **stream)
            for trigger in (self.send.click, self.prompt.submit)
        ]
        for button, (_, _, winner) in zip(self.vote_buttons, VOTES, strict=True):
            button.click(self._voter(winner), outputs=self.outputs, trigger_mode="once",
                         concurrency_id="battle-vote", concurrency_limit=VOTE_CONCURRENCY,
                         **private)
        self.new_round.click(self.reset, outputs=self.outputs, cancels=sent, **private)

    # ------------------------------------------------------------------------------ frames
    def _frame(self, view: _View, **changes: Any) -> dict[Any, Any]:
        """An update: both chats from the view, plus the given component changes."""
        frame: dict[Any, Any] = {self.chats[s]: _chat_value(view.chats[s]) for s in SIDES}
        for name, value in changes.items():
            frame[getattr(self, name)] = value
        return frame

    def _votes(self, enabled: bool) -> dict[Any, Any]:
        return {button: gr.update(interactive=enabled) for button in self.vote_buttons}

    def _inputs(self, enabled: bool) -> dict[Any, Any]:
        frame = {self.prompt: gr.update(interactive=enabled),
                 self.send: gr.update(interactive=enabled)}
        return frame

    # ------------------------------------------------------------------------------ events
    async def run_turn(
        self, prompt: str, models: tuple[Any, Any] | None, request: gr.Request
    ) -> AsyncIterator[dict]:
        """Start a battle (first prompt) or continue it (follow-up) and stream both sides."""
        view: _View | None = None
        try:
            session = _session(request)
            view = self.views.get(session, self.mode)
            if view.phase in ("voted", "failed"):
                yield {self.status: _status("This battle is over; click New round to start "
                                            "another one.")}
                return
            if view.phase == "streaming":
                return
            if view.battle_id is None:
                battle_id, events = await self.service.start(
                    session, prompt, mode=self.mode, models=models
                )
                view.battle_id = battle_id
            else:
                events = await self.service.continue_battle(view.battle_id, session, prompt)
            for side in SIDES:
                view.chats[side] += [_Message("user", prompt), _Message("assistant")]
            view.phase = "streaming"
            started = {self.prompt: gr.update(value="", interactive=False),
                       self.send: gr.update(interactive=False), self.status: ""}
            if self.pickers:
                started.update({picker: gr.update(interactive=False) for picker in self.pickers})
            yield {**self._frame(view), **started, **self._votes(False)}
            async with contextlib.aclosing(self._relay(view, events)) as frames:
                async for frame in frames:
                    yield frame
        except ArenaError as refused:
            yield self._refused(view, refused)
        except Exception:  # noqa: BLE001 - the user sees a readable line, the log the trace
            log.exception("battle turn failed")
            yield self._crashed(view)

    def _refused(self, view: _View | None, refused: ArenaError) -> dict[Any, Any]:
        """The frame for a turn the service refused: its reason; a streaming view fails."""
        if view is not None and view.phase == "streaming":
            view.phase = "failed"
        return {self.status: _status(refused.message)}

    def _crashed(self, view: _View | None) -> dict[Any, Any]:
        """The frame for a turn that failed unexpectedly (logged by the caller): votes off."""
        if view is not None:
            view.phase = "failed"
        return {self.status: _status(UNEXPECTED), **self._votes(False)}

    async def _relay(
        self, view: _View, events: AsyncIterator[BattleEvent]
    ) -> AsyncIterator[dict[Any, Any]]:
        """Fold the service's events into the view and yield page updates: state changes at
        once, plain text at most every UPDATE_INTERVAL_S. Closing it closes `events`."""
        async with contextlib.aclosing(events):
            last = 0.0
            async for event in events:
                update = self._apply(view, event)
                now = time.monotonic()
                if update is not None or now - last >= UPDATE_INTERVAL_S:
                    last = now
                    yield {**self._frame(view), **(update or {})}
            # The stream ended; the last delta may not have been sent yet.
            yield self._frame(view)

    def _apply(self, view: _View, event: BattleEvent) -> dict[Any, Any] | None:
        """Fold one service event into the view; returns component changes it implies."""
        if event.kind == "delta" and event.side in SIDES:
            view.chats[event.side][-1].text += event.text
            return None
        if event.kind == "error" and event.side in SIDES:
            view.chats[event.side][-1].note = event.text
            return {}
        if event.kind == "ready":
            view.phase = "ready"
            return {**self._votes(True), **self._inputs(True),
                    self.status: "Both answers are in: vote, or ask a follow-up question."}
        if event.kind == "failed":
            view.phase = "failed"
            text = event.text or "A model failed, so this battle cannot be voted."
            return {**self._votes(False), **self._inputs(False), self.status: _status(text)}
        return {} if event.kind == "done" else None

    def _voter(self, winner: str) -> Callable[[gr.Request], Awaitable[dict]]:
        async def vote(request: gr.Request) -> dict[Any, Any]:
            return await self.vote(winner, request)

        vote.__name__ = f"vote_{winner.replace(' ', '_').replace('(', '').replace(')', '')}"
        return vote

    async def vote(self, winner: str, request: gr.Request) -> dict[Any, Any]:
        """Cast the vote; on success (or a repeat of one) reveal the names."""
        try:
            session = _session(request)
            view = self.views.get(session, self.mode)
            if view.battle_id is None:
                return {self.status: "Start a battle first: type a prompt and press Enter."}
            try:
                reveal = await self.service.vote(view.battle_id, session, winner)
            except VoteConflict:
                if view.phase != "voted":
                    raise
                # A second click on an already counted vote: show the names again.
                reveal = await self.service.reveal(view.battle_id, session)
            view.phase = "voted"
            return {**self._revealed(reveal), **self._votes(False), **self._inputs(False)}
        except ArenaError as refused:
            return {self.status: _status(refused.message)}
        except Exception:  # noqa: BLE001
            log.exception("vote failed")
            return {self.status: _status(UNEXPECTED)}

    def _revealed(self, reveal: Reveal) -> dict[Any, Any]:
        note = "Your vote is saved. Click New round for another battle."
        if "identity_leak" in reveal.flags:
            note += (" One of the answers named its own model, so this battle is flagged and "
                     "left out of the default leaderboard.")
        return {
            self.names["a"]: f"Model A: **{markdown_literal(reveal.model_a)}**",
            self.names["b"]: f"Model B: **{markdown_literal(reveal.model_b)}**",
            self.status: note,
        }

    async def reset(self, request: gr.Request) -> dict[Any, Any]:
        """New round: log the open battle as abandoned (if unvoted) and clear the panel."""
        status = ""
        try:
            session = _session(request)
            view = self.views.get(session, self.mode)
            if view.battle_id is not None and view.phase in ("ready", "streaming"):
                await self.service.end(view.battle_id, session, reason="new_round")
            view = self.views.reset(session, self.mode)
        except ArenaError as refused:
            status = _status(refused.message)
            view = _View()
        except Exception:  # noqa: BLE001
            log.exception("new round failed")
            status, view = _status(UNEXPECTED), _View()
        frame = {**self._frame(view), **self._votes(False), **self._inputs(True),
                 self.status: status, self.names["a"]: "", self.names["b"]: "",
                 self.prompt: gr.update(value="", interactive=True)}
        if self.pickers:
            frame.update({picker: gr.update(interactive=True) for picker in self.pickers})
        return frame


def build_ui(
    service: BattleService,
    *,
    leaderboard: Callable[[], Awaitable[dict | None]],
    settings: ArenaSettings,
) -> gr.Blocks:
    """The arena's Gradio app. Mount it with `mount_ui` (or pass `MOUNT_OPTIONS` yourself)."""
    views = _Views()
    arena = BattlePanel(service, views, mode="anonymous", prefix="")
    if service.replay is not None:  # `arena serve --replay`: logged battles, no prompt box
        from arena.web.ui.revote import ReplayPanel

        arena = ReplayPanel(service, views, mode="replay", prefix="")
    named = BattlePanel(service, views, mode="named", prefix="named-")
    with gr.Blocks(title=settings.title, analytics_enabled=False) as demo:
        gr.Markdown(f"# {markdown_literal(settings.title)}\nAsk anything, compare two "
                    "anonymous answers, vote for the better one.")
        with gr.Tabs():
            with gr.Tab("Arena", id="arena-tab"):
                arena.build()
            with gr.Tab("Side by side", id="named-tab",
                        visible=service.replay is None) as named_tab:
                gr.Markdown("Pick both models. Named battles are logged but never count "
                            "towards the leaderboard.")
                named.build()
            build_leaderboard_tab(leaderboard)
            with gr.Tab("About", id="about-tab"):
                gr.Markdown(ABOUT_MARKDOWN)

        async def list_models() -> tuple[dict, dict]:
            names = sorted(service.contenders)
            first, second = (names + [None, None])[:2]
            return (gr.update(choices=names, value=first),
                    gr.update(choices=names, value=second))

        assert named.pickers is not None
        named_tab.select(list_models, outputs=list(named.pickers), api_visibility="private",
                         show_progress="hidden")

        async def close_tab(request: gr.Request) -> None:
            session = getattr(request, "session_hash", None)
            if not session:
                return
            for view in views.pop_session(session):
                if view.battle_id is not None and view.phase in ("ready", "streaming"):
                    try:
                        await service.end(view.battle_id, session, reason="tab_closed")
                    except Exception:  # noqa: BLE001 - the sweep logs it later
                        log.exception("ending battle %s on tab close failed", view.battle_id)

        demo.unload(close_tab)
    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY)
    return demo


def mount_ui(
    app: FastAPI,
    service: BattleService,
    *,
    leaderboard: Callable[[], Awaitable[dict | None]],
    settings: ArenaSettings,
    path: str = "/",
) -> FastAPI:
    """Build the UI and mount it on `app` at `path` with the arena's `MOUNT_OPTIONS`."""
    demo = build_ui(service, leaderboard=leaderboard, settings=settings)
    return gr.mount_gradio_app(app, demo, path=path, **MOUNT_OPTIONS)
