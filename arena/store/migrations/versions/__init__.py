"""One Alembic revision per file, in order: r0001 (the first schema), r0002, ..."""
