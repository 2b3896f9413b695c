"""`arena version`: print the package and schema versions."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print the arena version and the battle-log schema version."""
        from arena.record import SCHEMA_VERSION, app_version

        typer.echo(f"arena {app_version()} (battle-log schema {SCHEMA_VERSION})")
