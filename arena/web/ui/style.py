"""The page's own CSS (added to Gradio's theme by `MOUNT_OPTIONS` in `arena.web.ui.page`).

A rater who opens the page must see the prompt box and Send without scrolling, at desktop width
(1280 x 1000) as at phone width, even before answering the publication question: empty chat
columns are short (12em) until the first message. At phone width (`PHONE_MAX_PX`, 640 px and
narrower; the tests use 390 x 844) empty chat columns and the empty name row take no room at
all, the publication terms fold into a *Read the terms* section, the tabs fit the bar, the four
vote buttons sit in a 2 x 2 grid, Send stays beside the prompt box, and the keyboard hint
(phones have no keys) is hidden. Once a chat holds a message it takes at most 60% of the
screen's height, so an answer and the vote buttons fit on one screen. The Leaderboard tab keeps
its own rules (`LEADERBOARD_CSS`).

No rule depends on a script: `:has()` (Chromium 105+, Safari 15.4+, Firefox 121+) reads the
page's state from the DOM itself; an older browser shows the desktop layout, which still works
(it scrolls).
"""

from __future__ import annotations

import gradio as gr

from arena.web.ui.board_plots import LEADERBOARD_CSS

PHONE_MAX_PX = 640

# Gradio's default theme with the contrast WCAG 2 AA asks for (4.5:1 for text; axe-core's
# `color-contrast` rule): its orange-500 buttons and selected tab (#f97316: 2.8:1 against white)
# become orange-700 (#c2410c: 5.2:1), the red Stop button red-700 (#b91c1c: 6.5:1), disabled
# buttons' grey text darker.
ARENA_THEME = gr.themes.Default().set(
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_background_fill_dark="*primary_700",
    button_primary_background_fill_hover_dark="*primary_800",
    button_primary_text_color="white",
    button_primary_text_color_dark="white",
    button_cancel_background_fill="#b91c1c",
    button_cancel_background_fill_hover="#991b1b",
    button_cancel_background_fill_dark="#b91c1c",
    button_cancel_text_color="white",
    button_cancel_text_color_dark="white",
    color_accent="*primary_700",
    border_color_accent="*primary_700",
)

ARENA_CSS = """
.arena-names { min-height: 1.8em; text-align: center; }
.arena-status { min-height: 1.2em; }
#consent { padding: 0.5em 1em; }
footer { display: none !important; }
/* The chat's own Clear button would only blank this page's copy of a live battle. */
.arena-chat button[aria-label="Clear"] { display: none !important; }
/* Example prompts: offered only while the prompt box is empty, before the battle's first
   message (no server round trip, so no frame toggles the row while answers stream). */
.arena-examples { align-items: center; gap: 0.4em; }
.arena-examples .arena-examples-label { flex: 0 0 auto; width: auto; }
.arena-example { white-space: normal !important; text-align: left; }
.gradio-container:has(#prompt textarea:not(:placeholder-shown)) #examples,
.gradio-container:has(#named-prompt textarea:not(:placeholder-shown)) #named-examples,
.gradio-container:has(#chat-a .message-content) #examples,
.gradio-container:has(#named-chat-a .message-content) #named-examples {
  display: none !important;
}
/* Empty chats are short, so the prompt box is on the first screen beside the publication
   question; they grow to their full height with the first message. */
.arena-chat:not(:has(.message-content)) { height: 12em !important; }
/* The terms fold away at phone width only (the phone copy lives in an accordion). */
#consent-terms-phone { display: none !important; }
.arena-keys { font-size: 0.85em; }
/* Stop shows only while it can act (it is enabled exactly while the answers stream): CSS, so
   no frame re-lays out the prompt row while the answers arrive. */
#stop:disabled, #named-stop:disabled { display: none !important; }
.arena-after-vote { border-top: 1px solid var(--border-color-primary); padding-top: 0.5em; }
"""

PHONE_CSS = f"""
@media (max-width: {PHONE_MAX_PX}px) {{
  h1 {{ font-size: 1.5em !important; margin: 0.2em 0 !important; }}
  /* Every tab fits the bar (else Gradio folds Leaderboard and About into a "More tabs" menu). */
  .gradio-container {{ padding-left: 8px !important; padding-right: 8px !important; }}
  [role="tablist"] button, .tab-container button {{ padding: 0.3em 0.45em !important; }}
  #consent-terms {{ display: none !important; }}
  #consent-terms-phone {{ display: block !important; }}
  #consent {{ padding: 0.25em 0.5em; }}
  #consent-title h2 {{ font-size: 1.15em !important; margin: 0.2em 0 !important; }}
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
