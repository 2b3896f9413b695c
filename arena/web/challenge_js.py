"""The browser's solver of the proof-of-work session challenge, as a script the page loads.

`POW_SOLVER_JS` defines `window.arenaChallenge` (docs/challenge.md):

- `solve(issued, {onProgress, engine, worker})` -> Promise of the answer ``{nonce}``: tries
  nonces 0, 1, 2, ... like `arena.web.challenge_pow.solve_pow`, so both find the same one. It
  runs in a Web Worker (made from a `blob:` URL, which the page's CSP allows) so the page stays
  responsive; without workers it runs on the page in slices, yielding between them.
  `onProgress(hashes, expected)` is called after each slice. `last` then says where it ran
  (`"worker"` or `"page"`) and with which engine.
- `run({issueUrl, submitUrl, onProgress})`: GET `issueUrl` (default
  `/api/sessions/challenge`); if it answers a `"pow"` challenge, solve it, POST
  ``{challenge, answer}`` to `submitUrl` (default `/api/sessions`) and resolve with that
  response; otherwise (any other answer, e.g. ``{"kind": "none"}`` for a browser whose
  session is valid already, or a 404 from an arena without a challenge) resolve with the
  GET's response and solve nothing.

`POW_BOOT_JS` (served by `pow_boot_script`) is the solver plus a call of `run()` at page load,
for the arena page's `<head>` (docs/challenge.md: wiring).

Engines: `"js"`, a SHA-256 in plain JavaScript that hashes the token's first 64-byte blocks
once (works on plain-HTTP pages too), and `"subtle"`, `crypto.subtle.digest` in batches
(only in a secure context: HTTPS or localhost). `"auto"` (the default) takes `"js"`, which
measured about 15 times faster in Chromium (benchmarks/challenge_cost.py).

The script uses no `eval` and no inline handlers, so it runs under the page's CSP when served
from this host (`pow_script`) or inlined with the page's nonce.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

POW_SOLVER_JS = r"""
(function () {
  "use strict";

  // Everything the solver needs, self-contained so that it runs in a worker made from its
  // source; `scope` is the worker's global (then it answers messages) or null on the page.
  function powCore(scope) {
    var K = new Int32Array([
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2]);
    var H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
              0x1f83d9ab, 0x5be0cd19];
    var JS_SLICE = 65536;      // hashes between progress reports (and yields on the page)
    var SUBTLE_SLICE = 8192;
    var SUBTLE_BATCH = 512;    // digests in flight at once

    // One SHA-256 block (64 bytes of `b` from `off`) into `s` (8 words); `w` is scratch.
    function compress(s, w, b, off) {
      var i, x, y;
      for (i = 0; i < 16; i++) {
        x = off + i * 4;
        w[i] = (b[x] << 24) | (b[x + 1] << 16) | (b[x + 2] << 8) | b[x + 3];
      }
      for (i = 16; i < 64; i++) {
        x = w[i - 15]; y = w[i - 2];
        w[i] = (w[i - 16] + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3))
                + w[i - 7] + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)))
               | 0;
      }
      var a = s[0], c1 = s[1], c2 = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
      for (i = 0; i < 64; i++) {
        var t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))
                  + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        var t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10)))
                  + ((a & c1) ^ (a & c2) ^ (c1 & c2))) | 0;
        h = g; g = f; f = e; e = (d + t1) | 0; d = c2; c2 = c1; c1 = a; a = (t1 + t2) | 0;
      }
      s[0] = (s[0] + a) | 0; s[1] = (s[1] + c1) | 0; s[2] = (s[2] + c2) | 0;
      s[3] = (s[3] + d) | 0; s[4] = (s[4] + e) | 0; s[5] = (s[5] + f) | 0;
      s[6] = (s[6] + g) | 0; s[7] = (s[7] + h) | 0;
    }

    // True when the digest (8 big-endian words) starts with at least `bits` zero bits.
    function wordsHaveZeroBits(s, bits) {
      for (var i = 0; bits > 0; i++, bits -= 32) {
        if (bits >= 32 ? s[i] !== 0 : (s[i] >>> (32 - bits)) !== 0) return false;
      }
      return true;
    }

    function bytesHaveZeroBits(d, bits) {
      for (var i = 0; bits > 0; i++, bits -= 8) {
        if (bits >= 8 ? d[i] !== 0 : (d[i] >> (8 - bits)) !== 0) return false;
      }
      return true;
    }

    function asciiBytes(text) {
      var out = new Uint8Array(text.length);
      for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0x7f;
      return out;
    }

    // The first nonce in [from, to) whose SHA-256(token ":" nonce) has `bits` zero bits.
    function searchJs(token, bits, from, to) {
      var prefix = asciiBytes(token + ":");
      var whole = prefix.length - (prefix.length % 64);
      var mid = new Int32Array(H0), w = new Int32Array(64), s = new Int32Array(8);
      for (var off = 0; off < whole; off += 64) compress(mid, w, prefix, off);
      var tail = prefix.length - whole, buf = new Uint8Array(128);
      buf.set(prefix.subarray(whole));
      for (var n = from; n < to; n++) {
        var digits = String(n), len = tail, i;
        for (i = 0; i < digits.length; i++) buf[len++] = digits.charCodeAt(i);
        var bitLength = (whole + len) * 8;
        buf[len++] = 0x80;
        var end = len + 8 <= 64 ? 64 : 128;
        buf.fill(0, len, end - 4);
        buf[end - 4] = bitLength >>> 24; buf[end - 3] = bitLength >>> 16;
        buf[end - 2] = bitLength >>> 8; buf[end - 1] = bitLength;
        s.set(mid);
        compress(s, w, buf, 0);
        if (end === 128) compress(s, w, buf, 64);
        if (wordsHaveZeroBits(s, bits)) return digits;
      }
      return null;
    }

    async function searchSubtle(token, bits, from, to) {
      var encoder = new TextEncoder();
      for (var n = from; n < to; n += SUBTLE_BATCH) {
        var pending = [];
        for (var i = n; i < Math.min(n + SUBTLE_BATCH, to); i++) {
          pending.push(crypto.subtle.digest("SHA-256", encoder.encode(token + ":" + i)));
        }
        var digests = await Promise.all(pending);
        for (i = 0; i < digests.length; i++) {
          if (bytesHaveZeroBits(new Uint8Array(digests[i]), bits)) return String(n + i);
        }
      }
      return null;
    }

    function engineFor(name) {
      var subtle = typeof crypto !== "undefined" && crypto.subtle;
      if (name === "subtle" && !subtle) {
        throw new Error("crypto.subtle is missing (not a secure context): use engine 'js'");
      }
      return name === "subtle" ? "subtle" : "js";
    }

    // Solve `job` ({token, bits, engine, start}); `progress(hashes)` after each slice,
    // `pause()` awaited between slices (a yield to the page's event loop).
    async function search(job, progress, pause) {
      var engine = engineFor(job.engine || "auto");
      var slice = engine === "subtle" ? SUBTLE_SLICE : JS_SLICE;
      var start = job.start || 0;
      for (var n = start; ; n += slice) {
        var found = engine === "subtle" ? await searchSubtle(job.token, job.bits, n, n + slice)
                                         : searchJs(job.token, job.bits, n, n + slice);
        if (found !== null) return {nonce: found, engine: engine};
        if (progress) progress(n + slice - start);
        if (pause) await pause();
      }
    }

    if (scope) {
      scope.onmessage = function (event) {
        search(event.data, function (hashes) { scope.postMessage({hashes: hashes}); }, null)
          .then(function (found) { scope.postMessage(found); },
                function (error) { scope.postMessage({error: String(error)}); });
      };
    }
    return {search: search};
  }

  var core = powCore(null);

  function jobOf(issued, options) {
    if (!issued || issued.kind !== "pow" || issued.algorithm !== "sha256") {
      throw new Error("not a sha256 proof-of-work challenge");
    }
    return {token: String(issued.challenge), bits: Number(issued.difficulty_bits),
            engine: options.engine || "auto", start: 0};
  }

  // Solve on the page, yielding to the event loop between slices.
  function solveOnPage(issued, options) {
    options = options || {};
    var job = jobOf(issued, options), expected = Math.pow(2, job.bits);
    var progress = options.onProgress && function (h) { options.onProgress(h, expected); };
    var pause = function () { return new Promise(function (r) { setTimeout(r, 0); }); };
    return core.search(job, progress, pause).then(function (found) {
      api.last = {where: "page", engine: found.engine};
      return {nonce: found.nonce};
    });
  }

  // Solve in a worker made from this script's own solver (no page jank), else on the page.
  function solve(issued, options) {
    options = options || {};
    if (options.worker === false || typeof Worker === "undefined") {
      return solveOnPage(issued, options);
    }
    var job = jobOf(issued, options), expected = Math.pow(2, job.bits);
    var url = URL.createObjectURL(new Blob(["(" + powCore.toString() + ")(self);"],
                                           {type: "text/javascript"}));
    return new Promise(function (resolve, reject) {
      var worker;
      try { worker = new Worker(url); } catch (blocked) {
        URL.revokeObjectURL(url);
        solveOnPage(issued, options).then(resolve, reject);
        return;
      }
      var finish = function () { worker.terminate(); URL.revokeObjectURL(url); };
      worker.onmessage = function (event) {
        var data = event.data;
        if (data.hashes !== undefined) {
          if (options.onProgress) options.onProgress(data.hashes, expected);
        } else if (data.error !== undefined) {
          finish(); reject(new Error(data.error));
        } else {
          finish();
          api.last = {where: "worker", engine: data.engine};
          resolve({nonce: data.nonce});
        }
      };
      worker.onerror = function (event) {
        finish();
        event.preventDefault();
        solveOnPage(issued, options).then(resolve, reject);  // e.g. workers blocked
      };
      worker.postMessage(job);
    });
  }

  // Ask for a challenge, solve it, hand in the answer; resolves with the submit response.
  // When the server asks nothing (its answer is not a "pow" challenge: the arena has none,
  // or this browser's session is valid already), resolves with that answer and solves none.
  async function run(options) {
    options = options || {};
    var issueUrl = options.issueUrl || "/api/sessions/challenge";
    var submitUrl = options.submitUrl || "/api/sessions";
    var offered = await fetch(issueUrl, {credentials: "same-origin"});
    var issued = offered.ok ? await offered.clone().json().catch(function () { return null; })
                            : null;
    if (!issued || issued.kind !== "pow") return offered;
    var answer = await solve(issued, options);
    return fetch(submitUrl, {method: "POST", credentials: "same-origin",
                             headers: {"Content-Type": "application/json"},
                             body: JSON.stringify({challenge: issued, answer: answer})});
  }

  // `last`: where and with which engine the latest solve ran (for diagnostics and tests).
  var api = {solve: solve, solveOnPage: solveOnPage, run: run, version: 1, last: null};
  if (typeof window !== "undefined") window.arenaChallenge = api;
})();
"""

# Appended to the solver for the arena page: solve at page load, once, and say how it went in
# <html data-arena-session="pending|ready|refused|failed"> (`data-arena-session-progress`:
# percent of the expected work) and in the promise `window.arenaSession` (the last response).
POW_BOOT_JS = POW_SOLVER_JS + r"""
(function () {
  "use strict";
  var root = document.documentElement;
  root.dataset.arenaSession = "pending";
  window.arenaSession = window.arenaChallenge.run({
    onProgress: function (hashes, expected) {
      root.dataset.arenaSessionProgress = String(Math.min(99, Math.floor(100 * hashes / expected)));
    }
  }).then(function (response) {
    root.dataset.arenaSession = response.ok ? "ready" : "refused";
    return response;
  }, function (error) {
    root.dataset.arenaSession = "failed";
    throw error;
  });
})();
"""


def script_response(source: str) -> Response:
    """`source` as a same-host script (the page's CSP lets it run), cached for an hour."""
    return Response(source, media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=3600"})


async def pow_script(_: Request) -> Response:
    """GET handler: the solver alone (`window.arenaChallenge`), for pages that drive it."""
    return script_response(POW_SOLVER_JS)


async def pow_boot_script(_: Request) -> Response:
    """GET handler: the solver, run once at page load (`POW_BOOT_JS`), for the arena page."""
    return script_response(POW_BOOT_JS)
