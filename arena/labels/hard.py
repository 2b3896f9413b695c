"""The seven hard-prompt criteria, by heuristics (the LLM labeller, arena.labels.llm, judges
the same criteria with a model).

The criteria are Arena-Hard's (Li et al., 2024, "From Crowdsourced Data to High-Quality
Benchmarks: Arena-Hard and BenchBuilder Pipeline"); a prompt meeting at least HARD_MIN of the
seven is a hard prompt. What each heuristic looks for (cue lists below, mostly English with
the commonest words of a few other languages, matched case-insensitively):

    specificity          a precise task: a constraint (a number, a format, "exactly", "under
                         eight words", a named output), or code or math, in a prompt of at
                         least SPECIFIC_TOKENS tokens
    domain_knowledge     code, or math beyond arithmetic, or DOMAIN_TERMS words of a field
                         (medicine, law, finance, science, engineering, computing)
    complexity           several parts: at least COMPLEX_TOKENS tokens and several requests
                         (REQUEST_PARTS clauses joined by commas/"and"/lists/questions)
    problem_solving      asks to solve, fix, design, prove, compute, plan; code or math
    creativity           asks to write fiction or verse, invent, brainstorm, design something new
    technical_accuracy   code or math, or technical DOMAIN_TERMS: an answer can be wrong
    real_world           set in the rater's own situation or a practical setting (my team,
                         our company, production, customers, a budget, a deadline)

Heuristics read words, not meaning: they miss criteria a prompt meets in other words, and in
languages whose cue words are not listed. docs/categories.md gives their measured accuracy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CRITERIA = ("specificity", "domain_knowledge", "complexity", "problem_solving", "creativity",
            "technical_accuracy", "real_world")  # fmt: skip
HARD_MIN = 6
SPECIFIC_TOKENS = 8
COMPLEX_TOKENS = 40
REQUEST_PARTS = 3
DOMAIN_TERMS = 2


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)({pattern})(?!\w)", re.IGNORECASE | re.VERBOSE)


CONSTRAINT = _words(r"""
    \d+|exactly|at\s+most|at\s+least|under|no\s+more\s+than|each|must|only|in\s+json|
    as\s+a\s+table|table|list|bullet|steps?|step\s+by\s+step|closed\s+form|one-liner|
    format|outline|sections?|slogans?|return|returns|show\s+your|explain\s+(each|why)|
    genau|höchstens|mindestens|jede|schritt|exactement|chaque|étape|exactamente|cada|
    paso|каждый|шаг|必须|每|步骤|ずつ|必ず
""")
DOMAIN = _words(r"""
    clinical|patients?|hospital|diagnos\w*|symptoms?|vaccines?|immune|mrna|protein|dna|
    blood\s+pressure|heart\s+rate|oxygen|guidelines?|legal|law|contract|liability|gdpr|
    tax|finance|financial|investment|portfolio|interest\s+rate|inflation|accounting|
    physics|quantum|chemistry|molecule|reaction|thermodynamics|biology|genetics|
    statistic\w*|significance|regression|sample\s+size|a/b|machine\s+learning|neural|
    model|architecture|database|schema|postgresql|kafka|latency|throughput|isolation\s+level|
    concurrency|distributed|kubernetes|cryptograph\w*|algorithm|complexity|integer\s+linear|
    optimi[sz]ation|protocol|network|compiler|operating\s+system|
    architektur|vektorindex|signifikanzniveau|stichprobengröße|echtzeit|
    wars?|treaty|empire|revolution|economy|climate|
""")
SOLVE = _words(r"""
    solve|fix|debug|design|prove|compute|calculate|find|optimi[sz]e|plan|schedule|propose|
    implement|estimate|analy[sz]e|justify|validate|why\s+does|how\s+do\s+i|how\s+can\s+i|
    troubleshoot|minimi[sz]e|maximi[sz]e|
    löse|entwirf|berechne|schätze|schlage|finde|résous|calcule|conçois|resuelve|calcula|
    diseña|реши|найди|рассчитай|спроектируй|求|计算|設計|设计|解いて|計算
""")
CREATIVE = _words(r"""
    story|stories|poem|poems|poetry|song|lyrics|haiku|fiction|novel\s+(idea|plot)|
    slogans?|tagline|imagine|invent|brainstorm|come\s+up\s+with|creative|original|
    novel\s+(algorithm|approach|method|design)|new\s+ideas?|propose|design|
    geschichte|gedicht|erfinde|spannenden|histoire|poème|invente|historia|poema|
    inventa|рассказ|стихотворение|придумай|故事|诗|物語|詩|이야기|시를
""")
REAL_WORLD = _words(r"""
    my|our|we|i'm|i\s+am|team|company|startup|business|customers?|clients?|users|
    production|deploy\w*|budget|deadline|report|hospital|nurses|faculty|shop|store|
    home\s+directory|family|grandmother|wedding|
    wir|unser\w*|mein\w*|nous|notre|mon|ma|mes|nuestro|nuestra|mi|mis|наш\w*|мой|моя|
    我们|我的|私の|우리
""")
SEPARATORS = re.compile(r"[,;:?]|\band\b|\bund\b|\bet\b|\by\b|\bи\b|^[ \t]*+([-*]|\d+[.)])\s",
                        re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class PromptFacts:
    """What the criteria read besides the words: the prompt's size and its other labels."""

    text: str
    tokens: int
    code: bool
    math: bool
    advanced_math: bool = False  # beyond arithmetic (arena.labels.mathematics.math_kind)


def criteria_met(facts: PromptFacts) -> set[str]:
    """The criteria (names from CRITERIA) the prompt meets by these heuristics."""
    text = facts.text
    technical = facts.code or facts.math
    domain_hits = len({m.group(0).lower() for m in DOMAIN.finditer(text)})
    parts = len(SEPARATORS.findall(text)) + 1
    met = {
        "specificity": facts.tokens >= SPECIFIC_TOKENS
        and (technical or bool(CONSTRAINT.search(text))),
        "domain_knowledge": (facts.code and facts.tokens >= SPECIFIC_TOKENS)
        or (facts.advanced_math and facts.tokens >= SPECIFIC_TOKENS)
        or domain_hits >= DOMAIN_TERMS,
        "complexity": facts.tokens >= COMPLEX_TOKENS and parts >= REQUEST_PARTS,
        "problem_solving": technical or bool(SOLVE.search(text)),
        "creativity": bool(CREATIVE.search(text)),
        "technical_accuracy": technical or domain_hits >= DOMAIN_TERMS,
        "real_world": bool(REAL_WORLD.search(text)),
    }
    return {name for name, value in met.items() if value}
