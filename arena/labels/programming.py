"""Does a prompt ask for code or contain code?

Three signals, any one is enough:
1. a fenced block (``` or ~~~): Markdown's way of writing code;
2. CODE_LINES or more lines that look like code (CODE_LINE: a statement ending in ; { or },
   a keyword that opens a definition or an import, a preprocessor line, a shell prompt, an
   assignment with brackets or a call ...), as pasted code without fences has;
3. a programming word (a language, a library, or a coding term such as "function", "regex",
   "stack trace", "compile") in English or in one of the other languages listed in
   PROGRAMMING_WORDS, matched as a whole word. Words that are also common prose ("code" in
   "dress code", "function" of a variable in calculus, "class" at school, "algorithm" of a
   schedule) are not enough on their own: they count only next to a request to write, fix or
   explain something (CODE_REQUEST).

Whole words: not inside a longer word of a space-separated script; next to Chinese, Japanese
or Korean characters a word still counts ("用Java写"), since those scripts use no spaces.
"""

from __future__ import annotations

import re

from arena.labels.text import FENCED

# Word edges: no letter or digit of a space-separated script on either side.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
BEFORE = rf"(?<![^\W{_CJK}])"
AFTER = rf"(?![^\W{_CJK}])"

CODE_LINES = 2
# Longer lines are not read as code lines: it bounds the regex's work per line (two `.*` in
# one pattern are quadratic in the line's length), and real code lines are shorter.
MAX_CODE_LINE = 300
CODE_LINE = re.compile(
    r"""^[ \t]*+(
        (def|class|import|from\s+\S+\s+import|function|fn|func|let|const|var|public|private|
         static|return|package|using|struct|impl|enum|interface|SELECT|INSERT|UPDATE|CREATE|
         DELETE|for\s*\(|while\s*\(|if\s*\(|elif|else\s*[:{]|try\s*[:{]|catch|\#include|
         \#define|\$\s|>>>\s)\b.*
      | .*[;{}]\s*$
      | .*\b\w+\s*\(.*\)\s*(->.*)?:\s*$
      | [\w.\[\]]+\s*(=|\+=|:=|==)\s*[\w\[\]{}("'].*[)\]};]\s*$
    )""",
    re.VERBOSE,
)
# Unambiguous: naming one of these is talking about programming.
PROGRAMMING_WORDS = re.compile(
    BEFORE + r"""(
        python|javascript|typescript|java|c\+\+|c\#|rust|golang|kotlin|swift|ruby|php|perl|
        haskell|scala|elixir|clojure|lua|matlab|julia|fortran|cobol|bash|powershell|sql|
        postgresql|mysql|sqlite|html|css|react|vue|angular|django|flask|fastapi|node\.?js|
        numpy|pandas|pytorch|tensorflow|kubernetes|docker|dockerfile|terraform|graphql|json|
        yaml|regex|regexp|api|sdk|goroutines?|async|await|compiler|debug|debugger|
        stack\s?trace|traceback|segfault|segmentation\s+fault|null\s?pointer|
        borrow\s+checker|git|github|one-liner|recursion|linked\s+list|hash\s?map|
        unit\s+tests?|code\s+snippet|source\s+code|
        código|programmieren|код|коде|кода|программу|программа|программирован\w*|
        代码|代碼|编程|脚本|コード|プログラム|スクリプト|코드|프로그램|스크립트|كود|برمجة
    )""" + AFTER,
    re.VERBOSE | re.IGNORECASE,
)
# Words that mean code only when the prompt also asks for something to be built or fixed.
AMBIGUOUS_WORDS = re.compile(
    BEFORE + r"(code|program|programs|bug|query|loop|variable|syntax|page|script|function|"
    r"functions|method|class|algorithm|array|compile|cli|funktion|fonction|funzione|função|"
    r"función|funcion|skript|функци\w*|скрипт|函数|函數|程序|算法|関数|함수)" + AFTER,
    re.IGNORECASE,
)
CODE_REQUEST = re.compile(
    BEFORE + r"(write|implement|fix|debug|refactor|optimi[sz]e|make\s+me|generate|convert|"
    r"port|explain\s+this|what\s+does\s+this|why\s+does\s+this|schreibe|schreib|"
    r"implementiere|écris|écrire|implémente|escribe|implementa|scrivi|escreva|напиши|"
    r"написать|реализуй|写|寫|実装|書いて|작성|구현)" + AFTER,
    re.IGNORECASE,
)


def looks_like_code(line: str) -> bool:
    """True for one line (no newline) that looks like a line of code (CODE_LINE)."""
    return len(line) <= MAX_CODE_LINE and CODE_LINE.match(line) is not None


def without_code_lines(text: str) -> str:
    """`text` without the lines that look like code (pasted code has no fences)."""
    return "\n".join(line for line in text.split("\n") if not looks_like_code(line))


def is_code(text: str) -> bool:
    """True when `text` (one prompt or several joined) asks for or contains code."""
    if FENCED.search(text):
        return True
    if sum(looks_like_code(line) for line in text.split("\n")) >= CODE_LINES:
        return True
    if PROGRAMMING_WORDS.search(text):
        return True
    return bool(AMBIGUOUS_WORDS.search(text) and CODE_REQUEST.search(text))
