"""Text shown by the browser UI: how user and model text is made safe for Markdown, and the
About page.

Gradio renders chat messages as Markdown (marked) and then sanitises the HTML (DOMPurify).
Sanitising *removes* tags: a prompt `<b>hi</b>` would come out bold and `<script>...</script>`
would vanish, so the rater would not see what was actually sent or generated. The arena wants
HTML shown as text, so `markdown_literal` escapes `&` and `<` everywhere Markdown would
otherwise pass raw HTML through, while leaving fenced code blocks and inline code spans alone
(marked escapes their content itself, and an entity there would show up literally).
DOMPurify stays on as a second line of defence.
"""

from __future__ import annotations

import re

# An opening code fence: up to 3 spaces, then 3+ backticks or 3+ tildes (CommonMark 4.5).
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# An inline code span: a run of n backticks, content, and a run of exactly n backticks.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _escape_outside_spans(text: str) -> str:
    parts: list[str] = []
    position = 0
    for span in _CODE_SPAN.finditer(text):
        parts.append(_escape_html(text[position : span.start()]))
        parts.append(span.group(0))
        position = span.end()
    parts.append(_escape_html(text[position:]))
    return "".join(parts)


def markdown_literal(text: str) -> str:
    """Markdown that renders `text` with any HTML in it shown as text, never as markup.

    Markdown syntax (emphasis, lists, tables, links, code) still renders. Inside fenced code
    blocks and inline code spans nothing is changed. An unclosed fence (a reply still streaming)
    counts as code to the end of the text, as Markdown itself treats it.
    """
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None  # the fence characters of the open code block, if any
    for line in text.splitlines(keepends=True):
        if fence is None:
            opening = _FENCE_OPEN.match(line)
            if opening:
                out.append(_escape_outside_spans("".join(prose)))
                prose = []
                fence = opening.group(1)
                out.append(line)
            else:
                prose.append(line)
            continue
        out.append(line)
        stripped = line.strip()
        if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
            fence = None
    out.append(_escape_outside_spans("".join(prose)))
    return "".join(out)


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
