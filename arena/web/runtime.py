"""One arena process's parts, assembled from the config: the battle service over the SQL log
(with its writer process), the Redis live state, the pair sampler and the streaming client,
the callers' identities (signed sessions, addresses) and the abuse limits around the service,
plus the background work (endpoint health, the sweep of expired battles, the leaderboard job).

`ArenaRuntime` holds them; `arena.web.app.build_app` wraps one in the FastAPI app whose
lifespan calls `start` and `stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.battles import BattleService, Contender, GenerateFn
from arena.battles.sampling import PairSampler
from arena.config import ArenaSettings, ConfigError
from arena.jobs.leaderboard import LeaderboardJob
from arena.live import LiveState, LiveStateUnavailable
from arena.live.connection import stop_if_cancelled
from arena.live.limits import LimitStore
from arena.store import BattleLog
from arena.store.log_process import LogProcess
from arena.web.client_address import ProxyTrust
from arena.web.guard import BattleGuard, stream_capacity
from arena.web.identity import ClientIdentity
from arena.web.operator import load_operator_token
from arena.web.sessions import SessionSigner, kept_secret, load_session_secret
from serving.client import (
    StreamFinished,
    StreamStarted,
    StreamTimeouts,
    TextDelta,
    make_http_client,
    stream_chat,
)
from serving.config import ServingConfig
from serving.health import HealthTracker
from serving.records import GenerationRecord

if TYPE_CHECKING:
    from arena.revote.pool import ReplayPool

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 10.0
SWEEP_INTERVAL_S = 60.0


class RaterSaltError(ConfigError):
    """`rater_salt_file` cannot be used; the message names the file, never the salt."""


def load_rater_salt(settings: ArenaSettings) -> str:
    """The configured salt (`rater_salt`), else the one in `rater_salt_file` (so several hosts
    share it without writing it into their configs), else one kept in `<data_dir>/rater_salt`
    (created on first use, 0600, atomically: workers starting together agree on it)."""
    if settings.rater_salt:
        return settings.rater_salt
    if settings.rater_salt_file:
        path = Path(settings.rater_salt_file)
        try:
            salt = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as unreadable:
            raise RaterSaltError(f"arena.rater_salt_file ({path}): cannot read the rater salt: "
                                 f"{type(unreadable).__name__}") from None
        if len(salt) < 16:
            raise RaterSaltError(f"arena.rater_salt_file ({path}): the salt is too short "
                                 f"({len(salt)} characters; at least 16). Make one with python "
                                 "-c 'import secrets; print(secrets.token_urlsafe(32))'")
        return salt
    return kept_secret(Path(settings.data_dir) / "rater_salt")


def make_live_judge(settings: ArenaSettings, serving: ServingConfig, writer: LogProcess,
                    http: Any) -> Any:
    """The live judge of `[arena] judge_model` (arena.judge.live.LiveJudge), or None when no
    judge is configured; a judge model or template the config lacks stops the start."""
    if not settings.judge_model:
        return None
    from arena.judge.live import live_judge_for

    return live_judge_for(settings, serving, writer.write, http)


def make_session_challenge(settings: ArenaSettings, live: LiveState, secret: str) -> Any:
    """The challenge new sessions must pass (`arena.web.challenge`), or None (the default)."""
    if settings.session_challenge == "none":
        return None
    from arena.web.challenge import make_challenge

    return make_challenge(settings, live, secret=secret)


def make_generate(
    config: ServingConfig, http: Any, timeouts: StreamTimeouts
) -> GenerateFn:
    """Adapt `serving.client.stream_chat` to the battle service's GenerateFn protocol.

    Sampling parameters (seed drawn per request by the config's seed policy) are resolved per
    call, so every request sends all of them explicitly.
    """

    async def generate(
        model: str, messages: list[dict[str, str]]
    ) -> AsyncIterator[str | GenerationRecord]:
        spec = config.model(model)
        params = config.params_for(model)
        stream = stream_chat(spec.endpoint(), messages, params, timeouts=timeouts, http=http)
        async with contextlib.aclosing(stream):
            async for event in stream:
                if isinstance(event, TextDelta):
                    yield event.text
                elif isinstance(event, StreamStarted | StreamFinished):
                    # The started record is live (finished_at unset); the finished one is final.
                    yield event.record

    return generate


@dataclass
class ArenaRuntime:
    """Everything one arena process holds. `run_jobs` is true on exactly one worker."""

    settings: ArenaSettings
    serving: ServingConfig
    redis_url: str
    run_jobs: bool = True
    config_path: Path | None = None
    # Re-vote mode (`arena serve --revote`): logged battles to re-vote; no model is contacted.
    revote_pool: ReplayPool | None = None
    service: BattleService = field(init=False)
    log: BattleLog = field(init=False)
    live: LiveState = field(init=False)
    job: LeaderboardJob = field(init=False)
    log_writer: LogProcess = field(init=False)
    # None: no operator token configured, the operator routes answer 404 (arena.web.operator).
    operator_token: str | None = field(init=False, default=None, repr=False)
    identity: ClientIdentity = field(init=False)
    guard: BattleGuard = field(init=False)
    # The live judge (arena.judge.live.LiveJudge) when [arena] judge_model is set, else None.
    live_judge: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        # First, before any process or connection exists: an unusable token, session secret
        # or rater salt file stops the start.
        self.operator_token = load_operator_token(self.settings)
        session_secret = load_session_secret(self.settings)
        rater_salt = load_rater_salt(self.settings)
        self.log = BattleLog(self.settings.db_url)  # reads, health checks, the leaderboard
        # Battle records are written by a child process (see arena.store.log_process).
        self.log_writer = LogProcess(self.settings.db_url)
        self.live = LiveState.from_url(self.redis_url)
        self.http = make_http_client()
        # The live judge ([arena] judge_model; docs/judge.md): verdicts through the writer.
        self.live_judge = None if self.revote_pool is not None else make_live_judge(
            self.settings, self.serving, self.log_writer, self.http)
        timeouts = StreamTimeouts(
            first_token=self.settings.first_token_timeout_s,
            total=self.settings.generation_timeout_s,
        )
        contenders = {
            spec.name: Contender(spec.name, spec.system_prompt or "", spec.identity_words)
            for spec in self.serving.models
        }
        weights = {spec.name: spec.weight for spec in self.serving.models}
        ledger = None
        if self.revote_pool is not None:
            from arena.revote.pool import ReplayLedger

            ledger = ReplayLedger(self.revote_pool, self.live, self.log)
        self.job = self._leaderboard_job()
        self.service = BattleService(
            contenders=contenders,
            generate=make_generate(self.serving, self.http, timeouts),
            log=self.log,
            live=self.live,
            sampler=PairSampler(self.settings.pair_policy, weights=weights),
            settings=self.settings,
            salt=rater_salt,
            on_vote=self.job.note_vote,
            on_voted=self.live_judge.submit if self.live_judge is not None else None,
            replay=ledger,
            writer=self.log_writer,
        )
        self.identity = ClientIdentity(
            SessionSigner(session_secret, self.settings.session_max_age_s),
            ProxyTrust(self.settings.trusted_proxies),
            challenge=make_session_challenge(self.settings, self.live, session_secret),
        )
        self.guard = BattleGuard(
            self.service, LimitStore(self.live.client, prefix=self.live.prefix), self.settings,
            max_streams=self.settings.max_concurrent_streams or stream_capacity(self.serving),
        )
        self._tasks: list[asyncio.Task[None]] = []

    def _leaderboard_job(self) -> LeaderboardJob:
        """The leaderboard job of this arena's settings (arena.jobs.leaderboard)."""
        return LeaderboardJob(
            log=self.log,
            live=self.live,
            out_dir=Path(self.settings.data_dir) / "leaderboards",
            every_votes=self.settings.leaderboard_every_votes,
            keep=self.settings.snapshots_keep,
            provisional_votes=self.settings.provisional_votes,
            category_min_votes=self.settings.category_min_votes,
            sampling_correction=self.settings.sampling_correction,
            style_every_s=self.settings.leaderboard_style_every_s,
            release_every_s=(None if self.settings.leaderboard_release_every_s < 0
                             else self.settings.leaderboard_release_every_s),
            # Battles other raters are still being shown are never published, nor their
            # re-votes: the release would name their models.
            withheld=self.revote_pool.battles if self.revote_pool is not None else (),
        )

    async def health(self) -> dict[str, Any]:
        """The detailed health report (operators only; the public `/healthz` gets its `ok`):
        Redis reachable, SQL reachable, which models are down."""
        report: dict[str, Any] = {"ok": True}
        try:
            report["models_down"] = sorted(await self.live.down_models())
            report["redis"] = "ok"
        except LiveStateUnavailable as down:
            report.update(ok=False, redis=f"unreachable: {down}")
        try:
            await asyncio.to_thread(self.log.ping)
            report["sql"] = "ok"
        except Exception as broken:  # reported, not raised
            report.update(ok=False, sql=f"error: {broken}")
        if self.live_judge is not None:
            report["live_judge"] = {**asdict(self.live_judge.stats),
                                    "pending": self.live_judge.pending}
        return report

    async def leaderboard(self) -> dict[str, Any] | None:
        try:
            cached = await self.live.get_leaderboard()
        except LiveStateUnavailable:
            return self.job.last_board
        return cached.table if cached is not None else self.job.last_board

    async def start(self) -> None:
        if self.run_jobs:
            # At once (Redis may have been flushed), then every pair_counts_reconcile_s: a
            # Redis blip after a vote's SQL commit must not leave a pair under-counted for good.
            self._tasks.append(asyncio.create_task(self._reconcile_pair_counts()))
        if self.revote_pool is None:  # a re-vote arena never contacts the models
            self._tasks.append(asyncio.create_task(self._watch_health()))
        self._tasks.append(asyncio.create_task(self._sweep()))
        if self.run_jobs:
            self._tasks.append(
                asyncio.create_task(self.job.run_forever(self.settings.leaderboard_interval_s))
            )
        if self.live_judge is not None:
            await self.live_judge.start()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.live_judge is not None:  # before the client and the writer it uses
            await self.live_judge.aclose()
        await self.http.aclose()
        await self.guard.aclose()
        # Votes in flight reach SQL and battles being abandoned are logged (bounded wait),
        # then the writer child exits; only then Redis, which abandoning writes to on the way.
        await self.service.aclose()
        with contextlib.suppress(Exception):
            await self.live.aclose()
        self.log.close()

    async def _watch_health(self) -> None:
        """Probe every endpoint; flag outages in Redis so every worker's sampler skips them."""
        tracker = HealthTracker(store=self.live)
        endpoints = [spec.endpoint() for spec in self.serving.models]
        while True:
            try:
                await tracker.check_all(endpoints, self.http)
            except LiveStateUnavailable:
                log.warning("health flags not updated: live state unavailable")
            stop_if_cancelled()
            await asyncio.sleep(HEALTH_INTERVAL_S)

    async def _reconcile_pair_counts(self) -> None:
        while True:
            try:
                await self.service.reconcile_pair_counts()
            except LiveStateUnavailable:
                log.warning("pair counts not reconciled: live state unavailable")
            except Exception:  # retried next round
                log.exception("reconciling pair counts failed")
            stop_if_cancelled()
            await asyncio.sleep(self.settings.pair_counts_reconcile_s)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.service.sweep_expired()
            except Exception:  # a failed sweep is retried next round
                log.exception("sweeping expired battles failed")
            stop_if_cancelled()
