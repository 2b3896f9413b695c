"""Does a prompt ask a mathematical question?

Any one of these, read in the prompt with code set aside (arena.labels.text.without_code,
so that `i + 1` in a loop is not arithmetic):
1. LaTeX math: $...$ with a backslash command, ^ or _ inside, \\(...\\), \\[...\\], or a
   command such as \\frac, \\int, \\sum;
2. an equation or arithmetic: two numbers or a number and a variable joined by an operator
   (+ - * / × ÷ ^ =), e.g. "17 * 23", "3x^2 - 12x + 9 = 0", "f(x) = x^3";
3. a mathematical word (MATH_WORDS: solve, equation, integral, derivative, probability,
   prove, theorem, matrix, ... in English and some other languages).
Lines that look like code are set aside as well (arena.labels.programming). An expression
must hold a digit or an "=" ("A/B test" and "w/o" are not math), and ranges, dates and times
("3-4 people", "2026-03-12", "12/03/2026", "10:30") are removed before looking.
"""

from __future__ import annotations

import re

from arena.labels.programming import without_code_lines
from arena.labels.text import without_code

NOT_ARITHMETIC = re.compile(r"\b\d+([-/.:])\d+(\1\d+)?\b")

LATEX = re.compile(
    r"\$[^$\n]*(\\[a-zA-Z]+|\^|_)[^$\n]*\$|\\\(|\\\[|\\(frac|int|sum|prod|sqrt|lim|binom|"
    r"mathbb|cdot|times|leq|geq|infty|partial)\b"
)
_TERM = r"(\d+(\.\d+)?|[a-zA-Z]\b|[a-zA-Z]\^\d+|\d+[a-zA-Z]\b|\d+[a-zA-Z]\^\d+|\)|[a-z]\([a-z]\))"
EXPRESSION = re.compile(rf"{_TERM}\s*+[-+*/×÷^=]\s*+{_TERM}")
MATH_WORDS = re.compile(
    r"""(?<!\w)(
        solve|equations?|integral|integrate|derivative|differentiate|probability|
        probabilities|prove|proof|theorem|lemma|matrix|matrices|eigen\w*|polynomial|
        logarithm|factorial|prime\s+numbers?|irrational|closed\s+form|quadratic|calculus|
        algebra|geometry|trigonometry|hypotenuse|arithmetic|percentage\s+of|sum\s+of|
        integer\s+linear\s+program|linear\s+program\w*|
        gleichung|wahrscheinlichkeit|ableitung|integral\w*|beweise|
        équation|résous|résoudre|dérivée|probabilité|démontrer|
        ecuación|ecuacion|resuelve|derivada|probabilidad|demuestra|
        equazione|derivata|probabilità|
        уравнени\w*|производн\w*|интеграл\w*|вероятност\w*|докаж\w*|
        方程|积分|積分|导数|導數|概率|极值|極值|证明|数学|数學|微分|確率|方程式|
        방정식|적분|미분|확률|معادلة|تكامل|समीकरण
    )(?!\w)""",
    re.VERBOSE | re.IGNORECASE,
)
# Inside CJK text there are no word boundaries: match these anywhere.
CJK_MATH = re.compile(r"方程|积分|積分|导数|導數|概率|极值|極值|证明|数学|數學|微分|確率|求解")


def math_kind(text: str) -> str | None:
    """"advanced" (LaTeX, a mathematical word, or an expression with a variable),
    "arithmetic" (numbers and operators only) or None (no math) for `text`."""
    prose = without_code_lines(without_code(text))
    if LATEX.search(prose) or MATH_WORDS.search(prose) or CJK_MATH.search(prose):
        return "advanced"
    plain = NOT_ARITHMETIC.sub(" ", prose)
    expressions = [m.group(0) for m in EXPRESSION.finditer(plain)
                   if re.search(r"[\d=]", m.group(0))]
    if any(re.search(r"[a-zA-Z]", expression) for expression in expressions):
        return "advanced"
    return "arithmetic" if expressions else None


def is_math(text: str) -> bool:
    """True when `text` (one prompt or several joined) asks a mathematical question."""
    return math_kind(text) is not None
