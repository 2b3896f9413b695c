"""Overhead of `serving.client.stream_chat` against raw httpx streaming to the same vLLM server.

Each round runs N concurrent streams through raw httpx and N through our client (the order
alternates between rounds, so drift in the server's speed hits both), with the same seeds and
request body, so both do the same work. Per stream:

- TTFT: seconds from sending the request to the first content delta;
- tokens/s: completion tokens / seconds from sending to the end of the stream.

Reported: medians over all streams of all rounds, aggregate tokens/s (all tokens / wall time of
the round, summed over rounds), and the ratio client / raw (1.00 = no overhead).

    .venv/bin/python benchmarks/serving_overhead.py                    # starts a tiny server
    .venv/bin/python benchmarks/serving_overhead.py --base-url http://127.0.0.1:8101 --model tiny-a
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from serving.client import Endpoint, complete_chat
from serving.config import ModelSpec, SamplingSettings
from serving.launcher import serve_models
from serving.tiny_model import BUILDER_VERSION, ensure_tiny_model

REPO = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "user", "content": "Write a long story about a lighthouse."}]


def request_params(seed: int, max_tokens: int) -> dict:
    return SamplingSettings(seed_policy="fixed", seed=seed, max_tokens=max_tokens).request_params()


async def raw_stream(http: httpx.AsyncClient, endpoint: Endpoint, params: dict
                     ) -> tuple[float, float, int]:
    """(ttft_s, total_s, completion_tokens) with plain httpx and minimal SSE parsing."""
    body = {"model": endpoint.model, "messages": MESSAGES, **params, "stream": True,
            "stream_options": {"include_usage": True}}
    start = time.perf_counter()
    first = None
    tokens = 0
    async with http.stream("POST", endpoint.chat_url, json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            for choice in chunk.get("choices") or []:
                if first is None and (choice.get("delta") or {}).get("content"):
                    first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None
    return first - start, end - start, tokens


async def client_stream(http: httpx.AsyncClient, endpoint: Endpoint, params: dict
                        ) -> tuple[float, float, int]:
    record = await complete_chat(endpoint, MESSAGES, params, http=http)
    assert record.ok, record.error
    return record.time_to_first_token_s, record.total_time_s, record.completion_tokens


async def run_round(kind: str, http: httpx.AsyncClient, endpoint: Endpoint, streams: int,
                    max_tokens: int, seed_base: int) -> tuple[list[tuple], float]:
    one = raw_stream if kind == "raw" else client_stream
    start, cpu = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(
        one(http, endpoint, request_params(seed_base + i, max_tokens)) for i in range(streams)))
    CPU_SECONDS[kind] += time.process_time() - cpu
    return results, time.perf_counter() - start


# CPU seconds this process spent in each kind's rounds: on a CPU-only host, CPU the client
# spends is CPU the model server does not get.
CPU_SECONDS = {"raw": 0.0, "client": 0.0}


async def benchmark(endpoint: Endpoint, streams: int, max_tokens: int, rounds: int) -> dict:
    limits = httpx.Limits(max_connections=streams * 2, max_keepalive_connections=streams * 2)
    samples: dict[str, list[tuple]] = {"raw": [], "client": []}
    aggregate: dict[str, list[float]] = {"raw": [0.0, 0.0], "client": [0.0, 0.0]}
    # Per round: (median TTFT, median per-stream tokens/s, aggregate tokens/s) of each kind;
    # the client/raw ratio of each round pairs runs seconds apart, so slow drift of the
    # shared machine cancels in it.
    per_round: dict[str, list[tuple[float, float, float]]] = {"raw": [], "client": []}
    async with httpx.AsyncClient(timeout=httpx.Timeout(None), limits=limits) as http:
        await run_round("raw", http, endpoint, streams, max_tokens, 10_000)  # warm-up
        for round_index in range(rounds):
            order = ("raw", "client") if round_index % 2 == 0 else ("client", "raw")
            for kind in order:
                results, wall = await run_round(kind, http, endpoint, streams, max_tokens,
                                                round_index * streams)
                samples[kind] += results
                aggregate[kind][0] += sum(r[2] for r in results)
                aggregate[kind][1] += wall
                per_round[kind].append((statistics.median(r[0] for r in results),
                                        statistics.median(r[2] / r[1] for r in results),
                                        sum(r[2] for r in results) / wall))
    summary = {}
    for kind, rows in samples.items():
        summary[kind] = {
            "ttft_s": statistics.median(r[0] for r in rows),
            "stream_tokens_per_s": statistics.median(r[2] / r[1] for r in rows),
            "aggregate_tokens_per_s": aggregate[kind][0] / aggregate[kind][1],
            "cpu_ms_per_stream": CPU_SECONDS[kind] / len(rows) * 1000,
        }
    summary["paired"] = {
        key: sorted(ours[i] / raw[i] for ours, raw in zip(per_round["client"], per_round["raw"],
                                                           strict=True))
        for i, key in enumerate(("ttft_s", "stream_tokens_per_s", "aggregate_tokens_per_s"))
    }
    return summary


def table(summary: dict, streams: int, max_tokens: int, rounds: int) -> str:
    raw, ours = summary["raw"], summary["client"]
    lines = [
        f"{streams} concurrent streams x {rounds} rounds, {max_tokens} tokens each",
        "",
        "| metric | raw httpx | serving.client | client / raw |",
        "|---|---:|---:|---:|",
    ]
    for key, label in (("ttft_s", "median time to first token (s)"),
                       ("stream_tokens_per_s", "median tokens/s per stream"),
                       ("aggregate_tokens_per_s", "aggregate tokens/s"),
                       ("cpu_ms_per_stream", "benchmark-process CPU per stream (ms)")):
        lines.append(f"| {label} | {raw[key]:.3f} | {ours[key]:.3f} | "
                     f"{ours[key] / raw[key]:.3f} |")
    lines += [
        "",
        "client / raw per round (rounds paired, then the median and the quartiles):",
        "",
        "| metric | median ratio | quartiles |",
        "|---|---:|---:|",
    ]
    for key, label in (("ttft_s", "time to first token"),
                       ("stream_tokens_per_s", "tokens/s per stream"),
                       ("aggregate_tokens_per_s", "aggregate tokens/s")):
        ratios = summary["paired"][key]
        low, middle, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        lines.append(f"| {label} | {middle:.3f} | {low:.3f} - {high:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="An already running server (else start a tiny one).")
    parser.add_argument("--model", default="tiny-bench", help="Served model name.")
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--port", type=int, default=8131)
    args = parser.parse_args()

    def run(endpoint: Endpoint) -> None:
        summary = asyncio.run(benchmark(endpoint, args.streams, args.max_tokens, args.rounds))
        print(table(summary, args.streams, args.max_tokens, args.rounds))

    if args.base_url:
        run(Endpoint(args.model, args.base_url.rstrip("/"), args.model))
        return
    model_dir = ensure_tiny_model(
        REPO / "models" / ".test-cache" / f"tiny-a-v{BUILDER_VERSION}-seed1", 1)
    spec = ModelSpec(name=args.model, model=str(model_dir), port=args.port, max_model_len=1024,
                     extra_args=("--enforce-eager", "--max-num-seqs", str(args.streams)))
    with tempfile.TemporaryDirectory() as data_dir:
        print(f"starting a tiny vLLM server on port {args.port} (1-5 minutes) ...", flush=True)
        # The handle's spec carries the random API key the launcher gave this server.
        with serve_models([spec], data_dir=Path(data_dir)) as (handle,):
            run(handle.spec.endpoint())


if __name__ == "__main__":
    main()
