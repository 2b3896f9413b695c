"""Arena-wide settings from the TOML config file (`[arena]` table).

Model definitions (`[[models]]`, sampling defaults) are parsed by `serving.config`; this module
holds what the arena itself needs: where the vote log lives, where data goes, which Redis to use.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from serving.credentials import MASK, redact_url

DEFAULT_DB_URL = "sqlite:///./data/arena.db"
# Settings that may hold a password (in the URL) or are a secret themselves.
SECRET_URL_KEYS = frozenset({"db_url", "redis_url"})
SECRET_KEYS = frozenset({"rater_salt"})


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
    """The database URL: `--db` wins, then the `[arena]` table of `--config`, then the default."""
    if db:
        return db
    return load_arena_settings(config).db_url


# Keys of the `[arena]` table, their types and defaults. Unknown keys are errors so that a typo
# (say `max_turn`) does not silently fall back to a default.
@dataclass(frozen=True)
class ArenaSettings:
    """Arena-wide settings (the `[arena]` table of the config file).

    Limits: `max_turns` prompts per battle, `max_prompt_chars` characters per prompt. Per rater
    session: `battles_per_minute` new battles, `votes_per_hour` and `votes_per_day` votes. Per
    client network address (IPv4 address, IPv6 /64): `battles_per_minute_per_address`,
    `votes_per_day_per_address`, `streams_per_address` answers streaming at once. For the whole
    arena: `max_concurrent_streams` answers streaming at once (0: one per sequence the models
    take at once, see `arena.web.guard`). `battle_ttl_s` is how long an unfinished battle lives
    before it is logged as abandoned (seconds).

    Rater sessions (`arena.web.sessions`) are signed with the secret in `session_secret_file`
    (else the environment variable ARENA_SESSION_SECRET, else one kept in
    `<data_dir>/session_secret`) and last `session_max_age_s` seconds. `session_challenge`
    ("none" or "pow", `arena.web.challenge`) is asked before a new session; `pow_difficulty_bits`
    sets the proof of work's cost. `trusted_proxies` lists the networks (CIDR) of the reverse
    proxies whose `X-Forwarded-For` is believed (`arena.web.client_address`). The leaderboard
    job reruns every `leaderboard_interval_s` seconds or after `leaderboard_every_votes` votes
    and keeps the newest `snapshots_keep` snapshots; it refits the style-controlled board at
    most every `leaderboard_style_every_s` seconds and writes the public release into a
    snapshot at most every `leaderboard_release_every_s` seconds (0: every refresh; negative:
    never), because the release holds the whole log.

    Public safety (docs/security.md): `operator_token_file` names a file holding the operator
    secret (else the environment variable ARENA_OPERATOR_TOKEN; neither: operator routes are
    off). `consent_terms` is the text raters are asked to agree to before their conversation may
    be published, `consent_terms_version` names that text in every record. `lockstep_streaming`
    releases each side's text no faster than the other's. `redis_maxmemory_mb` caps the embedded
    Redis.

    Bad input (docs/security.md): request bodies over `max_request_bytes` are refused (413)
    before they are read; a battle's `category` must be one of `categories` (empty: none is
    accepted). The sampler's pair counts in Redis are reconciled from SQL every
    `pair_counts_reconcile_s` seconds. A re-voting arena (`arena serve --revote`) shows only
    battles whose rater agreed to publish the text, unless `revote_without_consent`.

    Categories and lifecycle (docs/categories.md): every battle is labelled when recorded
    (`arena.labels`); `label_model` names a `[[models]]` entry that also labels the hard-prompt
    criteria (empty: heuristics only). A model is marked provisional on the board until it has
    `provisional_votes` votes; a category board with fewer than `category_min_votes` votes says
    so instead of ranking. `sampling_correction` weights each battle of the live board by the
    inverse of its logged pair probability.

    The rater's experience (docs/ui.md): a rater may Regenerate a battle's last answers up to
    `max_regenerations` times; after the vote they may give a reason: any of `reason_tags` and a
    comment of at most `reason_comment_chars` characters; with `share_links`, a rater who agreed
    to publication gets a link to a read-only page of the battle. `example_prompts_file` holds
    one example prompt per line (empty: examples/prompts.txt).

    LLM judge (docs/judge.md): with `judge_model` (a `[[models]]` name) set, `arena serve`
    queues every voted battle for that judge in the background; `judge_template` names its
    prompt template (empty: the built-in "pairwise-v1").
    """

    db_url: str = DEFAULT_DB_URL
    data_dir: str = "./data"
    redis_url: str = ""  # empty: start an embedded redis-server
    rater_salt: str = ""  # empty: rater_salt_file, else a random salt kept in <data_dir>
    rater_salt_file: str = ""  # a file holding the salt (0600), shared by every host
    pair_policy: str = "uniform"
    max_turns: int = 8
    max_prompt_chars: int = 8000
    battles_per_minute: int = 20
    votes_per_hour: int = 600
    battle_ttl_s: int = 3600
    generation_timeout_s: float = 120.0
    first_token_timeout_s: float = 60.0
    leaderboard_interval_s: float = 300.0
    leaderboard_every_votes: int = 50
    leaderboard_style_every_s: float = 300.0
    leaderboard_release_every_s: float = 3600.0  # 0: every refresh; negative: never
    host: str = "127.0.0.1"
    port: int = 7860
    title: str = "Arena"
    operator_token_file: str = ""
    consent_terms: str = ""  # empty: the default terms in arena.consent
    consent_terms_version: str = "1"
    snapshots_keep: int = 5
    lockstep_streaming: bool = False
    redis_maxmemory_mb: int = 256
    session_secret_file: str = ""
    session_max_age_s: int = 7 * 24 * 3600
    session_challenge: str = "none"
    pow_difficulty_bits: int = 20
    trusted_proxies: tuple[str, ...] = ()
    battles_per_minute_per_address: int = 60
    votes_per_day: int = 500
    votes_per_day_per_address: int = 2000
    streams_per_address: int = 8
    max_concurrent_streams: int = 0  # 0: derived from the models (arena.web.guard)
    categories: tuple[str, ...] = ()  # the `category` values raters may send; empty: none
    max_request_bytes: int = 1_048_576
    pair_counts_reconcile_s: float = 300.0
    revote_without_consent: bool = False
    label_model: str = ""
    provisional_votes: int = 300
    category_min_votes: int = 50
    sampling_correction: bool = False
    max_regenerations: int = 3
    reason_tags: tuple[str, ...] = ("more accurate", "better written", "followed instructions",
                                    "safer")
    reason_comment_chars: int = 500
    share_links: bool = True
    example_prompts_file: str = ""  # empty: examples/prompts.txt
    judge_model: str = ""  # empty: no live judging
    judge_template: str = ""  # empty: the built-in "pairwise-v1"

    def __repr__(self) -> str:
        """Every setting, with the secrets masked: the passwords in `db_url` and `redis_url`
        (shown as ``***``) and `rater_salt` (``'***'`` when set), so a settings object in a log
        line or a traceback gives none of them away."""
        shown = []
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in SECRET_URL_KEYS:
                value = redact_url(value)
            elif item.name in SECRET_KEYS and value:
                value = MASK
            shown.append(f"{item.name}={value!r}")
        return f"ArenaSettings({', '.join(shown)})"


def load_arena_settings(path: Path | None) -> ArenaSettings:
    """Read the `[arena]` table; no file means all defaults. Errors name file, key and reason."""
    if path is None:
        return ArenaSettings()
    table = read_toml(path).get("arena", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [arena] must be a table")
    known = {f.name: f for f in fields(ArenaSettings)}
    values: dict[str, object] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(
                f"{path}: arena.{key}: unknown key; known keys are {', '.join(sorted(known))}"
            )
        expected = type(getattr(ArenaSettings(), key))
        if expected is tuple:
            values[key] = _string_list(path, key, value)
            continue
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise ConfigError(
                f"{path}: arena.{key}: expected {expected.__name__}, got {type(value).__name__}"
            )
        values[key] = value
    settings = ArenaSettings(**values)  # type: ignore[arg-type]
    for key in ("max_turns", "max_prompt_chars", "battles_per_minute", "votes_per_hour",
                "snapshots_keep", "redis_maxmemory_mb", "session_max_age_s",
                "battles_per_minute_per_address", "votes_per_day", "votes_per_day_per_address",
                "streams_per_address", "max_request_bytes", "pair_counts_reconcile_s",
                "provisional_votes", "category_min_votes", "reason_comment_chars"):
        if getattr(settings, key) < 1:
            raise ConfigError(f"{path}: arena.{key}: must be at least 1")
    if settings.max_concurrent_streams < 0:
        raise ConfigError(f"{path}: arena.max_concurrent_streams: must be 0 (derived from the "
                          "models) or at least 1")
    for network in settings.trusted_proxies:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"{path}: arena.trusted_proxies: {network!r} is not an IP "
                              "address or network (CIDR), e.g. \"10.0.0.0/8\" or "
                              "\"127.0.0.1\"") from None
    if settings.max_regenerations < 0:
        raise ConfigError(f"{path}: arena.max_regenerations: must be 0 (no Regenerate button) "
                          "or more")
    for tag in settings.reason_tags:
        if not tag.strip() or len(tag) > 64 or not tag.isprintable():
            raise ConfigError(f"{path}: arena.reason_tags: {tag[:40]!r} must be 1 to 64 "
                              "printable characters on one line")
    for category in settings.categories:
        if not category.strip() or len(category) > 128 or not category.isprintable():
            raise ConfigError(f"{path}: arena.categories: {category[:40]!r} must be 1 to 128 "
                              "printable characters on one line")
    if settings.db_url == DEFAULT_DB_URL and settings.data_dir != "./data":
        # Keep the vote log inside the configured data directory by default.
        settings = replace(settings, db_url=f"sqlite:///{Path(settings.data_dir) / 'arena.db'}")
    return settings


def _string_list(path: Path, key: str, value: object) -> tuple[str, ...]:
    """A TOML array of strings as a tuple; ConfigError naming the key for anything else."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{path}: arena.{key}: expected an array of strings, "
                          f"got {type(value).__name__}")
    return tuple(value)
