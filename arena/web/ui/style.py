"""The page's own CSS (added to Gradio's theme by `MOUNT_OPTIONS` in `arena.web.ui.page`).

Phone width (`PHONE_MAX_PX`, 640 px and narrower; the tests use 390 x 844): a rater who opens
the page must see the prompt box and Send without scrolling, so until the battle's first
answer arrives the two empty chat columns (420 px each at desktop width) and the empty name row
take no room, the publication terms fold into a *Read the terms* section, the four vote
buttons sit in a 2 x 2 grid, Send stays beside the prompt box, and the keyboard hint (phones
have no keys) is hidden. Once a chat holds a message it takes at most 60% of the screen's
height, so an answer and the vote buttons fit on one screen. The Leaderboard tab keeps its own
rules (`LEADERBOARD_CSS`).

No rule depends on a script: `:has()` (Chromium 105+, Safari 15.4+, Firefox 121+) reads the
page's state from the DOM itself; an older browser shows the desktop layout, which still works
(it scrolls).
"""

from __future__ import annotations

from arena.web.ui.board_plots import LEADERBOARD_CSS

PHONE_MAX_PX = 640

ARENA_CSS = """
.arena-names { min-height: 1.8em; text-align: center; }
.arena-status { min-height: 1.2em; }
#consent { padding: 0.5em 1em; }
footer { display: none !important; }
/* The chat's own Clear button would only blank this page's copy of a live battle. */
.arena-chat button[aria-label="Clear"] { display: none !important; }
/* Example prompts: offered only while the prompt box is empty. */
.arena-examples { align-items: center; gap: 0.4em; }
.arena-examples .arena-examples-label { flex: 0 0 auto; width: auto; }
.arena-example { white-space: normal !important; text-align: left; }
.gradio-container:has(#prompt textarea:not(:placeholder-shown)) #examples,
.gradio-container:has(#named-prompt textarea:not(:placeholder-shown)) #named-examples {
  display: none !important;
}
/* The terms fold away at phone width only (the phone copy lives in an accordion). */
#consent-terms-phone { display: none !important; }
.arena-keys { font-size: 0.85em; opacity: 0.85; }
.arena-after-vote { border-top: 1px solid var(--border-color-primary); padding-top: 0.5em; }
"""

PHONE_CSS = f"""
@media (max-width: {PHONE_MAX_PX}px) {{
  h1 {{ font-size: 1.5em !important; margin: 0.2em 0 !important; }}
  #consent-terms {{ display: none !important; }}
  #consent-terms-phone {{ display: block !important; }}
  #consent {{ padding: 0.25em 0.5em; }}
  #consent button {{ padding: 0.4em 0.6em; font-size: 0.95em; }}
  /* Empty chats and names take no room until the first answer streams in. */
  .arena-chat:not(:has(.message-content)) {{ display: none !important; }}
  .arena-chat {{ height: auto !important; max-height: 60vh; min-height: 8em; }}
  .arena-names-row:not(:has(strong)) {{ display: none !important; }}
  .arena-votes {{ display: grid !important; grid-template-columns: 1fr 1fr; gap: 0.4em; }}
  .arena-votes button {{ min-width: 0 !important; padding: 0.5em 0.3em; }}
  .arena-prompt-row {{ flex-wrap: nowrap !important; }}
  .arena-prompt-row > * {{ min-width: 0 !important; }}
  .arena-prompt-row button {{ flex: 0 0 auto !important; width: auto !important; }}
  .arena-keys {{ display: none !important; }}
}}
"""

PAGE_CSS = ARENA_CSS + PHONE_CSS + LEADERBOARD_CSS
