"""Keyboard shortcuts of the battle screens: a script served by the arena's own host.

Keys (shown on the page, `KEYS_HINT`): **A** / **B** vote for that side, **T** tie, **X** both
are bad, **N** new round (Next battle in a re-vote arena); Enter sends the prompt (the prompt
box's own submit) and Shift+Enter starts a new line. A key acts on the visible tab's button, and
only when that button is enabled, so a shortcut can do nothing a click could not.

A shortcut never fires while the rater types: a key pressed in a text field (the prompt box,
the reason comment, a model picker), with a modifier (Ctrl, Alt, Meta), or held down
(auto-repeat) is left alone. The script also marks each button with `aria-keyshortcuts`, so
screen readers announce the key.

Why a separate file: the page's Content-Security-Policy runs scripts only from this host (and
inline ones with the page's nonce); Gradio adds the `head` tag below when the page loads, so the
script comes from `KEYS_PATH` on the arena itself (`mount_ui` adds the route).
"""

from __future__ import annotations

import json

from fastapi.responses import Response

KEYS_PATH = "/ui/keys.js"
KEYS_HEAD = f'<script src="{KEYS_PATH}" defer></script>'
# key -> the buttons it presses, first visible and enabled one wins (Arena tab, Side by side).
SHORTCUTS = {
    "a": ("vote-a", "named-vote-a"),
    "b": ("vote-b", "named-vote-b"),
    "t": ("vote-tie", "named-vote-tie"),
    "x": ("vote-bothbad", "named-vote-bothbad"),
    "n": ("new-round", "named-new-round", "next-battle"),
}
KEYS_HINT = ("Keyboard: **A** or **B** votes for that side, **T** tie, **X** both are bad, "
             "**N** new round; **Enter** sends, **Shift+Enter** starts a new line.")

_SCRIPT = """// Keyboard shortcuts of the arena (arena/web/ui/keys.py).
(() => {
  "use strict";
  const SHORTCUTS = %(shortcuts)s;
  const typing = (el) => !!(el && el.closest &&
    el.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']"));
  const usable = (el) => !!(el && !el.disabled && el.offsetParent !== null);
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.repeat || event.ctrlKey || event.altKey ||
        event.metaKey || typing(event.target)) {
      return;
    }
    const ids = SHORTCUTS[(event.key || "").toLowerCase()];
    if (!ids) {
      return;
    }
    const button = ids.map((id) => document.getElementById(id)).find(usable);
    if (button) {
      event.preventDefault();
      button.click();
    }
  });
  // aria-keyshortcuts on each button, as Gradio renders (and re-renders) them.
  const mark = () => {
    for (const [key, ids] of Object.entries(SHORTCUTS)) {
      for (const id of ids) {
        const button = document.getElementById(id);
        if (button && button.getAttribute("aria-keyshortcuts") !== key.toUpperCase()) {
          button.setAttribute("aria-keyshortcuts", key.toUpperCase());
        }
      }
    }
  };
  new MutationObserver(mark).observe(document.documentElement, {childList: true, subtree: true});
  mark();
})();
"""


def keys_script_text() -> str:
    """The script's source, with SHORTCUTS as its table."""
    shortcuts = {key: list(ids) for key, ids in SHORTCUTS.items()}
    return _SCRIPT % {"shortcuts": json.dumps(shortcuts)}


async def keys_script() -> Response:
    """GET /ui/keys.js: the shortcut script (cacheable for an hour)."""
    return Response(keys_script_text(), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=3600"})
