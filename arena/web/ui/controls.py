"""The controls around a battle's turn: Stop while the answers stream, Regenerate once they are
in.

- **Stop** (`<prefix>stop`): beside Send, enabled only while both answers stream (Send is
  disabled then) and, by a CSS rule (`arena.web.ui.style`), shown only while enabled: toggling
  Gradio's `visible` instead re-rendered the row between two quick frames and lost the
  second frame's updates (seen under load: votes never enabled). A click asks the
  service to stop both generations at once (`BattleService.stop`: the model servers' requests
  are aborted, on whichever worker streams them); the turn's own stream then ends as the
  service decides: votable when both sides produced text, failed otherwise (the same words
  whichever side was empty). The text streamed so far stays on screen.
- **Regenerate** (`<prefix>regenerate`): enabled exactly when the vote buttons are (both answers
  of the last turn are in, no vote yet). Both sides answer the last prompt again with new seeds
  (`BattleService.regenerate`: the same pair; the replaced answers are kept in the record; the
  vote counts for the answers shown last; at most `[arena] max_regenerations` per battle). A
  refusal (the limit, the rate limit, a busy arena) is read before the answers are cleared, so
  the old answers stay when nothing new comes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from arena.battles import BattleEvent
from arena.errors import ArenaError
from arena.web.identity import Client
from arena.web.ui.panel import (
    PRIVATE_EVENT,
    SIDES,
    VOTE_CONCURRENCY,
    Message,
    View,
    VotePanel,
    session_of,
)

log = logging.getLogger(__name__)

REGENERATE_WHEN = "Regenerate works once both answers are in, before you vote."
STOP_LABEL = "⏹  Stop"
STOPPING_LABEL = "Stopping…"


class TurnControls(VotePanel):
    """Stop and Regenerate over a `VotePanel` with a prompt box (`prompt`, `send`)."""

    prompt: gr.Textbox
    send: gr.Button

    def build_stop(self) -> None:
        self.stop = gr.Button(STOP_LABEL, variant="stop", elem_id=f"{self.prefix}stop",
                              interactive=False, scale=1, min_width=72)

    regenerate_offered = True

    def build_regenerate(self) -> None:
        """The Regenerate button; not shown when the arena allows none (max_regenerations 0)."""
        self.regenerate = gr.Button("🔄  Regenerate", elem_id=f"{self.prefix}regenerate",
                                    interactive=False, visible=self.regenerate_offered)

    def control_outputs(self) -> list[Any]:
        return [self.stop, self.regenerate]

    def wire_controls(self, stream: dict[str, Any]) -> Any:
        """Wire Stop and Regenerate; returns the Regenerate event (New round cancels it)."""
        self.stop.click(self.stop_turn, outputs=[self.stop, self.status, *self.vote_buttons],
                        concurrency_id="battle-stop", concurrency_limit=VOTE_CONCURRENCY,
                        trigger_mode="once", **PRIVATE_EVENT)
        return self.regenerate.click(self.regenerate_turn, outputs=self.outputs,
                                     trigger_mode="once", **stream)

    # ------------------------------------------------------------------------------ frames
    def inputs_enabled(self, enabled: bool) -> dict[Any, Any]:
        """Send (and the prompt box) on or off; Stop off: no answer is streaming."""
        return {self.prompt: gr.update(interactive=enabled),
                self.send: gr.update(interactive=enabled),
                self.stop: gr.update(value=STOP_LABEL, interactive=False)}

    def streaming_controls(self) -> dict[Any, Any]:
        """While the answers stream: Stop on, Send off, the prompt box locked."""
        return {self.prompt: gr.update(interactive=False),
                self.send: gr.update(interactive=False),
                self.stop: gr.update(value=STOP_LABEL, interactive=True)}

    def votes_enabled(self, enabled: bool) -> dict[Any, Any]:
        """The vote buttons, and Regenerate with them."""
        return {**super().votes_enabled(enabled),
                self.regenerate: gr.update(interactive=enabled)}

    # ------------------------------------------------------------------------------ events
    async def stop_turn(self, request: gr.Request) -> dict[Any, Any]:
        """Stop both answers of the streaming turn (the turn's stream shows the outcome)."""
        try:
            view = self.views.get(session_of(request), self.mode)
            if view.phase != "streaming" or view.battle_id is None:
                return {}
            client = self.identity.page_client(request)
            await self.service.stop(view.battle_id, client.session)
            # The turn's stream says how it ended (it may have already): only the button here.
            return {self.stop: gr.update(value=STOPPING_LABEL, interactive=False)}
        except ArenaError as refused:
            return {self.status: self.refused(None, refused)[self.status]}
        except Exception:
            log.exception("stop failed")
            return self.crashed(None)

    async def regenerate_turn(self, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
        """Both answers of the last turn again; the old ones stay until new ones come."""
        view: View | None = None
        try:
            view = self.views.get(session_of(request), self.mode)
            if view.phase != "ready" or view.battle_id is None:
                yield {self.status: REGENERATE_WHEN}
                return
            events = await self._regenerated(self.identity.page_client(request), view.battle_id)
            # A refusal raises on the stream's first event: read it before clearing anything.
            first = await anext(events)
            for side in SIDES:
                view.chats[side][-1] = Message("assistant")
            view.phase = "streaming"
            yield {**self.frame(view), **self.streaming_controls(), **self.votes_enabled(False),
                   self.status: ""}
            async with contextlib.aclosing(self.relay(view, _prepend(first, events))) as frames:
                async for frame in frames:
                    yield frame
        except ArenaError as refused:
            yield self.refused(view, refused)
        except Exception:
            log.exception("regenerate failed")
            yield self.crashed(view)

    async def _regenerated(self, client: Client, battle_id: str) -> AsyncIterator[BattleEvent]:
        """The regenerated turn's events, within the limits (`BattleGuard.regenerate`)."""
        return await self.guard.regenerate(client, battle_id)


async def _prepend(first: BattleEvent, rest: AsyncIterator[BattleEvent]
                   ) -> AsyncIterator[BattleEvent]:
    """`first`, then the events of `rest` (closed when this is)."""
    async with contextlib.aclosing(rest):  # type: ignore[type-var]
        yield first
        async for event in rest:
            yield event
