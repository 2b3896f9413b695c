"""The Arena tab of a replay arena (`arena serve --replay FILE`): logged battles, no prompt box.

Same layout, ids and rules as the ordinary Arena tab (`arena.ui.BattlePanel`): two chat columns
`chat-a`/`chat-b`, the four vote buttons, `model-name-a`/`-b` after the vote, `arena-status`.
Instead of the prompt box there is one button, "Next battle" (`next-battle`): it leaves the
open battle (logged as abandoned when it was not voted) and streams the next logged battle the
service picks for this rater. The logged prompts appear as the user's messages in both columns;
follow-ups are not possible. Every rule stays in `BattleService.start_replay` and `vote`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from arena.battles import BattleEvent, Reveal
from arena.errors import ArenaError
from arena.web.ui.battle import (
    SIDES,
    STREAM_CONCURRENCY,
    VOTE_CONCURRENCY,
    VOTES,
    BattlePanel,
    _Message,
    _session,
    _View,
)

log = logging.getLogger(__name__)

INTRO = ("**Replay:** these battles were fought earlier. Read both answers to the logged "
         "prompts and vote for the better one; the models stay anonymous until you vote.")


class ReplayPanel(BattlePanel):
    """The Arena tab in replay mode: chats, votes and a Next battle button."""

    def build(self) -> None:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=True):
            self.chats = {
                side: gr.Chatbot(
                    label=f"Model {side.upper()}", elem_id=f"chat-{side}", height=420,
                    render_markdown=True, sanitize_html=True, allow_tags=False,
                    buttons=["copy"], group_consecutive_messages=False,
                    elem_classes=["arena-chat"],
                )
                for side in SIDES
            }
        with gr.Row():
            self.names = {
                side: gr.Markdown("", elem_id=f"model-name-{side}", elem_classes=["arena-names"])
                for side in SIDES
            }
        with gr.Row():
            self.vote_buttons = [
                gr.Button(label, elem_id=elem, interactive=False) for elem, label, _ in VOTES
            ]
        self.status = gr.Markdown("Click **Next battle** to see a logged battle.",
                                  elem_id="arena-status", elem_classes=["arena-status"])
        self.next = gr.Button("⏭  Next battle", variant="primary", elem_id="next-battle")
        self.outputs = [self.next, *self.chats.values(), *self.names.values(),
                        *self.vote_buttons, self.status]
        private = {"api_visibility": "private", "show_progress": "hidden"}
        self.next.click(self.next_battle, outputs=self.outputs, concurrency_id="battle-stream",
                        concurrency_limit=STREAM_CONCURRENCY, trigger_mode="once", **private)
        for button, (_, _, winner) in zip(self.vote_buttons, VOTES, strict=True):
            button.click(self._voter(winner), outputs=self.outputs, trigger_mode="once",
                         concurrency_id="battle-vote", concurrency_limit=VOTE_CONCURRENCY,
                         **private)

    def _inputs(self, enabled: bool) -> dict[Any, Any]:
        return {}  # no prompt box in replay mode

    async def next_battle(self, request: gr.Request) -> AsyncIterator[dict]:
        """Leave the open battle (abandoned unless voted) and stream the next logged one."""
        view: _View | None = None
        try:
            session = _session(request)
            view = self.views.get(session, self.mode)
            if view.battle_id is not None and view.phase in ("ready", "streaming"):
                await self.service.end(view.battle_id, session, reason="new_round")
            view = self.views.reset(session, self.mode)
            cleared = {self.names["a"]: "", self.names["b"]: "", self.status: ""}
            yield {**self._frame(view), **cleared, **self._votes(False)}
            battle_id, events = await self.service.start_replay(session)
            view.battle_id, view.phase = battle_id, "streaming"
            async with contextlib.aclosing(self._relay(view, events)) as frames:
                async for frame in frames:
                    yield frame
        except ArenaError as refused:
            yield self._refused(view, refused)
        except Exception:  # noqa: BLE001 - the user sees a readable line, the log the trace
            log.exception("replay battle failed")
            yield self._crashed(view)

    def _apply(self, view: _View, event: BattleEvent) -> dict[Any, Any] | None:
        if event.kind == "turn":
            for side in SIDES:
                view.chats[side] += [_Message("user", event.text), _Message("assistant")]
            return {}
        if event.kind == "ready":
            view.phase = "ready"
            return {**self._votes(True),
                    self.status: "Both answers are in: vote for the better one."}
        return super()._apply(view, event)

    def _revealed(self, reveal: Reveal) -> dict[Any, Any]:
        frame = super()._revealed(reveal)
        frame[self.status] = frame[self.status].replace("Click New round", "Click Next battle")
        return frame
