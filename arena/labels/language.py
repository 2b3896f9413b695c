"""Which natural language a prompt is written in: py3langid, offline, model in the wheel.

Why py3langid: it ships its model (a naive Bayes classifier over byte n-grams, 97 languages,
ISO 639-1 codes) inside the wheel (4.6 MB with numpy its only dependency), classifies a prompt
in well under a millisecond, and is maintained (a fork of langid.py with a modern code base).
lingua-language-detector is more accurate on very short texts but its wheel with all 75
language models is about 160 MB (290 MB installed) and its high-accuracy mode holds hundreds
of megabytes of models in memory in every worker; fastText-based detectors download their
model at run time, which an offline arena cannot do. The measured accuracy on
tests/data/labels is in docs/categories.md.

Short texts are the weak spot of any n-gram model ("hola" alone scores as Zulu). Two rules
make them safer: a text with fewer than MIN_LETTERS letters gets no language (None), and a
text of fewer than SHORT_LETTERS letters whose best guess is not confident (probability
below CONFIDENT) is decided among COMMON languages only, the ones an arena mostly sees, and
gets no language when even the best of those is below PLAUSIBLE ("Hello?" ranks Breton first
and Italian as its best common language at 0.03: a wrong `lang:` label would put the battle
on another language's board, no label leaves it on the overall one).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from arena.labels.text import without_code

MIN_LETTERS = 4
SHORT_LETTERS = 40
CONFIDENT = 0.5
PLAUSIBLE = 0.05
COMMON = ("en", "zh", "ru", "es", "de", "fr", "ja", "pt", "it", "ko", "pl", "vi", "ar", "tr",
          "uk", "id", "nl", "fa", "hi", "he", "el", "th", "sv", "cs")  # fmt: skip
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@functools.cache
def _identifier() -> Any:
    """The classifier, loaded once per process (about 0.7 s: the model is decompressed)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the language `text` is written in, or None when it holds too
    few letters to tell (code, numbers and URLs are not read)."""
    prose = without_code(text)
    letters = len(_LETTER.findall(prose))
    if letters < MIN_LETTERS:
        return None
    identifier = _identifier()
    code, probability = identifier.classify(prose)
    if letters < SHORT_LETTERS and probability < CONFIDENT and code not in COMMON:
        ranked = identifier.rank(prose)
        code, probability = next(((c, p) for c, p in ranked if c in COMMON), (code, 0.0))
        if probability < PLAUSIBLE:
            return None
    return str(code)
