"""The browser UI's pieces that need no browser: example prompts, the rater words of refusals,
the share line, the shortcut script and the page's options."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from arena.config import ArenaSettings
from arena.errors import BadInput, RateLimited, Unavailable
from arena.web.ui.after_vote import share_markdown
from arena.web.ui.examples import (
    DEFAULT_FILE,
    LABEL_CHARS,
    configured_prompts,
    label_of,
    load_prompts,
)
from arena.web.ui.keys import SHORTCUTS, keys_script_text
from arena.web.ui.page import MOUNT_OPTIONS
from arena.web.ui.states import (
    BUSY_HEADLINE,
    FAILED_HEADLINE,
    LIMIT_HEADLINE,
    failure_text,
    refusal_text,
)


def test_the_shipped_example_prompts_are_many_varied_and_sendable() -> None:
    prompts = load_prompts(DEFAULT_FILE, max_chars=ArenaSettings().max_prompt_chars)
    assert len(prompts) >= 40
    assert len(set(prompts)) == len(prompts)
    assert not any(p.startswith("#") for p in prompts)
    # Several languages: prompts with non-Latin scripts and accented Latin ones.
    assert sum(any(ord(c) > 0x2E80 for c in p) for p in prompts) >= 2  # CJK
    assert sum(any("\u0400" <= c <= "\u04ff" for c in p) for p in prompts) >= 1  # Cyrillic
    assert sum(any(c in "éèàñçãü" for c in p) for p in prompts) >= 3
    words = " ".join(prompts).lower()
    for topic in ("python", "sql", "integral", "prove", "haiku", "email"):
        assert topic in words, topic


def test_example_prompts_skip_comments_blank_lines_and_prompts_too_long_to_send(
        tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text("# a comment\n\n  first prompt  \n" + "x" * 50 + "\nsecond\n",
                    encoding="utf-8")
    assert load_prompts(path, max_chars=20) == ["first prompt", "second"]
    settings = replace(ArenaSettings(), example_prompts_file=str(path), max_prompt_chars=20)
    assert configured_prompts(settings) == ["first prompt", "second"]


def test_a_configured_example_file_that_is_missing_is_an_error_naming_it(tmp_path: Path) -> None:
    settings = replace(ArenaSettings(), example_prompts_file=str(tmp_path / "nope.txt"))
    with pytest.raises(FileNotFoundError, match="nope.txt.*example_prompts_file"):
        configured_prompts(settings)


def test_a_long_example_is_cut_on_its_button_only() -> None:
    long = "word " * 100
    assert len(label_of(long)) == LABEL_CHARS and label_of(long).endswith("…")
    assert label_of("short") == "short"


@pytest.mark.parametrize(("refusal", "headline"), [
    (RateLimited("too many new battles: the limit is 2 per minute; try again in 30 s"),
     LIMIT_HEADLINE),
    (Unavailable("the arena is at capacity: 4 answers are streaming; try again in 5 s"),
     BUSY_HEADLINE),
])
def test_limits_and_a_busy_arena_get_a_headline_the_facts_and_what_to_do(
        refusal, headline: str) -> None:
    text = refusal_text(refusal)
    assert text.startswith(f"**{headline}**")
    assert "try again in" in text.replace("\\", "")
    assert "stays" in text or "still here" in text  # the rater learns nothing is lost


def test_other_refusals_say_only_what_to_fix_shown_literally() -> None:
    assert refusal_text(BadInput("the *prompt* is <empty>")) == r"the \*prompt\* is \<empty\>"


def test_a_failed_battle_says_what_happened_and_what_to_do_whichever_side_failed() -> None:
    text = failure_text("One of the models failed to answer, so this battle cannot be voted.")
    assert text.startswith(f"**{FAILED_HEADLINE}**")
    assert "New round" in text and "stay on screen" in text
    assert failure_text("").endswith("with a new pair of models.")


def test_the_share_line_links_only_a_plain_path_on_this_host() -> None:
    line = share_markdown("/shared/abc.DEF-_9")
    assert "[/shared/abc.DEF-_9](/shared/abc.DEF-_9)" in line
    for bad in ("https://evil.example/x", "//evil.example/x", "/shared/a)[x](javascript:1",
                "/shared/a b", "shared/x"):
        with pytest.raises(ValueError):
            share_markdown(bad)


def test_the_shortcut_script_knows_every_key_and_leaves_typing_alone() -> None:
    script = keys_script_text()
    for key, ids in SHORTCUTS.items():
        assert f'"{key}"' in script and all(f'"{i}"' in script for i in ids)
    assert "textarea" in script and "input" in script  # keys typed in a text field never act
    assert "event.repeat" in script and "ctrlKey" in script
    assert "aria-keyshortcuts" in script


def test_the_page_options_carry_the_phone_layout_and_an_accessible_theme() -> None:
    css = MOUNT_OPTIONS["css"]
    assert "@media (max-width: 640px)" in css and "#consent-terms-phone" in css
    theme = MOUNT_OPTIONS["theme"]
    assert theme.button_primary_background_fill == "*primary_700"
