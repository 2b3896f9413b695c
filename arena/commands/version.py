"""`arena version`: print the package and schema versions."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print the arena version, the battle record format and the battle-log schema."""
        from arena.record import SCHEMA_VERSION, app_version
        from arena.store import STORE_SCHEMA_VERSION

        # Two numbers: the JSONL record format (exports, imports) and the SQL tables' layout
        # (the one SchemaTooNew names when a database is newer than this arena).
        typer.echo(f"arena {app_version()} (battle record format {SCHEMA_VERSION}, "
                   f"battle-log schema {STORE_SCHEMA_VERSION})")
