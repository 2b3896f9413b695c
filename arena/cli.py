"""The `arena` command line: one Typer app; each command family lives in its own module.

Each module in COMMAND_MODULES exposes `register(app)`. Heavy imports (pandas, gradio, vLLM
clients) stay inside the command functions so that `arena --help` is fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="arena",
    help="A self-hostable pairwise human-preference arena for LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """Run battles, log votes, and re-derive leaderboards from the log."""


COMMAND_MODULES: list[str] = [
    "arena.commands.version",
    "arena.commands.models",
    "arena.commands.log",
    "arena.commands.ratings",
    "arena.commands.serve",
    "arena.commands.drift",
    "arena.commands.label",
    "arena.commands.judge",
]

for _module_name in COMMAND_MODULES:
    importlib.import_module(_module_name).register(app)


def main() -> None:
    """Console-script entry point."""
    app()
