"""`arena ratings --from-manifest`: a re-run that differs exits 1, and every way a manifest
or its input can be unusable is refused with exit 2 and a message that says what to do.

Exit 1 is reserved for "recomputed, and the table came out different", so a broken manifest
must never exit 1 (a traceback does).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from arena.cli import app

ROWS = "model_a,model_b,winner\n" + "".join(
    f"{a},{b},{w}\n" for a, b, w in [
        ("ace", "mid", "model_a"), ("mid", "ace", "model_b"), ("ace", "low", "model_a"),
        ("low", "ace", "model_b"), ("mid", "low", "model_a"), ("low", "mid", "tie"),
        ("mid", "low", "model_a"), ("low", "mid", "model_b"),
    ])


def ratings(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["ratings", *map(str, args)])


@pytest.fixture
def recorded(tmp_path) -> tuple[Path, Path, Path]:
    """(input, output, manifest) of a finished run."""
    source = tmp_path / "battles.csv"
    source.write_text(ROWS)
    out = tmp_path / "board.csv"
    result = ratings(source, "--out", out)
    assert result.exit_code == 0, result.stderr
    return source, out, tmp_path / "board.csv.manifest.json"


def edit(manifest: Path, change) -> None:
    data = json.loads(manifest.read_text())
    change(data)
    manifest.write_text(json.dumps(data))


def refused(result: Result, message: str) -> None:
    """Exit 2 with `message` on stderr, and no traceback."""
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert message in result.stderr
    assert result.stderr.startswith("error: ")


def test_a_rerun_that_gives_another_table_says_different_and_exits_1(recorded):
    """The manifest's options now describe another computation than the one that wrote
    the recorded output (as a changed rating method would): the re-run must say so."""
    _, out, manifest = recorded
    original = out.read_bytes()
    edit(manifest, lambda data: data["options"].update(mean=1100.0))
    result = ratings("--from-manifest", manifest)
    assert result.exit_code == 1
    assert "(DIFFERENT from the recorded output, SHA-256" in result.stdout
    rerun = pd.read_csv(out.with_name("board.rerun.csv"))
    assert rerun["rating"].mean() == pytest.approx(1100.0)
    assert out.read_bytes() == original  # the recorded table is never overwritten


def test_a_rerun_writes_to_out_with_a_manifest_of_its_own(recorded, tmp_path):
    _, out, manifest = recorded
    target = tmp_path / "again" / "copy.csv"
    result = ratings("--from-manifest", manifest, "--out", target)
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes() == out.read_bytes()
    written = json.loads((tmp_path / "again" / "copy.csv.manifest.json").read_text())
    assert written["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"wrote {target} (identical to the recorded output" in result.stdout


def test_a_moved_input_is_found_when_given_as_input(recorded, tmp_path):
    source, out, manifest = recorded
    moved = tmp_path / "elsewhere.csv"
    source.rename(moved)
    gone = ratings("--from-manifest", manifest)
    refused(gone, f"input {source} of manifest {manifest} not found; pass its new location "
                  "as INPUT (`arena ratings NEW_PATH --from-manifest MANIFEST`)")
    found = ratings(moved, "--from-manifest", manifest)
    assert found.exit_code == 0, found.stderr
    assert "identical to the recorded output" in found.stdout
    assert out.with_name("board.rerun.csv").read_bytes() == out.read_bytes()


def test_an_input_edited_after_the_run_is_refused_before_computing(recorded):
    source, out, manifest = recorded
    recorded_sha = hashlib.sha256(source.read_bytes()).hexdigest()
    with source.open("a") as handle:
        handle.write("low,ace,model_a\n")
    result = ratings("--from-manifest", manifest)
    new_sha = hashlib.sha256(source.read_bytes()).hexdigest()
    refused(result, f"input {source} has SHA-256 {new_sha}, but manifest {manifest} was made "
                    f"from {recorded_sha}: the file changed")
    assert not out.with_name("board.rerun.csv").exists()


def test_a_missing_manifest_is_named(tmp_path):
    refused(ratings("--from-manifest", tmp_path / "none.json"),
            f"error: {tmp_path / 'none.json'}: manifest not found")


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not valid JSON: Expecting property name enclosed in double quotes"),
    ("[1, 2]", "not a manifest (expected a JSON object)"),
    ('{"manifest_version": 7}', "unsupported manifest_version 7"),
])
def test_a_manifest_that_is_not_one_is_refused(tmp_path, text, message):
    path = tmp_path / "m.json"
    path.write_text(text)
    refused(ratings("--from-manifest", path), f"error: {path}: {message}")


@pytest.mark.parametrize("key", ["input.path", "input.sha256", "output.path", "output.sha256",
                                 "options"])
def test_a_manifest_missing_a_key_names_it(recorded, key):
    _, _, manifest = recorded
    *parents, last = key.split(".")

    def drop(data: dict) -> None:
        for part in parents:
            data = data[part]
        del data[last]

    edit(manifest, drop)
    refused(ratings("--from-manifest", manifest),
            f"error: {manifest}: manifest lacks {key}; write a new one with "
            "`arena ratings INPUT --out FILE`")


@pytest.mark.parametrize(("change", "message"), [
    ({"colour": "red"}, "error: unknown rating option(s): colour"),
    ({"ties": "split"}, "error: ties must be one of ('half', 'drop', 'davidson')"),
])
def test_a_manifest_with_bad_options_is_refused(recorded, change, message):
    _, out, manifest = recorded
    edit(manifest, lambda data: data["options"].update(change))
    refused(ratings("--from-manifest", manifest), message)
    assert not out.with_name("board.rerun.csv").exists()
