"""The battle screen: a prompt box over the two chat columns, for the Arena tab (anonymous
battle) and the Side-by-side tab (named battle, two model pickers).

One event per turn: its async generator iterates over the service's merged stream of both
sides, so the two columns fill at the same time. Follow-up prompts continue the same battle
until it is voted; New round logs an unvoted battle as abandoned and clears the screen.
The rater's answer to the publication question (`arena.web.ui.page.ConsentQuestion`) is an
input of every send and goes to the service with the first prompt of each battle.

The controls around a turn (`arena.web.ui.controls`): **Stop** (`stop`, beside Send, enabled
while the answers stream) and **Regenerate** (`regenerate`, both answers of the last turn again,
enabled with the vote buttons). Under the prompt box, a few example prompts while it is empty
(`arena.web.ui.examples`); after the vote, an optional reason and the share link
(`arena.web.ui.after_vote`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr

from arena.errors import ArenaError
from arena.record import Consent
from arena.web.guard import BattleGuard
from arena.web.identity import ClientIdentity
from arena.web.ui.after_vote import DEFAULT_COMMENT_CHARS, AfterVote
from arena.web.ui.controls import TurnControls
from arena.web.ui.examples import ExampleRow
from arena.web.ui.panel import (
    PRIVATE_EVENT,
    SIDES,
    STREAM_CONCURRENCY,
    UNEXPECTED,
    Message,
    View,
    Views,
    session_of,
    status_text,
)
from arena.web.ui.states import refusal_text

log = logging.getLogger(__name__)


class BattlePanel(TurnControls):
    """Prompt box, two chat columns, vote buttons, Stop, Regenerate and New round, example
    prompts and the after-vote reason and share link, for one battle mode.

    `prefix` is prepended to every element id (the Arena tab uses none, so its ids are the
    documented `prompt`, `send`, `chat-a`, ...; Side by side uses `named-`).
    """

    ready_note = "Both answers are in: vote, or ask a follow-up question."

    def __init__(self, guard: BattleGuard, identity: ClientIdentity, views: Views, *,
                 mode: str, prefix: str, examples: list[str] | None = None,
                 comment_chars: int = DEFAULT_COMMENT_CHARS, regenerate: bool = True):
        super().__init__(guard, identity, views, mode=mode, prefix=prefix)
        self.regenerate_offered = regenerate  # `[arena] max_regenerations` > 0
        self.pickers: tuple[gr.Dropdown, gr.Dropdown] | None = None
        # The page's answer to the publication question (set by the page before `build`);
        # None: the page does not ask, and battles are logged as never asked.
        self.consent: gr.State | None = None
        self.examples = ExampleRow(list(examples or []), prefix=prefix)
        self.after = AfterVote(self.service, identity, views, mode=mode, prefix=prefix,
                               comment_chars=comment_chars)

    # ------------------------------------------------------------------------------ layout
    def build(self) -> None:
        p = self.prefix
        if self.mode == "named":
            with gr.Row():
                self.pickers = (
                    gr.Dropdown(label="Model A (left)", choices=[], elem_id=f"{p}model-a"),
                    gr.Dropdown(label="Model B (right)", choices=[], elem_id=f"{p}model-b"),
                )
        self.build_columns()
        with gr.Row(elem_classes=["arena-prompt-row"]):
            self.prompt = gr.Textbox(
                label="Your prompt",
                show_label=False,
                placeholder="Type a prompt and press Enter",
                elem_id=f"{p}prompt",
                scale=6,
                lines=1,
                max_lines=8,
                autofocus=self.mode == "anonymous",
            )
            self.send = gr.Button("Send", variant="primary", elem_id=f"{p}send", scale=1,
                                  min_width=72)
            self.build_stop()
        self.examples.build(self.prompt, PRIVATE_EVENT)
        self.status = gr.Markdown("", elem_id=f"{p}status" if p else "arena-status",
                                  elem_classes=["arena-status"])
        with gr.Row():
            self.build_regenerate()
            self.new_round = gr.Button("🎲  New round", elem_id=f"{p}new-round")
        self.after.build()
        self.outputs = [self.prompt, self.send, *self.chats.values(), *self.names.values(),
                        *self.vote_buttons, self.status, *self.control_outputs(),
                        *self.after.outputs]
        if self.pickers:
            self.outputs.extend(self.pickers)
        self._wire()

    def _wire(self) -> None:
        pickers = list(self.pickers or ())
        if self.consent is None:  # the page does not ask: every battle is "never asked"
            self.consent = gr.State(None)
        stream = {**PRIVATE_EVENT, "concurrency_id": "battle-stream",
                  "concurrency_limit": STREAM_CONCURRENCY}
        sent = [
            trigger(self._turn_handler(), inputs=[self.prompt, *pickers, self.consent],
                    outputs=self.outputs, **stream)
            for trigger in (self.send.click, self.prompt.submit)
        ]
        sent.append(self.wire_controls(stream))
        self.wire_votes()
        self.new_round.click(self.reset, outputs=self.outputs, cancels=sent, **PRIVATE_EVENT)

    def _turn_handler(self) -> Callable[..., AsyncIterator[dict]]:
        """The send event's handler: the prompt, both pickers in named mode, the consent."""
        if self.pickers:
            async def turn_named(
                prompt: str, left: str | None, right: str | None, consent: Consent | None,
                request: gr.Request,
            ) -> AsyncIterator[dict]:
                async for frame in self.run_turn(prompt, (left, right), request, consent):
                    yield frame

            return turn_named

        async def turn(
            prompt: str, consent: Consent | None, request: gr.Request
        ) -> AsyncIterator[dict]:
            async for frame in self.run_turn(prompt, None, request, consent):
                yield frame

        return turn

    def _pickers_enabled(self, enabled: bool) -> dict[Any, Any]:
        return {picker: gr.update(interactive=enabled) for picker in self.pickers or ()}

    # ------------------------------------------------------------------------------ events
    async def run_turn(
        self,
        prompt: str,
        models: tuple[Any, Any] | None,
        request: gr.Request,
        consent: Consent | None = None,
    ) -> AsyncIterator[dict]:
        """Start a battle (first prompt, with the rater's `consent`) or continue it (follow-up)
        and stream both sides. A refused prompt stays in the box."""
        view: View | None = None
        try:
            view = self.views.get(session_of(request), self.mode)
            if view.phase in ("voted", "failed"):
                yield {self.status: status_text("This battle is over; click New round to start "
                                                "another one.")}
                return
            if view.phase == "streaming":
                return
            client = self.identity.page_client(request)
            if view.battle_id is None:
                battle_id, events = await self.guard.start(
                    client, prompt, mode=self.mode, models=models, consent=consent
                )
                view.battle_id = battle_id
            else:
                events = await self.guard.continue_battle(client, view.battle_id, prompt)
            for side in SIDES:
                view.chats[side] += [Message("user", prompt), Message("assistant")]
            view.phase = "streaming"
            started = {**self.streaming_controls(), self.status: "",
                       self.prompt: gr.update(value="", interactive=False)}
            yield {**self.frame(view), **started, **self._pickers_enabled(False),
                   **self.votes_enabled(False)}
            async with contextlib.aclosing(self.relay(view, events)) as frames:
                async for frame in frames:
                    yield frame
        except ArenaError as refused:
            yield self.refused(view, refused)
        except Exception:  # the user sees a readable line, the log the trace
            log.exception("battle turn failed")
            yield self.crashed(view)

    async def vote(self, winner: str, request: gr.Request) -> dict[Any, Any]:
        """The vote (see `VotePanel.vote`); once saved, the reason form and share link."""
        frame = await super().vote(winner, request)
        try:
            view = self.views.get(session_of(request), self.mode)
            if view.phase == "voted" and view.battle_id is not None:
                client = self.identity.page_client(request)
                frame.update(await self.after.shown(view.battle_id, client.session))
        except ArenaError:
            pass  # the vote's own frame already says what went wrong
        return frame

    async def reset(self, request: gr.Request) -> dict[Any, Any]:
        """New round: log the open battle as abandoned (if unvoted) and clear the panel."""
        status = ""
        try:
            view = await self.fresh_view(session_of(request), self.identity.page_client(request))
        except ArenaError as refused:
            status = refusal_text(refused)
            view = View()
        except Exception:
            log.exception("new round failed")
            status, view = status_text(UNEXPECTED), View()
        return {**self.frame(view), **self.votes_enabled(False), **self.inputs_enabled(True),
                self.status: status, self.names["a"]: "", self.names["b"]: "",
                self.prompt: gr.update(value="", interactive=True),
                **self._pickers_enabled(True), **self.after.hidden()}
