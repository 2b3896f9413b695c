"""The rater's optional reason for a vote: a few tags the operator configured
(`[arena] reason_tags`) and a short comment (`[arena] reason_comment_chars`), given after the
vote and stored on it (`BattleRecord.reason_tags`, `reason_comment`; exported with it).

Every check here refuses with a message that says what to send instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from arena.battles.checks import MAX_NAME_CHARS, InvalidField, check_text, preview
from arena.errors import BadInput

NO_REASON = "send at least one tag or a comment (or nothing at all: a reason is optional)"


def check_reason(tags: object, comment: object, *, allowed: Collection[str],
                 max_comment_chars: int) -> tuple[list[str], str | None]:
    """(sorted unique tags, comment or None) if `tags` is a list of `allowed` tags and
    `comment` None or text of at most `max_comment_chars` characters (surrounding blanks
    dropped; blank means none). InvalidField (422) for an unknown tag, a too long comment or
    control characters; BadInput (400) when neither a tag nor a comment is given."""
    if tags is None:
        tags = []
    if not isinstance(tags, Sequence) or isinstance(tags, str):
        raise InvalidField(f"tags must be a list of tags, got {type(tags).__name__}")
    chosen = set()
    for tag in tags:
        text = check_text(tag, "tags", max_chars=MAX_NAME_CHARS, one_line=True)
        if text not in allowed:
            offered = ", ".join(map(repr, allowed)) if allowed else "none: leave tags empty"
            raise InvalidField(f"tag {preview(text)} is not offered; choose among {offered}")
        chosen.add(text)
    if comment is not None:
        comment = check_text(comment, "comment", max_chars=max_comment_chars).strip() or None
    if not chosen and comment is None:
        raise BadInput(NO_REASON)
    return sorted(chosen), comment
