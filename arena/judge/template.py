"""Judge prompt templates: versioned TOML files, hashed, rendered into chat messages.

A template is a file (the built-in ones live in `arena/judge/templates/`, named
`<name>.toml`; any other path works too). Its identity is the SHA-256 of the file's bytes,
recorded with every verdict as `judge.template_hash` ("sha256:<hex>"), so two verdicts were
asked the same question exactly when their hashes are equal, whatever the file was called.

Rendering (`JudgeTemplate.messages`): each side's conversation without its system prompt
(the operator's per-model instructions are not what the rater judged, and they may name the
model) becomes a run of `user_message` / `assistant_message` blocks joined by `separator`;
every message keeps its first `max_message_chars` characters (then `truncation_marker`), so
a very long answer cannot push the judge's prompt past its context. The side shown first is
labelled `labels[0]` ("A"), the other `labels[1]` ("B"). Placeholders (`{name}`) are filled
in one pass with a regular expression, so text inserted (a prompt that contains "{second}")
is never read for placeholders again.

The judge must answer one of `choices`; vLLM's structured output (`structured_outputs`:
`{"choice": choices}`) constrains its decoding to them, so every answer parses.
`winners` maps each choice to FastChat's words relative to the order shown.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena.record import WINNERS

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = "pairwise-v1"
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_KEYS = {"description": str, "labels": list, "choices": list, "winners": dict,
         "max_message_chars": int, "truncation_marker": str, "max_tokens": int,
         "system": str, "user": str, "user_message": str, "assistant_message": str,
         "separator": str}


class TemplateError(ValueError):
    """A judge template cannot be used; the message names the file and what to fix."""


def builtin_templates() -> list[str]:
    """The names of the templates shipped in arena/judge/templates/."""
    return sorted(path.stem for path in TEMPLATES_DIR.glob("*.toml"))


def template_path(name_or_path: str) -> Path:
    """The file of a built-in template name ("pairwise-v1"), or `name_or_path` as a path."""
    if not name_or_path:
        name_or_path = DEFAULT_TEMPLATE
    builtin = TEMPLATES_DIR / f"{name_or_path}.toml"
    if "/" not in name_or_path and not name_or_path.endswith(".toml") and builtin.is_file():
        return builtin
    path = Path(name_or_path)
    if not path.is_file():
        raise TemplateError(
            f"judge template {name_or_path!r}: no such file and not a built-in template "
            f"(built-in: {', '.join(builtin_templates())})")
    return path


@dataclass(frozen=True)
class JudgeTemplate:
    """A parsed template (see the module docstring); `name` is the file's stem."""

    name: str
    sha256: str
    description: str
    labels: tuple[str, str]
    choices: tuple[str, ...]
    winners: dict[str, str]
    max_message_chars: int
    truncation_marker: str
    max_tokens: int
    system: str
    user: str
    user_message: str
    assistant_message: str
    separator: str

    @property
    def hash(self) -> str:
        """"sha256:<hex>" of the template file's bytes (the verdicts' `template_hash`)."""
        return f"sha256:{self.sha256}"

    @property
    def structured_outputs(self) -> dict[str, Any]:
        """The request's `structured_outputs`: only these choices can be decoded."""
        return {"choice": list(self.choices)}

    def messages(self, first: list[dict[str, Any]], second: list[dict[str, Any]]
                 ) -> list[dict[str, str]]:
        """The chat messages asking the judge about `first` (shown as A) and `second`."""
        user = fill(self.user, {"first": self.conversation(first, self.labels[0]),
                                "second": self.conversation(second, self.labels[1])})
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def conversation(self, messages: list[dict[str, Any]], label: str) -> str:
        """One side's conversation as the judge reads it (system messages left out)."""
        blocks = []
        for message in messages:
            role, content = message.get("role"), str(message.get("content") or "")
            if len(content) > self.max_message_chars:
                content = content[:self.max_message_chars] + self.truncation_marker
            if role == "user":
                blocks.append(fill(self.user_message, {"content": content, "label": label}))
            elif role == "assistant":
                blocks.append(fill(self.assistant_message, {"content": content,
                                                            "label": label}))
        return self.separator.join(blocks)

    def winner(self, output: str) -> str | None:
        """The FastChat winner of the judge's answer `output`, or None if it is no choice."""
        return self.winners.get(output.strip())


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with each `{name}` of `values` replaced, in one pass (others left as they are)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def load_template(name_or_path: str = DEFAULT_TEMPLATE) -> JudgeTemplate:
    """Read and check a template (a built-in name or a path). Raises TemplateError."""
    path = template_path(name_or_path)
    data = path.read_bytes()
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as bad:
        raise TemplateError(f"{path}: not valid UTF-8 TOML: {bad}") from None
    _check(path, table)
    return JudgeTemplate(
        name=path.stem, sha256=hashlib.sha256(data).hexdigest(),
        description=table["description"], labels=(table["labels"][0], table["labels"][1]),
        choices=tuple(table["choices"]), winners=dict(table["winners"]),
        max_message_chars=table["max_message_chars"],
        truncation_marker=table["truncation_marker"], max_tokens=table["max_tokens"],
        system=table["system"], user=table["user"], user_message=table["user_message"],
        assistant_message=table["assistant_message"], separator=table["separator"])


def _check(path: Path, table: dict[str, Any]) -> None:
    """Raise TemplateError naming the key unless `table` is a usable template."""
    for key, kind in _KEYS.items():
        if not isinstance(table.get(key), kind):
            raise TemplateError(f"{path}: `{key}` is missing or not a {kind.__name__}")
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise TemplateError(f"{path}: unknown key(s) {', '.join(unknown)}")
    choices = table["choices"]
    if len(choices) < 2 or len(set(choices)) != len(choices) or not all(
            isinstance(choice, str) and choice.strip() == choice and choice
            for choice in choices):
        raise TemplateError(f"{path}: `choices` must be two or more distinct, non-empty, "
                            "unpadded strings")
    if set(table["winners"]) != set(choices):
        raise TemplateError(f"{path}: `winners` must map exactly the choices "
                            f"({', '.join(choices)})")
    bad = [w for w in table["winners"].values() if w not in WINNERS]
    if bad:
        raise TemplateError(f"{path}: `winners` values must be FastChat's words "
                            f"({', '.join(WINNERS)}), not {bad[0]!r}")
    if len(table["labels"]) != 2:
        raise TemplateError(f"{path}: `labels` must name the two sides, e.g. [\"A\", \"B\"]")
    for placeholder in ("{first}", "{second}"):
        if placeholder not in table["user"]:
            raise TemplateError(f"{path}: `user` must contain {placeholder}")
    if table["max_message_chars"] < 1 or table["max_tokens"] < 1:
        raise TemplateError(f"{path}: `max_message_chars` and `max_tokens` must be positive")
