"""Text shown by the browser UI: plain text made safe for the page's Markdown components, and
the About page.

Prompts and answers are not Markdown sources for Gradio: the chat columns show HTML rendered on
the server by a CommonMark parser (`arena.web.ui.rendering`). The status lines and revealed names
are `gr.Markdown` components, which Gradio renders in the browser (marked + its sanitiser); the
text they carry (refusal messages that may quote a model name the client chose, model names) is
passed through `markdown_text`, which makes the Markdown source of a text shown exactly as
written.
"""

from __future__ import annotations

import string

# Every ASCII punctuation character may be backslash-escaped in CommonMark (spec 2.4), and an
# escaped one is always literal: no emphasis, link, code span, HTML tag, entity or autolink can
# start. Outside code (which cannot start here, since ` and ~ are escaped too) this holds for
# every parser that follows the spec, so no context needs to be guessed.
_ESCAPED = {ord(c): "\\" + c for c in string.punctuation}


def markdown_text(text: str) -> str:
    """Markdown that shows `text` literally: each ASCII punctuation character backslash-escaped,
    each line's leading whitespace dropped (four spaces would start an indented code block,
    inside which escapes show). Newlines stay line breaks of the same paragraph."""
    lines = [line.lstrip().translate(_ESCAPED) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)



ABOUT_MARKDOWN = """
## How the arena works

**Arena** (anonymous): type a prompt and two anonymous models answer side by side at the same
time. Ask follow-up questions if you like; both models keep their own conversation. Then vote:
*A is better*, *B is better*, *Tie* or *Both are bad*. The names of the two models appear only
after your vote is saved. **New round** starts a fresh battle with a newly drawn pair.

**Side by side** (named): pick both models yourself and compare them the same way. These battles
are logged as *named* and never count towards the leaderboard, because you knew who was who.

## What is logged

For every battle: both full conversations (system prompts included), for every answer the
served model, every sampling parameter sent and the seed, timings, token counts and how the
answer ended; which model was shown on the left and how the pair was drawn (with its
probability); your vote and its time. You are identified only by a salted hash of your browser
session: no IP address and no account.

A battle left without a vote (new round, closed tab, expired) is logged as *abandoned*, and a
battle where a model failed to answer is logged as *error*; neither can be voted.

## How the ratings are computed

The leaderboard fits a Bradley–Terry model to the anonymous votes: the probability that model
*i* beats model *j* is 1 / (1 + 10^((R_j − R_i)/400)), so a 100-point gap means the higher
model is preferred about 64% of the time. Ties count as half a win for each side. The 95%
confidence interval of each rating is shown, and the *rank (UB)* column gives the best rank a
model can claim: 1 + the number of models whose interval lies entirely above its own. The job
re-computes the board every few minutes or after a number of new votes, and publishes the
exact battles and options it used, so anyone can re-derive it.

## The rules

- One vote per battle, only after both answers have finished, only from the browser session
  that started the battle.
- If an answer names its own model or maker, the battle is flagged as an *identity leak*. Your
  vote is kept, but flagged battles are left out of the default leaderboard.
- Named (side by side) battles never count towards the default leaderboard.
- HTML or scripts in prompts and answers are shown as text and never run.
"""
