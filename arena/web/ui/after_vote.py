"""What the battle screen offers after the vote: an optional reason and, when the rater agreed
to publish the conversation, a share link.

- **Reason** (`reason-tags`, `reason-comment`, `reason-send`, `reason-status`): a few tags the
  operator configured (`[arena] reason_tags`, e.g. "more accurate", "safer") and a short
  comment (at most `[arena] reason_comment_chars` characters), sent with one click to
  `BattleService.set_reason`, which stores them with the vote. Optional: nothing happens if the
  rater skips it; a vote takes one reason, so Send reason switches off once it is saved.
- **Share** (`share-link`): `BattleService.share_url` gives the path of a read-only page of
  the battle (conversation, models, vote), or None when it is not shareable (the rater
  declined to publish, or sharing is off). The page shows it as a link on the arena's own host.

Both appear only once the vote is saved (the names are revealed then) and go away with New
round. The battle id never reaches the browser: the handlers find it in the tab's view.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import gradio as gr

from arena.errors import ArenaError
from arena.web.identity import ClientIdentity
from arena.web.ui.panel import PRIVATE_EVENT, UNEXPECTED, Views, session_of
from arena.web.ui.text import markdown_text

log = logging.getLogger(__name__)

DEFAULT_COMMENT_CHARS = 500
REASON_SAVED = "Thank you: your reason is saved with your vote."


class AfterVote:
    """The reason form and the share link of one battle screen."""

    def __init__(self, service: Any, identity: ClientIdentity, views: Views, *, mode: str,
                 prefix: str, comment_chars: int = DEFAULT_COMMENT_CHARS) -> None:
        self.service = service
        self.identity = identity
        self.views = views
        self.mode = mode
        self.prefix = prefix
        self.tags = tuple(service.reason_tags)
        self.comment_chars = comment_chars

    def build(self) -> None:
        p = self.prefix
        with gr.Column(elem_id=f"{p}after-vote", visible=False,
                       elem_classes=["arena-after-vote"]) as self.box:
            self.share = gr.Markdown("", elem_id=f"{p}share-link", visible=False)
            self.tag_choice = gr.CheckboxGroup(
                choices=list(self.tags), label="Why? (optional) Pick any that apply",
                elem_id=f"{p}reason-tags", visible=bool(self.tags))
            with gr.Row(equal_height=True):
                self.comment = gr.Textbox(
                    label="Comment (optional)", elem_id=f"{p}reason-comment", lines=1,
                    max_lines=4, max_length=self.comment_chars, scale=4,
                    placeholder=f"A few words on your choice (at most {self.comment_chars} "
                                "characters)")
                self.send = gr.Button("Send reason", elem_id=f"{p}reason-send", scale=1,
                                      min_width=120)
            self.status = gr.Markdown("", elem_id=f"{p}reason-status")
        self.outputs = [self.box, self.share, self.tag_choice, self.comment, self.send,
                        self.status]
        self.send.click(self._sender(), inputs=[self.tag_choice, self.comment],
                        outputs=[self.status, self.send], trigger_mode="once",
                        concurrency_id="battle-vote", **PRIVATE_EVENT)

    # ------------------------------------------------------------------------------ frames
    def hidden(self) -> dict[Any, Any]:
        """The frame of a fresh battle: the box hidden and emptied."""
        return {self.box: gr.update(visible=False), self.share: gr.update(value="",
                visible=False), self.tag_choice: gr.update(value=[]),
                self.comment: gr.update(value="", interactive=True),
                self.send: gr.update(interactive=True), self.status: ""}

    async def shown(self, battle_id: str, session: str) -> dict[Any, Any]:
        """The frame after the vote: the reason form, and the share link when there is one."""
        frame = {**self.hidden(), self.box: gr.update(visible=True)}
        link = await self._share_url(battle_id, session)
        if link:
            try:
                frame[self.share] = gr.update(value=share_markdown(link), visible=True)
            except ValueError:
                log.exception("share link of battle %s not shown", battle_id)
        return frame

    async def _share_url(self, battle_id: str, session: str) -> str | None:
        try:
            return await self.service.share_url(battle_id, session)
        except ArenaError:
            return None  # not shareable: no link is the whole answer
        except Exception:  # the vote is saved; a missing link must not hide that
            log.exception("share link of battle %s failed", battle_id)
            return None

    # ------------------------------------------------------------------------------ events
    def _sender(self) -> Callable[..., Awaitable[tuple[str, Any]]]:
        async def send_reason(tags: list[str] | None, comment: str | None,
                              request: gr.Request) -> tuple[str, Any]:
            try:
                view = self.views.get(session_of(request), self.mode)
                if view.battle_id is None or view.phase != "voted":
                    return "Vote first; then you can say why.", gr.update()
                client = self.identity.page_client(request)
                await self.service.set_reason(view.battle_id, client.session,
                                              list(tags or []), (comment or "").strip() or None)
                # One reason per vote (the service refuses a second): the form is done.
                return REASON_SAVED, gr.update(interactive=False)
            except ArenaError as refused:
                return markdown_text(refused.message), gr.update()
            except Exception:
                log.exception("saving a reason failed")
                return markdown_text(UNEXPECTED), gr.update()

        return send_reason


def share_markdown(path: str) -> str:
    """The share line: a link to `path` on this host (a path the service made, e.g.
    `/shared/<token>`: URL-safe characters only, checked here so no Markdown can hide in it)."""
    if not path.startswith("/") or path.startswith("//") or any(
            not (c.isalnum() or c in "/-_.~") for c in path):
        raise ValueError(f"unexpected share path {path!r}")
    return (f"🔗 **Share this battle:** [{path}]({path}) (a read-only page with both answers, "
            "the models and your vote; anyone with the link can see it)")
