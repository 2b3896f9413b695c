"""`arena ratings` end to end: outputs, manifest, re-run from the manifest, plots, errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def llmfao_csv(tmp_path_factory) -> Path:
    raw = pd.read_csv(DATA / "llmfao.csv")
    frame = pd.DataFrame({
        "model_a": raw["left"], "model_b": raw["right"],
        "winner": raw["winner"].map({"left": "model_a", "right": "model_b", "tie": "tie"}),
        "judge": raw["worker"], "prompt": raw["prompt"],
    })
    path = tmp_path_factory.mktemp("llmfao") / "battles.csv"
    frame.to_csv(path, index=False)
    return path


def arena(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", "ratings", *map(str, args)],
                          capture_output=True, text=True, check=False)


def test_prints_and_writes_the_leaderboard_with_a_manifest(llmfao_csv, tmp_path):
    out = tmp_path / "board.csv"
    result = arena(llmfao_csv, "--out", out, "--position-bias")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split()[:8] == [
        "rank", "rank_ub", "model", "rating", "lower", "upper", "battles", "win_rate"]
    assert "Position bias: left side advantage" in result.stdout
    table = pd.read_csv(out)
    assert len(table) == 59 and table.loc[0, "model"] == "GPT 4"
    manifest = json.loads((tmp_path / "board.csv.manifest.json").read_text())
    assert manifest["rows_read"] == 8931 and manifest["rows_used"] == 8931
    assert manifest["input"]["sha256"] == hashlib.sha256(llmfao_csv.read_bytes()).hexdigest()
    assert manifest["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["options"]["ties"] == "half" and manifest["seed"] == 0
    assert manifest["versions"]["numpy"] == np.__version__


def test_rerun_from_manifest_reproduces_the_table_bit_for_bit(llmfao_csv, tmp_path):
    out = tmp_path / "board.csv"
    first = arena(llmfao_csv, "--out", out, "--ci", "bootstrap", "--rounds", "100",
                  "--seed", "5")
    assert first.returncode == 0, first.stderr
    again = arena("--from-manifest", tmp_path / "board.csv.manifest.json")
    assert again.returncode == 0, again.stderr
    assert "identical to the recorded output" in again.stdout
    assert (tmp_path / "board.rerun.csv").read_bytes() == out.read_bytes()


def test_rerun_refuses_a_changed_input(llmfao_csv, tmp_path):
    copy = tmp_path / "battles.csv"
    copy.write_bytes(llmfao_csv.read_bytes())
    out = tmp_path / "board.json"
    assert arena(copy, "--out", out).returncode == 0
    with copy.open("a") as handle:
        handle.write("GPT 4,Claude v1,model_a,1,1\n")
    result = arena("--from-manifest", tmp_path / "board.json.manifest.json")
    assert result.returncode == 2
    assert "SHA-256" in result.stderr and "changed" in result.stderr


def test_by_writes_one_board_per_group_and_markdown(llmfao_csv, tmp_path):
    out = tmp_path / "board.md"
    result = arena(llmfao_csv, "--by", "prompt", "--where", "prompt=2", "--out", out,
                   "--allow-disconnected")
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    # The overall board (rank changes are counted against it), then only the group the
    # filter keeps, holding exactly that prompt's battles.
    assert [line for line in text.splitlines() if line.startswith("## ")] == [
        "## overall", "## prompt = 2"]
    in_group = int((pd.read_csv(llmfao_csv)["prompt"] == 2).sum())
    assert in_group == 701
    assert (f"Battles: {in_group} used of 8931 rows read; dropped: where:prompt=2 "
            f"{8931 - in_group}.") in text
    assert "| rank | rank_ub |" in text


def test_plots_are_written(llmfao_csv, tmp_path):
    result = arena(llmfao_csv, "--plot", tmp_path / "plots", "--ci", "none")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["battle_count.png", "predicted_win_probability.png", "ratings.png",
                     "win_fraction.png"]
    images = {n: matplotlib.image.imread(tmp_path / "plots" / n) for n in names}
    # One row per model (59) on the ratings plot; the pair heatmaps are square.
    height, width = images["ratings.png"].shape[:2]
    assert height > 1.5 * width
    for name in names[:2] + names[3:]:
        assert images[name].shape[0] == images[name].shape[1], name
    for name, pixels in images.items():
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10, name


def test_bad_input_gives_a_clear_error_and_exit_code(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("model_a,model_b,winner\na,b,model_a\nb,a,won\n")
    result = arena(path)
    assert result.returncode == 2
    assert "unknown winner value(s) 'won' at line 3" in result.stderr
