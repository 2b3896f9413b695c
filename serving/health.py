"""Is each model endpoint up? Probes, an outage flag the pair sampler reads, and recovery.

`probe_endpoint` asks `/health` (vLLM answers 200 with an empty body while its engine lives;
a 404 is tolerated for OpenAI-compatible servers without it) and `/v1/models` (which must list
the served model id). `HealthTracker.check` probes and flips the flag in a `HealthStore`:
`mark_down(name, reason)` after a failed probe, `mark_up(name)` after a good one, so a model
that answers again is back in rotation after one probe interval.

The store interface is three async methods, so it can live in process memory
(`InMemoryHealthStore`) or in Redis (shared by several arena processes).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import httpx

from serving.client import Endpoint

DEFAULT_PROBE_TIMEOUT_S = 5.0


class HealthStore(Protocol):
    """Where outage flags live. Implementations must be safe to call from many tasks."""

    async def mark_down(self, name: str, reason: str) -> None: ...

    async def mark_up(self, name: str) -> None: ...

    async def is_down(self, name: str) -> bool: ...


class InMemoryHealthStore:
    """Outage flags in this process's memory; `reasons` says why each down model is down."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    async def mark_down(self, name: str, reason: str) -> None:
        self.reasons[name] = reason

    async def mark_up(self, name: str) -> None:
        self.reasons.pop(name, None)

    async def is_down(self, name: str) -> bool:
        return name in self.reasons


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe; `reason` says what failed when `ok` is False."""

    name: str
    ok: bool
    reason: str | None
    latency_s: float


async def probe_endpoint(
    endpoint: Endpoint,
    http: httpx.AsyncClient | None = None,
    timeout_s: float = DEFAULT_PROBE_TIMEOUT_S,
) -> ProbeResult:
    """Probe `/health` and `/v1/models` of one endpoint within `timeout_s` seconds in all."""
    own = http is None
    client = http or httpx.AsyncClient()
    started = time.monotonic()
    reason: str | None = None
    try:
        async with asyncio.timeout(timeout_s):
            health = await client.get(f"{endpoint.base_url}/health", headers=endpoint.headers())
            if health.status_code not in (200, 404):
                reason = f"/health answered HTTP {health.status_code}"
            else:
                models = await client.get(f"{endpoint.base_url}/v1/models",
                                          headers=endpoint.headers())
                if models.status_code != 200:
                    reason = f"/v1/models answered HTTP {models.status_code}"
                else:
                    ids = [item.get("id") for item in models.json().get("data", [])]
                    if endpoint.model not in ids:
                        reason = f"/v1/models does not list {endpoint.model!r} (it lists {ids})"
    except TimeoutError:
        reason = f"no answer within {timeout_s:g} s"
    except httpx.HTTPError as failed:
        reason = f"{type(failed).__name__}: {failed}" if str(failed) else type(failed).__name__
    except ValueError as failed:  # JSON that is not a model list
        reason = f"malformed /v1/models answer: {failed}"
    finally:
        if own:
            await client.aclose()
    return ProbeResult(endpoint.name, reason is None, reason, time.monotonic() - started)


class HealthTracker:
    """Probes endpoints and keeps their outage flags in a `HealthStore`."""

    def __init__(self, store: HealthStore | None = None,
                 timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> None:
        self.store: HealthStore = store if store is not None else InMemoryHealthStore()
        self.timeout_s = timeout_s

    async def check(self, endpoint: Endpoint, http: httpx.AsyncClient | None = None
                    ) -> ProbeResult:
        """Probe one endpoint and set its flag: down with the reason, or up again."""
        result = await probe_endpoint(endpoint, http, self.timeout_s)
        if result.ok:
            await self.store.mark_up(endpoint.name)
        else:
            await self.store.mark_down(endpoint.name, result.reason or "probe failed")
        return result

    async def check_all(self, endpoints: Iterable[Endpoint],
                        http: httpx.AsyncClient | None = None) -> list[ProbeResult]:
        """Probe all endpoints concurrently."""
        return list(await asyncio.gather(*(self.check(e, http) for e in endpoints)))

    async def is_down(self, name: str) -> bool:
        return await self.store.is_down(name)

    async def watch(self, endpoints: Iterable[Endpoint], interval_s: float = 10.0) -> None:
        """Probe every `interval_s` seconds until cancelled (run it as a background task)."""
        endpoints = list(endpoints)
        async with httpx.AsyncClient() as http:
            while True:
                await self.check_all(endpoints, http)
                await asyncio.sleep(interval_s)


_METRIC_LINE = re.compile(r"^(?P<name>[^\s{]+)(\{[^}]*\})?\s+(?P<value>\S+)")


async def read_metric(base_url: str, metric: str, http: httpx.AsyncClient | None = None
                      ) -> float | None:
    """Sum of a Prometheus metric's samples in `<base_url>/metrics` (None if absent).

    E.g. `read_metric(url, "vllm:num_requests_running")` is the number of requests the vLLM
    engine is generating for right now.
    """
    own = http is None
    client = http or httpx.AsyncClient(timeout=DEFAULT_PROBE_TIMEOUT_S)
    try:
        response = await client.get(f"{base_url}/metrics")
        response.raise_for_status()
    finally:
        if own:
            await client.aclose()
    total, found = 0.0, False
    for line in response.text.splitlines():
        match = _METRIC_LINE.match(line)
        if match and match["name"] == metric:
            total += float(match["value"])
            found = True
    return total if found else None
