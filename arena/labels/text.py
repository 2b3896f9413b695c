"""The text a labeller reads: the rater's prompts, and views of them with code set aside.

Only the user's prompts are labelled, never the models' answers: a category says what the
rater asked, and labelling the answers would let one model's reply move a battle between
categories. System prompts are the operator's, not the rater's, and are left out too.
"""

from __future__ import annotations

import re

from arena.record import BattleRecord

# A fenced block (``` or ~~~, any info string) up to its closing fence or the end of the text.
FENCED = re.compile(r"(```|~~~)[^\n]*\n?.*?(?:\1|\Z)", re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]+`")
URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
# Scripts that do not separate words by spaces: every character counts as a token.
_UNSPACED = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u0e00-\u0e7f]"
)
_WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)


def prompts_of(record: BattleRecord) -> list[str]:
    """The rater's prompts in order: the turns' prompts, or the user messages of the left
    conversation for a record without turns (an import that kept only conversations)."""
    if record.turns:
        return [turn.prompt for turn in record.turns]
    return [str(m.get("content") or "") for m in record.conversation_a if m.get("role") == "user"]


def without_code(text: str) -> str:
    """`text` with fenced blocks, inline code spans and URLs blanked out, for the readers
    that look at the natural language only (language identification, math words)."""
    text = FENCED.sub(" ", text)
    text = INLINE_CODE.sub(" ", text)
    return URL.sub(" ", text)


def token_estimate(text: str) -> int:
    """A tokenizer-free count of tokens: one per word or number in space-separated scripts,
    one per character in Chinese, Japanese, Korean and Thai, one per other non-space symbol.

    Close to a BPE tokenizer's count for English prose (within about 30 %), and the same for
    every model, which no real tokenizer is.
    """
    unspaced = len(_UNSPACED.findall(text))
    rest = _UNSPACED.sub(" ", text)
    words = len(_WORD.findall(rest))
    symbols = len(re.findall(r"[^\w\s]", rest))
    return unspaced + words + symbols
