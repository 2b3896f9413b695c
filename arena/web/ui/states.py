"""What the page says when a battle cannot go on, in words a rater understands.

Each refusal the service or the limits raise (`arena.errors`) keeps its own message, which says
exactly what happened and when to retry; this module puts a plain headline and what to do next
in front of it, by kind:

- **limit** (`RateLimited`, 429): this rater or network address did too much too fast;
- **busy** (`Unavailable`, 503): the arena is at capacity or a store is unreachable; nothing the
  rater did, try again shortly;
- **model failure** (the `failed` event): one of the two models failed mid-answer, so the battle
  cannot be voted; the answers so far stay on screen;
- anything else (`BadInput`, `PromptTooLong`, ...): the message alone, which says what to fix.

The page never clears the conversation when it shows one of these, and a refused prompt stays in
the prompt box, so nothing the rater typed is lost.
"""

from __future__ import annotations

from arena.errors import ArenaError, RateLimited, Unavailable
from arena.web.ui.text import markdown_text

LIMIT_HEADLINE = "⏳ Please slow down."
LIMIT_ADVICE = "Your conversation stays on this page; wait, then try again."
BUSY_HEADLINE = "🚦 The arena is busy right now."
BUSY_ADVICE = "Nothing was lost: your text is still here; try again in a moment."
FAILED_HEADLINE = "⚠️ One of the models failed to answer."
FAILED_ADVICE = ("This battle cannot be voted, and the answers so far stay on screen. "
                 "Click New round to try again with a new pair of models.")


def refusal_text(refused: ArenaError) -> str:
    """The status line (Markdown) for a refused request: headline, the service's message
    (shown literally), and what to do."""
    detail = markdown_text(refused.message)
    if isinstance(refused, RateLimited):
        return f"**{LIMIT_HEADLINE}** {_sentence(detail)} {LIMIT_ADVICE}"
    if isinstance(refused, Unavailable):
        return f"**{BUSY_HEADLINE}** {_sentence(detail)} {BUSY_ADVICE}"
    return detail


def failure_text(service_text: str) -> str:
    """The status line (Markdown) when the battle failed: a side's model did not answer.
    `service_text` is the service's own words (the same whichever side failed); it is kept
    in full after the headline, so the rater reads the same facts in plainer words."""
    said = markdown_text(service_text) if service_text else ""
    return f"**{FAILED_HEADLINE}** {FAILED_ADVICE}" + (f" ({said})" if said else "")


def _sentence(text: str) -> str:
    """`text` capitalised and ended with a full stop (the service's messages are clauses)."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
