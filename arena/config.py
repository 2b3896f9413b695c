"""Arena-wide settings from the TOML config file (`[arena]` table).

Model definitions (`[[models]]`, sampling defaults) are parsed by `serving.config`; this module
holds what the arena itself needs: where the vote log lives, where data goes, which Redis to use.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

DEFAULT_DB_URL = "sqlite:///./data/arena.db"


class ConfigError(ValueError):
    """The config file is missing or wrong; the message names the file, key and reason."""


def read_toml(path: Path) -> dict:
    """Parse a TOML file, turning every failure into a ConfigError that names the file."""
    if not path.exists():
        raise ConfigError(f"{path}: config file not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as bad:
        raise ConfigError(f"{path}: not valid TOML: {bad}") from None


def resolve_db_url(db: str | None, config: Path | None) -> str:
    """The database URL: `--db` wins, then `[arena].db_url` of `--config`, then the default."""
    if db:
        return db
    if config is not None:
        arena = read_toml(config).get("arena", {})
        if not isinstance(arena, dict):
            raise ConfigError(f"{config}: [arena] must be a table")
        url = arena.get("db_url")
        if url is not None:
            if not isinstance(url, str) or not url:
                raise ConfigError(f"{config}: arena.db_url must be a non-empty string")
            return url
    return DEFAULT_DB_URL
