"""The Arena tab of a re-vote arena (`arena serve --revote FILE`): logged battles, no prompt box.

Same layout, ids and rules as the ordinary Arena tab (`arena.web.ui.battle.BattlePanel`): two
chat columns `chat-a`/`chat-b`, the four vote buttons, `model-name-a`/`-b` after the vote,
`arena-status`. Instead of the prompt box there is one button, "Next battle" (`next-battle`):
it leaves the open battle (logged as abandoned when it was not voted) and streams the next
logged battle the service picks for this rater. The logged prompts appear as the user's
messages in both columns; follow-ups are not possible. Every rule stays in
`BattleService.start_replay` and `vote`, behind the limits of `arena.web.guard`. Logged
prompts and answers are untrusted text like live ones and go through the same renderer
(`arena.web.ui.rendering`, via `chat_value`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from arena.battles import BattleEvent
from arena.errors import ArenaError
from arena.web.guard import BattleGuard
from arena.web.identity import ClientIdentity
from arena.web.ui.panel import (
    PRIVATE_EVENT,
    SIDES,
    STREAM_CONCURRENCY,
    Message,
    View,
    Views,
    VotePanel,
    session_of,
)

log = logging.getLogger(__name__)

INTRO = ("**Replay:** these battles were fought earlier. Read both answers to the logged "
         "prompts and vote for the better one; the models stay anonymous until you vote.")
# The battle mode the service logs re-votes under.
REVOTE_MODE = "replay"


class RevotePanel(VotePanel):
    """The Arena tab in re-vote mode: chats, votes and a Next battle button."""

    next_label = "Next battle"

    def __init__(self, guard: BattleGuard, identity: ClientIdentity, views: Views):
        super().__init__(guard, identity, views, mode=REVOTE_MODE, prefix="")

    def build(self) -> None:
        gr.Markdown(INTRO)
        self.build_columns()
        self.status = gr.Markdown("Click **Next battle** to see a logged battle.",
                                  elem_id="arena-status", elem_classes=["arena-status"])
        self.next = gr.Button("⏭  Next battle", variant="primary", elem_id="next-battle")
        self.outputs = [self.next, *self.chats.values(), *self.names.values(),
                        *self.vote_buttons, self.status]
        self.next.click(self.next_battle, outputs=self.outputs, concurrency_id="battle-stream",
                        concurrency_limit=STREAM_CONCURRENCY, trigger_mode="once",
                        **PRIVATE_EVENT)
        self.wire_votes()

    async def next_battle(self, request: gr.Request) -> AsyncIterator[dict]:
        """Leave the open battle (abandoned unless voted) and stream the next logged one."""
        view: View | None = None
        try:
            client = self.identity.page_client(request)
            view = await self.fresh_view(session_of(request), client)
            cleared = {self.names["a"]: "", self.names["b"]: "", self.status: ""}
            yield {**self.frame(view), **cleared, **self.votes_enabled(False)}
            battle_id, events = await self.guard.start_replay(client)
            view.battle_id, view.phase = battle_id, "streaming"
            async with contextlib.aclosing(self.relay(view, events)) as frames:
                async for frame in frames:
                    yield frame
        except ArenaError as refused:
            yield self.refused(view, refused)
        except Exception:  # the user sees a readable line, the log the trace
            log.exception("re-vote battle failed")
            yield self.crashed(view)

    def apply(self, view: View, event: BattleEvent) -> dict[Any, Any] | None:
        if event.kind == "turn":
            for side in SIDES:
                view.chats[side] += [Message("user", event.text), Message("assistant")]
            return {}
        return super().apply(view, event)
