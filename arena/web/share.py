"""The shared-battle page: `GET /shared/<token>`, a read-only view of one voted battle whose
rater agreed to publish its text (the link: `BattleService.share_url`, arena.battles.sharing).

What it shows: the prompts and both answers as the rater saw them last (turns a Regenerate
replaced are left out), the two models' names, which side was which, and the vote. Not the
system prompts, the rater, the reason, the timings or anything else of the record.

Safety, as for the arena's own page and the public release:
- the text is scrubbed of personal data as the public release scrubs it
  (arena.transfer.scrub: e-mail addresses, phone and card numbers, IP addresses, keys), then
  rendered by the arena's Markdown renderer (arena.web.ui.rendering: raw HTML off, no image
  ever loaded, links only to http/https/mailto, nh3 after it); names are escaped;
- the page has no script, no form and no link that acts on the battle; the security headers
  (CSP and the rest, arena.web.security_headers) wrap it like every answer; it asks search
  engines not to index it (`X-Robots-Tag: noindex`) and caches nowhere (`no-store`);
- a link that is forged, garbled, of a battle not voted, not consented or unknown, or any link
  while `[arena] share_links` is off, gets the same 404 page: the page tells nobody whether a
  battle exists. A bad token is refused before the database is read.
Rendered pages are kept a few minutes (`CACHE_S`, at most `CACHE_ENTRIES`), so a link shared
widely costs one read of the log, not one per visitor.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections import OrderedDict

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from arena.battles.sharing import ShareLinks
from arena.config import ArenaSettings
from arena.record import BattleRecord
from arena.store import BattleLog
from arena.transfer.scrub import TextScrubber
from arena.web.ui.rendering import render_markdown

CACHE_S = 300.0
CACHE_ENTRIES = 256
HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
NOT_SHARED = ("This link does not lead to a shared battle: it may be mistyped, or the battle "
              "is not shared. Ask whoever sent it for the link again.")
VOTE_WORDS = {
    "model_a": "The rater preferred the left answer ({a}).",
    "model_b": "The rater preferred the right answer ({b}).",
    "tie": "The rater judged it a tie.",
    "tie (bothbad)": "The rater judged it a tie: both answers were bad.",
}
STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;
color:#1f2328;background:#fff;line-height:1.5}
h1{font-size:1.4rem}h2{font-size:.9rem;margin:1.5rem 0 0;color:#57606a}
.vote{font-weight:600}.prompt{background:#f3f4f6;border-radius:.5rem;
padding:.5rem 1rem;margin:.25rem 0 .5rem}.answers{display:grid;gap:1rem;
grid-template-columns:repeat(auto-fit,minmax(18rem,1fr))}.answer{border:1px solid #d0d7de;
border-radius:.5rem;padding:.5rem 1rem;overflow-wrap:anywhere}.answer h3{font-size:1rem;
margin:.25rem 0}pre{overflow-x:auto;background:#f6f8fa;padding:.5rem}
"""


def shareable(record: BattleRecord | None) -> bool:
    """True for a voted human battle whose rater agreed to publish its text."""
    return (record is not None and record.status == "voted" and record.winner is not None
            and record.publish_consent is True and record.mode != "judge")


class SharedBattlePages:
    """Renders the shared-battle pages of one arena (`page` is the route's handler)."""

    def __init__(self, log: BattleLog, links: ShareLinks, *, title: str, enabled: bool,
                 scrubber: TextScrubber | None = None) -> None:
        self.log = log
        self.links = links
        self.title = title
        self.enabled = enabled
        self.scrubber = scrubber or TextScrubber()
        self._cache: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def page(self, token: str) -> HTMLResponse:
        battle_id = self.links.battle_of(token) if self.enabled else None
        if battle_id is None:
            return self.not_shared()
        cached = self._cache.get(battle_id)
        if cached is not None and time.monotonic() - cached[0] < CACHE_S:
            return HTMLResponse(cached[1], headers=HEADERS)
        body = await asyncio.to_thread(self.render, battle_id)
        if body is None:
            return self.not_shared()
        self._cache[battle_id] = (time.monotonic(), body)
        self._cache.move_to_end(battle_id)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return HTMLResponse(body, headers=HEADERS)

    def not_shared(self) -> HTMLResponse:
        return HTMLResponse(self.document("Not a shared battle", f"<p>{NOT_SHARED}</p>"),
                            status_code=404, headers=HEADERS)

    def render(self, battle_id: str) -> str | None:
        """The page of a shareable battle (read from the log, scrubbed); None otherwise."""
        record = self.log.get_battle(battle_id)
        if not shareable(record):
            return None
        assert record is not None and record.winner is not None
        a, b = html.escape(record.model_a), html.escape(record.model_b)
        parts = [f"<p>Left: <strong>{a}</strong> · Right: <strong>{b}</strong></p>",
                 f'<p class="vote">{VOTE_WORDS[record.winner].format(a=a, b=b)}</p>']
        for number, turn in enumerate(record.turns, start=1):
            parts.append(f'<section><h2>Prompt {number}</h2><div class="prompt">'
                         f'{self.text(turn.prompt)}</div><div class="answers">')
            for side, name, generation in (("Left", a, turn.generation_a),
                                           ("Right", b, turn.generation_b)):
                parts.append(f'<article class="answer"><h3>{side}: {name}</h3>'
                             f"{self.text(generation.output)}</article>")
            parts.append("</div></section>")
        return self.document(f"{a} vs {b}", "".join(parts))

    def text(self, untrusted: str) -> str:
        """Prompt or answer text as safe HTML: scrubbed, then rendered like the arena."""
        return render_markdown(self.scrubber.scrub(untrusted))

    def document(self, heading: str, body: str) -> str:
        title = html.escape(self.title)
        return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<meta name=\"robots\" content=\"noindex, nofollow\">"
                f"<title>{heading} · {title}</title><style>{STYLE}</style></head><body>"
                f"<header><p>{title}: a shared battle (read only)</p><h1>{heading}</h1>"
                f"</header><main>{body}</main></body></html>")


def install_share_page(app: FastAPI, log: BattleLog, links: ShareLinks,
                       settings: ArenaSettings) -> SharedBattlePages:
    """Add `GET /shared/{token}` (left out of the OpenAPI document) to `app`."""
    pages = SharedBattlePages(log, links, title=settings.title, enabled=settings.share_links)
    app.add_api_route("/shared/{token}", pages.page, methods=["GET"], include_in_schema=False,
                      response_class=HTMLResponse)
    return pages
