"""Example prompts for raters who do not know what to ask: a random few under the prompt box.

The prompts come from a text file, one per line (blank lines and lines starting with `#`
skipped): `[arena] example_prompts_file`, or `examples/prompts.txt` shipped with the arena when
that is empty. Each page load draws `EXAMPLES_SHOWN` of them at random (a load event, so every
visitor sees another few); a click copies the prompt into the box, where the rater may edit it
or send it with Enter. The row shows only while the prompt box is empty and the battle has no
message yet (CSS rules in `arena.web.ui.style`).

The file is the operator's: its lines are shown as button labels (plain text, never parsed as
Markdown or HTML). A prompt longer than the arena's `max_prompt_chars` is skipped, since sending
it would be refused; at most `MAX_PROMPTS` lines are read.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from arena.config import ArenaSettings

log = logging.getLogger(__name__)

DEFAULT_FILE = Path(__file__).resolve().parents[3] / "examples" / "prompts.txt"
EXAMPLES_SHOWN = 4
MAX_PROMPTS = 10_000
# A button shows at most this many characters of its prompt (the whole prompt fills the box).
LABEL_CHARS = 90


def load_prompts(path: str | Path, *, max_chars: int) -> list[str]:
    """The example prompts of `path` (one per line; `#` comments and blank lines skipped),
    without those over `max_chars` characters. Raises FileNotFoundError naming the path."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"example prompts file {path} not found: set [arena] "
                                "example_prompts_file to a text file with one prompt per line")
    prompts: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            prompt = line.strip()
            if prompt and not prompt.startswith("#") and len(prompt) <= max_chars:
                prompts.append(prompt)
                if len(prompts) >= MAX_PROMPTS:
                    break
    return prompts


def configured_prompts(settings: ArenaSettings) -> list[str]:
    """The arena's example prompts: its configured file, else the shipped one (none if the
    shipped file is missing, e.g. in an installed wheel without `examples/`)."""
    configured = settings.example_prompts_file
    max_chars = settings.max_prompt_chars
    if configured:
        return load_prompts(configured, max_chars=max_chars)
    try:
        return load_prompts(DEFAULT_FILE, max_chars=max_chars)
    except FileNotFoundError:
        log.warning("no example prompts: %s is missing", DEFAULT_FILE)
        return []


def label_of(prompt: str) -> str:
    """A button's label: the prompt, cut at LABEL_CHARS with an ellipsis."""
    return prompt if len(prompt) <= LABEL_CHARS else prompt[: LABEL_CHARS - 1].rstrip() + "…"


class ExampleRow:
    """A row of example prompt buttons that fill `prompt` when clicked (element ids
    `<prefix>examples`, `<prefix>example-0` ...)."""

    def __init__(self, prompts: list[str], *, prefix: str, rng: random.Random | None = None):
        self.prompts = prompts
        self.prefix = prefix
        self.rng = rng or random.Random()
        self.row: gr.Row | None = None
        self.buttons: list[gr.Button] = []

    def build(self, prompt: gr.Textbox, private_event: dict[str, Any]) -> None:
        """The row (hidden when there are no prompts) and its click events."""
        shown = min(EXAMPLES_SHOWN, len(self.prompts))
        # Labelled from the start (a button without a name fails accessibility checks); the
        # page-load event draws another few for each visitor.
        initial = self.rng.sample(self.prompts, shown)
        self.chosen = gr.State(initial)
        with gr.Row(elem_id=f"{self.prefix}examples", elem_classes=["arena-examples"],
                    visible=shown > 0) as self.row:
            gr.Markdown("Need an idea? Try:", elem_classes=["arena-examples-label"])
            self.buttons = [
                gr.Button(label_of(initial[i]), size="sm", elem_id=f"{self.prefix}example-{i}",
                          elem_classes=["arena-example"], min_width=120)
                for i in range(shown)
            ]
        for index, button in enumerate(self.buttons):
            button.click(self.filler(index), inputs=[self.chosen], outputs=[prompt],
                         **private_event)

    def pick(self) -> list[str]:
        """A fresh random few prompts (the page-load event's draw)."""
        return self.rng.sample(self.prompts, len(self.buttons))

    def load_outputs(self) -> list[Any]:
        return [self.chosen, *self.buttons]

    def on_load(self) -> Callable[[], list[Any]]:
        """The page-load handler: draw the prompts and label the buttons."""

        def draw_examples() -> list[Any]:
            chosen = self.pick()
            return [chosen, *(gr.update(value=label_of(p)) for p in chosen)]

        return draw_examples

    @staticmethod
    def filler(index: int) -> Callable[[list[str]], Any]:
        def fill_example(chosen: list[str]) -> Any:
            # Before the draw arrived (a click in the first instant) there is nothing to fill.
            return chosen[index] if index < len(chosen) else gr.update()

        fill_example.__name__ = f"fill_example_{index}"
        return fill_example
