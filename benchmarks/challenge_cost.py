"""What the proof-of-work session challenge costs: a solver's time per challenge, in Python on
one core and in Chromium's JavaScript, and the server's time to issue and verify one.

    .venv/bin/python benchmarks/challenge_cost.py [--bits 16 18 20 22] [--samples 15]

For each difficulty, `--samples` fresh challenges (signed by `ProofOfWork`, as `arena serve`
issues them) are solved by `solve_pow` (one core) and then, the same challenges, by the page's
solver (`window.arenaChallenge.solve`: a Web Worker, the default `auto` engine, i.e. plain-JS
SHA-256) in headless Chromium (/usr/bin/chromium), timed in the page from the call to the
answer (the worker's start included). `crypto.subtle` is timed too, at difficulties up to
`--subtle-max-bits` (it is much slower). Every answer is checked by the verifier against an
`EmbeddedRedis`, whose cost is timed on its own (`--verifies` accepted answers; refusals
never reach Redis).

The number of hashes a challenge needs is random (geometric, mean 2**bits), so the table shows
the median and the 90th percentile over the samples and each solver's hash rate (all hashes
over all time: the steadier figure; the expected solve time is 2**bits / rate, the median
0.69x that, the 90th percentile 2.3x). On a shared machine, the Python rate per CPU second
is what one uncontended core does. Prints a Markdown table and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

from arena.live.connection import LiveConnection
from arena.live.embedded import EmbeddedRedis
from arena.web.challenge_js import POW_SOLVER_JS
from arena.web.challenge_pow import ProofOfWork, leading_zero_bits, solution_digest, solve_pow
from arena.web.security_headers import content_security_policy

SECRET = "benchmark secret"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
ORIGIN = "http://localhost"  # a secure context, so crypto.subtle exists
PAGE = '<!doctype html><html><head><script src="/pow.js"></script></head><body></body></html>'


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def issue_all(bits: int, samples: int) -> list[dict[str, Any]]:
    proof = ProofOfWork(secret=SECRET, redis=None, difficulty_bits=bits)
    return [await proof.issue() for _ in range(samples)]


def time_python(challenges: list[dict[str, Any]]) -> tuple[list[float], list[str], float]:
    """Wall seconds per challenge, the nonces, and the CPU seconds of them all (on a shared
    machine the CPU time gives the rate of one uncontended core)."""
    seconds, nonces = [], []
    cpu_started = time.process_time()
    for issued in challenges:
        started = time.perf_counter()
        nonces.append(solve_pow(issued)["nonce"])
        seconds.append(time.perf_counter() - started)
    return seconds, nonces, time.process_time() - cpu_started


def time_browser(page: Any, challenges: list[dict[str, Any]], engine: str,
                 nonces: list[str]) -> list[float]:
    seconds = []
    for issued, expected in zip(challenges, nonces, strict=True):
        answer, ms = page.evaluate("""async ([issued, engine]) => {
            const started = performance.now();
            const answer = await window.arenaChallenge.solve(issued, {engine});
            return [answer, performance.now() - started];
        }""", [issued, engine])
        if answer["nonce"] != expected:
            raise SystemExit(f"the browser found {answer['nonce']}, Python {expected}")
        seconds.append(ms / 1000)
    return seconds


def open_solver_page(browser: Any) -> Any:
    page = browser.new_page()
    headers = {"content-type": "text/html",
               "content-security-policy": content_security_policy("bench")}
    page.route(f"{ORIGIN}/", lambda r: r.fulfill(status=200, body=PAGE, headers=headers))
    page.route(f"{ORIGIN}/pow.js", lambda r: r.fulfill(
        status=200, body=POW_SOLVER_JS, headers={"content-type": "text/javascript"}))
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("() => window.arenaChallenge !== undefined")
    return page


async def time_verifier(redis_url: str, solved: list[tuple[dict, str]],
                        repeats: int) -> dict[str, float]:
    """Median microseconds: issue, verify an accepted answer (one Redis SET NX), verify a
    wrong one (no Redis)."""
    async with LiveConnection.from_url(redis_url, prefix="bench:challenge:") as live:
        proof = ProofOfWork(secret=SECRET, redis=live.client, key_prefix=live.prefix,
                            difficulty_bits=8)
        costs: dict[str, list[float]] = {"issue": [], "verify, accepted": [],
                                         "verify, wrong nonce": []}
        for _ in range(repeats):
            started = time.perf_counter()
            issued = await proof.issue()
            costs["issue"].append(time.perf_counter() - started)
            answer = solve_pow(issued)
            wrong = next({"nonce": str(n)} for n in range(10**12, 10**13)
                         if leading_zero_bits(solution_digest(issued["challenge"], str(n))) < 8)
            started = time.perf_counter()
            await proof.verify(issued, wrong)
            costs["verify, wrong nonce"].append(time.perf_counter() - started)
            started = time.perf_counter()
            if (reason := await proof.verify(issued, answer)) is not None:
                raise SystemExit(f"the verifier refused a correct answer: {reason}")
            costs["verify, accepted"].append(time.perf_counter() - started)
        for issued, nonce in solved:  # the benchmark's own answers, at their difficulty
            checker = ProofOfWork(secret=SECRET, redis=live.client, key_prefix=live.prefix,
                                  difficulty_bits=issued["difficulty_bits"])
            if (reason := await checker.verify(issued, {"nonce": nonce})) is not None:
                raise SystemExit(f"the verifier refused a solver's answer: {reason}")
        await live.clear()
    return {name: statistics.median(values) * 1e6 for name, values in costs.items()}


def row(runtime: str, bits: int, seconds: list[float], hashes: list[int],
        cpu_s: float | None = None) -> str:
    rate = sum(hashes) / sum(seconds)
    per_cpu = f"{sum(hashes) / cpu_s / 1e6:.2f}" if cpu_s else "-"
    return (f"| {bits} | {runtime} | {statistics.median(seconds):.2f} | "
            f"{percentile(seconds, 0.9):.2f} | {rate / 1e6:.2f} | {per_cpu} | "
            f"{2**bits / rate:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 18, 20, 22])
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--subtle-max-bits", type=int, default=16)
    parser.add_argument("--verifies", type=int, default=2000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rows, solved = [], []
    plan = [(bits, asyncio.run(issue_all(bits, args.samples))) for bits in args.bits]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_FLAGS)
        page = open_solver_page(browser)
        for bits, challenges in plan:
            python_s, nonces, cpu_s = time_python(challenges)
            hashes = [int(n) + 1 for n in nonces]
            solved += list(zip(challenges, nonces, strict=True))
            rows.append(row("Python, 1 core", bits, python_s, hashes, cpu_s))
            rows.append(row("Chromium, JS worker", bits,
                            time_browser(page, challenges, "auto", nonces), hashes))
            if bits <= args.subtle_max_bits:
                rows.append(row("Chromium, crypto.subtle", bits,
                                time_browser(page, challenges, "subtle", nonces), hashes))
        browser.close()
    with EmbeddedRedis() as redis:
        verifier = asyncio.run(time_verifier(redis.url, solved, args.verifies))
    print(f"{args.samples} challenges per difficulty; {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| bits | solver | median s | p90 s | Mhash/s | Mhash/CPU-s | mean s (2^bits/rate) |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print("\n| server side | median µs |\n|---|---:|")
    print("\n".join(f"| {name} | {us:.0f} |" for name, us in verifier.items()))


if __name__ == "__main__":
    main()
