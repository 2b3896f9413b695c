"""Shared pytest fixtures. Expensive services (Redis, vLLM, Chromium, Postgres) start once per
session in fixtures defined here or in tests/fixtures/."""

pytest_plugins = [
    "fixtures.arena_server",
    "fixtures.battle_service",
    "fixtures.browser",
    "fixtures.judge_endpoint",
    "fixtures.postgres",
    "fixtures.redis",
    "fixtures.replay_server",
    "fixtures.vllm",
]
