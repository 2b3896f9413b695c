"""Drift check without model servers: reading the log, choosing what to re-generate, the
similarity score, the report, and the command's answers to bad input and unreachable endpoints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from factories import make_battle

from arena.drift import collect_tasks, read_battle_log, summarise, text_similarity
from arena.drift.report import to_markdown
from arena.drift.results import TurnResult
from arena.drift.tasks import DriftInputError


def arena(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "arena", *args], capture_output=True,
                          text=True, check=False, cwd=cwd, timeout=300)


def write_log(path: Path, battles) -> Path:
    path.write_text("".join(json.dumps(b.to_dict()) + "\n" for b in battles), encoding="utf-8")
    return path


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: nothing listens


# --- similarity ---------------------------------------------------------------------------

def test_similarity_is_one_for_identical_and_whitespace_only_changes():
    assert text_similarity("the cat sat", "the cat sat") == 1.0
    assert text_similarity("the cat\nsat", "the  cat sat ") == 1.0
    assert text_similarity("", "") == 1.0


def test_similarity_is_the_token_level_difflib_ratio():
    # 3 of 4 tokens match on each side: 2 * 3 / (4 + 4)
    assert text_similarity("a b c d", "a b x d") == pytest.approx(0.75)
    assert text_similarity("a b c d", "w x y z") == 0.0
    assert text_similarity("a b", "") == 0.0


# --- selecting what to re-generate ---------------------------------------------------------

def test_failed_logged_generations_are_skipped_with_their_error():
    battle = make_battle(status="error", turn_count=2, model_a="m1", model_b="m2")
    tasks, skipped = collect_tasks([battle])
    assert [(t.turn, t.side) for t in tasks] == [(0, "a"), (0, "b"), (1, "a")]
    assert len(skipped) == 1
    assert (skipped[0].turn, skipped[0].side, skipped[0].model) == (1, "b", "m2")
    assert skipped[0].reason.startswith("logged generation failed: HTTP 500")


def test_models_filter_and_limit_choose_battles_in_log_order():
    battles = [make_battle(model_a="m1", model_b="m2", turn_count=1),
               make_battle(model_a="m3", model_b="m4", turn_count=1),
               make_battle(model_a="m2", model_b="m3", turn_count=1),
               make_battle(model_a="m1", model_b="m3", turn_count=1)]
    tasks, _ = collect_tasks(battles, models={"m3"}, limit=2)
    assert [(t.battle_id, t.side, t.model) for t in tasks] == [
        (battles[1].battle_id, "a", "m3"), (battles[2].battle_id, "b", "m3")]
    everything, _ = collect_tasks(battles)
    assert len(everything) == 8


def test_logged_messages_params_and_seed_are_what_gets_replayed():
    battle = make_battle(turn_count=2)
    tasks, _ = collect_tasks([battle])
    second_a = next(t for t in tasks if (t.turn, t.side) == (1, "a"))
    assert second_a.logged.messages == battle.turns[1].generation_a.messages
    assert second_a.logged.messages[0]["role"] == "system"
    assert second_a.logged.params["seed"] == battle.turns[1].generation_a.seed


def test_a_line_that_is_not_a_battle_record_is_named(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps(make_battle().to_dict()) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DriftInputError, match=r"log\.jsonl:2: not valid JSON"):
        list(read_battle_log(path))
    path.write_text('{"model_a": "x", "model_b": "y", "winner": "tie"}\n', encoding="utf-8")
    with pytest.raises(DriftInputError, match=r":1: not a battle record of our JSONL export"):
        list(read_battle_log(path))


# --- the report ----------------------------------------------------------------------------

def _result(model: str, turn: int, logged: str, replayed: str | None, **extra) -> TurnResult:
    status = "replayed" if replayed is not None else "failed"
    return TurnResult(
        battle_id="b1", turn=turn, side="a", model=model, status=status, seed=7,
        logged_output=logged, replayed_output=replayed,
        exact=None if replayed is None else logged == replayed,
        similarity=None if replayed is None else text_similarity(logged, replayed),
        served_logged=model, served_replayed=extra.get("served", model if replayed else None),
        error=None if replayed is not None else "cannot connect",
    )


def test_report_counts_rates_changes_and_worst_examples():
    results = [_result("m", 0, "a b c d", "a b c d"), _result("m", 1, "a b c d", "a b x d"),
               _result("m", 2, "a b c d", "w x y z", served="other"),
               _result("m", 3, "a b", None)]
    drift = summarise(results, worst=1).model("m")
    assert (drift.generations, drift.replayed, drift.failed, drift.exact_matches) == (4, 3, 1, 1)
    assert drift.exact_match_rate == pytest.approx(1 / 3)
    assert drift.mean_similarity == pytest.approx((1 + 0.75 + 0) / 3)
    assert drift.served_model_changes == 1
    assert drift.served_model_transitions == {"m -> other": 1}
    assert drift.failures == {"cannot connect": 1}
    assert [w["turn"] for w in drift.worst] == [2]


def test_fail_on_drift_gate_fails_low_rates_and_models_nothing_could_check():
    report = summarise([_result("good", 0, "x", "x"), _result("bad", 0, "x", "y"),
                        _result("down", 0, "x", None)])
    reasons = report.check(0.9)
    assert reasons == ["bad: exact-match rate 0.000 < 0.9",
                       "down: nothing could be replayed (1 failed)"]
    assert summarise([_result("good", 0, "x", "x")]).check(1.0) == []


def test_markdown_keeps_answers_inside_their_table_cells():
    report = summarise([_result("m", 0, "left | pipe\nnew line", "<script>x</script> | y")])
    text = to_markdown(report)
    row = next(line for line in text.splitlines() if line.startswith("| b1 turn 0"))
    assert "left \\| pipe<br>new line" in row
    assert "&lt;script&gt;" in row and "<script>" not in text
    assert row.count(" | ") == 3  # four cells: where, similarity, logged, replayed


# --- the command ---------------------------------------------------------------------------

def test_unreachable_endpoints_are_reported_not_fatal(tmp_path: Path):
    log = write_log(tmp_path / "log.jsonl",
                    [make_battle(model_a="m1", model_b="m2", turn_count=1),
                     make_battle(model_a="m2", model_b="m1", turn_count=1, status="error")])
    config = tmp_path / "arena.toml"
    port = closed_port()
    config.write_text(f'[[models]]\nname = "m1"\nbase_url = "http://127.0.0.1:{port}"\n',
                      encoding="utf-8")
    done = arena("drift", "generate", str(log), "--config", str(config),
                 "--out-dir", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    models = {m["model"]: m for m in report["models"]}
    # battle 2's m1 side failed when it was logged: skipped, not replayed
    assert (models["m1"]["failed"], models["m1"]["skipped"], models["m1"]["replayed"]) == (1, 1, 0)
    assert any(f"cannot connect to http://127.0.0.1:{port}" in e for e in models["m1"]["failures"])
    # m2 is not in the config: its generations fail with a message that says so
    assert models["m2"]["failed"] == 2 and models["m2"]["skipped"] == 0
    assert any("'m2' is not in the config" in e for e in models["m2"]["failures"])
    assert "m1: 1 failed: cannot connect" in done.stderr

    gated = arena("drift", "generate", str(log), "--config", str(config),
                  "--out-dir", str(tmp_path / "out"), "--fail-on-drift", "0.5")
    assert gated.returncode == 1
    assert "drift: m1: nothing could be replayed (1 failed)" in gated.stderr


def test_ctrl_c_stops_a_run_whichever_thread_the_kernel_hands_it_to(tmp_path: Path):
    """A process-directed SIGINT may be delivered to any thread that does not block it (here
    tqdm's monitor thread). The run waits on an endpoint that never answers, so only the signal
    can end it; with asyncio.run's own handler it slept until the 120 s first-token timeout."""
    import os
    import signal
    import socket

    log = write_log(tmp_path / "log.jsonl", [make_battle(model_a="m1", model_b="m2")])
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nothing ever answers
    silent.settimeout(120)
    port = silent.getsockname()[1]
    config = tmp_path / "arena.toml"
    config.write_text("".join(f'[[models]]\nname = "{name}"\nbase_url = '
                              f'"http://127.0.0.1:{port}"\n\n' for name in ("m1", "m2")),
                      encoding="utf-8")
    run = subprocess.Popen([sys.executable, "-m", "arena", "drift", "generate", str(log),
                            "--config", str(config), "--out-dir", str(tmp_path / "out"),
                            "--concurrency", "1"], stderr=subprocess.PIPE, text=True)
    try:
        # The first request is in flight; keeping its socket open keeps it waiting. Once its
        # headers are in, the client only waits (no executor thread is busy to wake the loop).
        request, _ = silent.accept()
        request.settimeout(60)
        sent = b""
        while b"\r\n\r\n" not in sent:
            sent += request.recv(65536)
        threads = [int(t) for t in os.listdir(f"/proc/{run.pid}/task") if int(t) != run.pid]
        assert threads, "the drift run has no second thread to hand the signal to"
        os.kill(threads[0], signal.SIGINT)  # kill() with a thread id prefers that thread
        _, stderr = run.communicate(timeout=60)  # TimeoutExpired: the signal was lost
    finally:
        if run.poll() is None:
            run.kill()
        request.close()
        silent.close()
    assert run.returncode == 130, stderr
    assert "run the same command again to resume" in stderr


def test_bad_input_exits_2_with_the_reason(tmp_path: Path):
    config = tmp_path / "arena.toml"
    config.write_text('[[models]]\nname = "m1"\nbase_url = "http://127.0.0.1:9"\n')
    missing = arena("drift", "generate", str(tmp_path / "nope.jsonl"), "--config", str(config))
    assert missing.returncode == 2
    assert "nope.jsonl: file not found" in missing.stderr

    log = write_log(tmp_path / "a.jsonl", [make_battle(model_a="m1", turn_count=1)])
    bad_config = arena("drift", "generate", str(log), "--config", str(tmp_path / "x.toml"))
    assert bad_config.returncode == 2 and "config file not found" in bad_config.stderr

    out = tmp_path / "out"
    assert arena("drift", "generate", str(log), "--config", str(config), "--models", "none",
                 "--out-dir", str(out)).returncode == 0
    other = write_log(tmp_path / "b.jsonl", [make_battle(model_a="m1", turn_count=2)])
    mixed = arena("drift", "generate", str(other), "--config", str(config),
                  "--out-dir", str(out))
    assert mixed.returncode == 2
    assert "holds the progress of another log" in mixed.stderr


def test_replay_is_a_hidden_alias_of_drift(tmp_path: Path):
    listing = arena("--help")
    assert "drift" in listing.stdout and "replay" not in listing.stdout
    helps = [[line.replace(f"arena {name} ", "arena NAME ").rstrip()
              for line in arena(name, "generate", "--help").stdout.splitlines()]
             for name in ("drift", "replay")]
    assert helps[0] == helps[1]
    config = tmp_path / "arena.toml"
    config.write_text('[[models]]\nname = "m1"\nbase_url = "http://127.0.0.1:9"\n')
    missing = arena("replay", "generate", str(tmp_path / "nope.jsonl"), "--config", str(config))
    assert missing.returncode == 2 and "nope.jsonl: file not found" in missing.stderr
