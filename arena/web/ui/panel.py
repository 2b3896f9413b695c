"""What the battle screen and the re-vote screen share: the two chat columns, the vote buttons
and the names revealed after the vote, the per-tab view of the open battle, and the handling
of the service's event stream and of a vote.

`VotePanel` is the base of both screens (`arena.web.ui.battle.BattlePanel`,
`arena.web.ui.revote.RevotePanel`); it knows nothing of how a battle starts (a prompt box or a
Next battle button), only how its answers stream in and how it is voted on.

Who: the tab's state is keyed by Gradio's per-tab `session_hash` (chosen by the browser, fine
for what the page shows), the rater by the signed session cookie (`arena.web.identity`), and
every battle, follow-up and vote goes through the limits of `arena.web.guard.BattleGuard`.

Streaming: the service's merged stream of both sides is folded into the view; updates are
coalesced to at most one per `UPDATE_INTERVAL_S` (state changes always go out at once).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from arena.battles import BattleEvent, Reveal
from arena.errors import ArenaError, VoteConflict
from arena.web.guard import BattleGuard
from arena.web.identity import Client, ClientIdentity
from arena.web.ui.keys import KEYS_HINT
from arena.web.ui.rendering import render_markdown, render_note
from arena.web.ui.states import failure_text, refusal_text
from arena.web.ui.text import markdown_text

log = logging.getLogger(__name__)

# Streaming events wait on the model servers, not on this process: many can run at once.
# Gradio's default is 1 at a time, which would queue every user behind one battle.
STREAM_CONCURRENCY = 64
# Votes are short (one SQL commit); resets and tab closes shorter still.
VOTE_CONCURRENCY = 32
UPDATE_INTERVAL_S = 0.05

VOTES = (
    ("vote-a", "👈  A is better", "model_a"),
    ("vote-b", "👉  B is better", "model_b"),
    ("vote-tie", "🤝  Tie", "tie"),
    ("vote-bothbad", "👎  Both are bad", "tie (bothbad)"),
)
SIDES = ("a", "b")
UNEXPECTED = "Something went wrong on the server. Please start a new round."
# Every event of the page: not in the API page, not callable by Gradio's clients, no spinner.
PRIVATE_EVENT = {"api_visibility": "private", "show_progress": "hidden"}


@dataclass
class Message:
    """One chat message of one side as the page shows it."""

    role: str
    text: str = ""
    note: str = ""  # a readable failure note shown under a side's partial answer


@dataclass
class View:
    """One browser tab's battle in one mode; never sent to the browser."""

    battle_id: str | None = None
    phase: str = "idle"  # idle -> streaming -> ready -> (streaming ...) -> voted | failed
    chats: dict[str, list[Message]] = field(default_factory=lambda: {"a": [], "b": []})

    @property
    def is_open(self) -> bool:
        """Started and neither voted nor failed: leaving it logs it as abandoned."""
        return self.battle_id is not None and self.phase in ("ready", "streaming")


class Views:
    """The open battle of each (session, mode); the only place the battle id lives."""

    def __init__(self) -> None:
        self._views: dict[tuple[str, str], View] = {}

    def get(self, session: str, mode: str) -> View:
        return self._views.setdefault((session, mode), View())

    def reset(self, session: str, mode: str) -> View:
        self._views[(session, mode)] = View()
        return self._views[(session, mode)]

    def pop_session(self, session: str) -> list[View]:
        keys = [key for key in self._views if key[0] == session]
        return [self._views.pop(key) for key in keys]


def session_of(request: gr.Request) -> str:
    """The tab's Gradio `session_hash`: the key of the tab's views (never the rater)."""
    session = getattr(request, "session_hash", None)
    if not session:
        raise ArenaError("this page lost its session; reload the page to start again")
    return session


def chat_value(messages: list[Message]) -> list[dict[str, str]]:
    """A side's messages as the Chatbot's value: server-rendered, sanitised HTML (the Chatbot
    shows it as HTML and does not parse it again; see `arena.web.ui.rendering`)."""
    value = []
    for message in messages:
        content = render_markdown(message.text)
        if message.note:
            content += render_note(message.note)
        value.append({"role": message.role, "content": content})
    return value


def status_text(text: str) -> str:
    """A status line as Markdown that shows `text` exactly, HTML and Markdown syntax included."""
    return markdown_text(text)


class VotePanel:
    """Chat columns, vote buttons and revealed names over one battle mode.

    `prefix` is prepended to every element id (the Arena tab uses none, so its ids are the
    documented `chat-a`, `vote-a`, `model-name-a`, ...; Side by side uses `named-`).
    Subclasses add how a battle starts and set `status`, `outputs` and the notes below.
    """

    ready_note = "Both answers are in: vote for the better one."
    next_label = "New round"  # the button that starts the next battle, named after a vote

    def __init__(self, guard: BattleGuard, identity: ClientIdentity, views: Views, *,
                 mode: str, prefix: str):
        self.guard = guard
        self.service = guard.service
        self.identity = identity
        self.views = views
        self.mode = mode
        self.prefix = prefix
        self.status: gr.Markdown
        self.outputs: list[Any] = []

    # ------------------------------------------------------------------------------ layout
    def build_columns(self) -> None:
        """The two chat columns, the revealed names under them and the vote buttons."""
        p = self.prefix
        with gr.Row(equal_height=True):
            self.chats = {
                side: gr.Chatbot(
                    label=f"Model {side.upper()}",
                    elem_id=f"{p}chat-{side}",
                    height=420,
                    # The value is HTML rendered and sanitised on the server: the browser
                    # must show it, not parse it again as Markdown or LaTeX. Gradio's own
                    # sanitiser would rewrite every link's rel (dropping nofollow); the page's
                    # CSP stands behind the server's two passes instead.
                    render_markdown=False,
                    sanitize_html=False,
                    latex_delimiters=[],
                    allow_tags=False,
                    # A copy button would copy that HTML, not the text.
                    buttons=[],
                    group_consecutive_messages=False,
                    elem_classes=["arena-chat"],
                )
                for side in SIDES
            }
        with gr.Row(elem_classes=["arena-names-row"]):
            self.names = {
                side: gr.Markdown("", elem_id=f"{p}model-name-{side}",
                                  elem_classes=["arena-names"])
                for side in SIDES
            }
        with gr.Row(elem_classes=["arena-votes"]):
            self.vote_buttons = [
                gr.Button(label, elem_id=f"{p}{elem}", interactive=False)
                for elem, label, _ in VOTES
            ]
        gr.Markdown(KEYS_HINT, elem_id=f"{p}keys-hint", elem_classes=["arena-keys"])

    def wire_votes(self) -> None:
        """One click event per vote button; a double click counts once."""
        for button, (_, _, winner) in zip(self.vote_buttons, VOTES, strict=True):
            button.click(self.voter(winner), outputs=self.outputs, trigger_mode="once",
                         concurrency_id="battle-vote", concurrency_limit=VOTE_CONCURRENCY,
                         **PRIVATE_EVENT)

    # ------------------------------------------------------------------------------ frames
    def frame(self, view: View, **changes: Any) -> dict[Any, Any]:
        """An update: both chats from the view, plus the given component changes."""
        frame: dict[Any, Any] = {self.chats[s]: chat_value(view.chats[s]) for s in SIDES}
        for name, value in changes.items():
            frame[getattr(self, name)] = value
        return frame

    def votes_enabled(self, enabled: bool) -> dict[Any, Any]:
        return {button: gr.update(interactive=enabled) for button in self.vote_buttons}

    def inputs_enabled(self, enabled: bool) -> dict[Any, Any]:
        """The controls that send the next prompt, if the screen has any."""
        return {}

    def refused(self, view: View | None, refused: ArenaError) -> dict[Any, Any]:
        """The frame for a turn the service refused: its reason; a streaming view fails."""
        if view is not None and view.phase == "streaming":
            view.phase = "failed"
        return {self.status: refusal_text(refused)}

    def crashed(self, view: View | None) -> dict[Any, Any]:
        """The frame for a turn that failed unexpectedly (logged by the caller): votes off."""
        if view is not None:
            view.phase = "failed"
        return {self.status: status_text(UNEXPECTED), **self.votes_enabled(False)}

    # ------------------------------------------------------------------------------ events
    async def fresh_view(self, session: str, client: Client) -> View:
        """A fresh view for tab `session`; its open battle, if unvoted, is logged as
        abandoned (by `client`, its rater)."""
        view = self.views.get(session, self.mode)
        if view.is_open:
            await self.service.end(view.battle_id, client.session, reason="new_round")
        return self.views.reset(session, self.mode)

    async def relay(
        self, view: View, events: AsyncIterator[BattleEvent]
    ) -> AsyncIterator[dict[Any, Any]]:
        """Fold the service's events into the view and yield page updates: state changes at
        once, plain text at most every UPDATE_INTERVAL_S. Closing it closes `events`."""
        async with contextlib.aclosing(events):
            last = 0.0
            async for event in events:
                update = self.apply(view, event)
                now = time.monotonic()
                if update is not None or now - last >= UPDATE_INTERVAL_S:
                    last = now
                    yield {**self.frame(view), **(update or {})}
            # The stream ended; the last delta may not have been sent yet.
            yield self.frame(view)

    def apply(self, view: View, event: BattleEvent) -> dict[Any, Any] | None:
        """Fold one service event into the view; returns component changes it implies."""
        if event.kind == "delta" and event.side in SIDES:
            view.chats[event.side][-1].text += event.text
            return None
        if event.kind == "error" and event.side in SIDES:
            view.chats[event.side][-1].note = event.text
            return {}
        if event.kind == "ready":
            view.phase = "ready"
            return {**self.votes_enabled(True), **self.inputs_enabled(True),
                    self.status: self.ready_note}
        if event.kind == "failed":
            view.phase = "failed"
            return {**self.votes_enabled(False), **self.inputs_enabled(False),
                    self.status: failure_text(event.text)}
        return {} if event.kind in ("done", "stopped") else None

    def voter(self, winner: str) -> Callable[[gr.Request], Awaitable[dict]]:
        """The click handler of one vote button (named after the winner it votes for)."""
        async def vote(request: gr.Request) -> dict[Any, Any]:
            return await self.vote(winner, request)

        vote.__name__ = f"vote_{winner.replace(' ', '_').replace('(', '').replace(')', '')}"
        return vote

    async def vote(self, winner: str, request: gr.Request) -> dict[Any, Any]:
        """Cast the vote; on success (or a repeat of one) reveal the names."""
        try:
            view = self.views.get(session_of(request), self.mode)
            if view.battle_id is None:
                return {self.status: "Start a battle first: type a prompt and press Enter."}
            client = self.identity.page_client(request)
            try:
                reveal = await self.guard.vote(client, view.battle_id, winner)
            except VoteConflict:
                if view.phase != "voted":
                    raise
                # A second click on an already counted vote: show the names again.
                reveal = await self.service.reveal(view.battle_id, client.session)
            view.phase = "voted"
            return {**self.revealed(reveal), **self.votes_enabled(False),
                    **self.inputs_enabled(False)}
        except ArenaError as refused:
            return {self.status: refusal_text(refused)}
        except Exception:
            log.exception("vote failed")
            return {self.status: status_text(UNEXPECTED)}

    def revealed(self, reveal: Reveal) -> dict[Any, Any]:
        """The names of both sides and the note that the vote is saved."""
        note = f"Your vote is saved. Click {self.next_label} for another battle."
        if "identity_leak" in reveal.flags:
            note += (" One of the answers named its own model, so this battle is flagged and "
                     "left out of the default leaderboard.")
        return {
            self.names["a"]: f"Model A: **{markdown_text(reveal.model_a)}**",
            self.names["b"]: f"Model B: **{markdown_text(reveal.model_b)}**",
            self.status: note,
        }
