"""Is a model server ready? Readiness probes and the status rows of `arena models`.

A server is ready when `/health` answers 200 and `/v1/models` lists its served model id; a
recorded server whose process is gone has exited; one that is alive but not ready is starting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

from serving.api_keys import key_path, read_api_key
from serving.processes import process_alive
from serving.run_records import RunRecord, read_run_record
from serving.settings import ModelSpec

# Seconds: a probe waits 2 s to connect and 5 s for an answer.
PROBE_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


@dataclass
class ServerStatus:
    """One row of `arena models up|status|down`."""

    name: str
    url: str
    status: str
    startup_s: float | None = None
    pid: int | None = None
    detail: str = ""


def _auth(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def probe_ready(client: httpx.Client, url: str, served_model: str,
                api_key: str | None = None) -> str | None:
    """None when `/health` answers 200 and `/v1/models` lists `served_model`; else why not.
    `api_key` is sent to `/v1/models` (a launched server requires its key there)."""
    try:
        health = client.get(f"{url}/health")
        if health.status_code != 200:
            return f"/health answered {health.status_code}"
        models = client.get(f"{url}/v1/models", headers=_auth(api_key))
        if models.status_code != 200:
            return f"/v1/models answered {models.status_code}"
        ids = [item.get("id") for item in models.json().get("data", [])]
        if served_model not in ids:
            return f"/v1/models lists {ids}, not {served_model!r}"
    except (httpx.HTTPError, ValueError) as failed:
        return f"{type(failed).__name__}: {failed}"
    return None


def probe_with_key(client: httpx.Client, spec: ModelSpec) -> str | None:
    """None when a remote endpoint with an API key or URL credentials lists its models; else
    why not. Remote endpoints with a key (OpenAI-compatible services) may not serve /health.
    """
    try:
        models = client.get(f"{spec.url}/v1/models", headers=spec.endpoint().headers())
    except httpx.HTTPError as failed:
        return f"{type(failed).__name__}: {failed}"
    return None if models.status_code == 200 else f"/v1/models answered {models.status_code}"


def status_of_record(record: RunRecord, client: httpx.Client | None = None,
                     api_key: str | None = None) -> ServerStatus:
    """The status of a recorded server: ready, starting (alive, not answering) or exited.
    `api_key` is the server's key (`serving.api_keys`), if it has one."""
    if not process_alive(record.pid, record.start_ticks):
        return ServerStatus(record.name, record.url, "exited", record.startup_s, record.pid,
                            detail=f"process gone; see {record.log_path}")
    own = client is None
    client = client or httpx.Client(timeout=PROBE_TIMEOUT)
    try:
        why = probe_ready(client, record.url, record.served_model, api_key)
    finally:
        if own:
            client.close()
    if why is None:
        return ServerStatus(record.name, record.url, "ready", record.startup_s, record.pid)
    return ServerStatus(record.name, record.url, "starting", None, record.pid, detail=why)


def model_statuses(specs: Iterable[ModelSpec], data_dir: Path) -> list[ServerStatus]:
    """One status per model: launched ones from their run record, remote ones by probing."""
    rows = []
    with httpx.Client(timeout=PROBE_TIMEOUT) as client:
        for spec in specs:
            if not spec.launched:
                keyed = spec.api_key or spec.url_credentials
                why = probe_with_key(client, spec) if keyed else \
                    probe_ready(client, spec.url, spec.served_name)
                rows.append(ServerStatus(spec.name, spec.url,
                                         "reachable" if why is None else "unreachable",
                                         detail=why or "remote (base_url)"))
                continue
            record = read_run_record(data_dir, spec.name)
            if record is None:
                rows.append(ServerStatus(spec.name, spec.url, "not running"))
            else:
                rows.append(status_of_record(
                    record, client, read_api_key(key_path(data_dir, spec.name))))
    return rows
