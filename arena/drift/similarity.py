"""How alike a re-generated answer is to the logged one: a number in [0, 1].

`text_similarity(a, b)` is difflib's ratio over whitespace-separated tokens::

    similarity = 2 * M / (len(tokens_a) + len(tokens_b))

where M is the number of tokens in the matching blocks `difflib.SequenceMatcher` finds
(Ratcliff/Obershelp: longest common contiguous run first, then recursively left and right of
it), with `autojunk=False` so frequent words are never ignored. 1.0 means the same token
sequence (two empty texts count as identical), 0.0 means no token in common. Whitespace
differences alone (an extra space or newline) keep 1.0: `exact match` is the strict check, this
score says *how far* a changed answer moved. Word tokens rather than characters, because a
character-level ratio rewards two unrelated English texts for sharing letters, and difflib's
character matching is quadratic on long answers.
"""

from __future__ import annotations

from difflib import SequenceMatcher


def text_similarity(logged: str, regenerated: str) -> float:
    """Token-level difflib ratio of two texts, in [0, 1] (see the module docstring)."""
    a, b = logged.split(), regenerated.split()
    if not a and not b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()
