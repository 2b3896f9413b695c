"""Judge agreement between original and replay votes (`ratings.agreement`, `arena ratings
--compare-replay`), on a small example worked out by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from factories import make_battle

from ratings.agreement import (
    OUTCOMES,
    cohen_kappa,
    compare_judges,
    split_replay,
    wilson_interval,
)
from ratings.errors import BattleDataError
from ratings.io import read_battles

# Originals: X, Y, Z are models; o5 was abandoned (no vote).
ORIGINALS = [
    ("o1", "X", "Y", "model_a", "voted"),
    ("o2", "X", "Z", "model_b", "voted"),
    ("o3", "Y", "Z", "tie", "voted"),
    ("o4", "X", "Y", "tie (bothbad)", "voted"),
    ("o5", "Y", "Z", None, "abandoned"),
]
# Replays (battle_id, replay_of, left, right, winner) and, by hand, in the original's sides:
REPLAYS = [
    ("r1", "o1", "Y", "X", "model_b"),        # swapped; X won = original left "a": agree
    ("r2", "o1", "X", "Y", "model_b"),        # same sides; Y won = "b" vs "a": disagree
    ("r3", "o2", "Z", "X", "model_a"),        # swapped; Z won = "b": agree
    ("r4", "o3", "Y", "Z", "tie (bothbad)"),  # "bothbad" vs "tie": agree only ties merged
    ("r5", "o4", "Y", "X", "tie (bothbad)"),  # agree
    ("r6", "o5", "Y", "Z", "model_a"),        # original not voted: left out
    ("r7", "o9", "Y", "Z", "model_a"),        # original not in the input: left out
]


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    original = pd.DataFrame(ORIGINALS, columns=["battle_id", "model_a", "model_b", "winner",
                                                "status"]).assign(mode="anonymous")
    replay = pd.DataFrame(REPLAYS, columns=["battle_id", "replay_of", "model_a", "model_b",
                                            "winner"]).assign(mode="replay", status="voted")
    return original, replay


def test_wilson_interval_matches_the_textbook_values():
    # 3 of 5 at 95%: centre (0.6 + z²/10) / (1 + z²/5), z = 1.95996 -> [0.2307, 0.8824].
    lower, upper = wilson_interval(3, 5)
    assert lower == pytest.approx(0.2307, abs=1e-4)
    assert upper == pytest.approx(0.8824, abs=1e-4)
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0, abs=1e-12)
    assert wilson_interval(10, 10)[0] == pytest.approx(0.7225, abs=1e-4)
    with pytest.raises(ValueError, match="between 0 and trials"):
        wilson_interval(6, 5)


def test_agreement_maps_replay_winners_back_to_the_original_sides():
    original, replay = frames()
    result = compare_judges(original, replay)
    assert (result.agree, result.n, result.rate) == (3, 5, 0.6)
    assert result.rate_ties_merged == pytest.approx(0.8)
    assert result.unmatched == {"no_original": 1, "original_not_voted": 1}
    assert list(result.pairs["swapped"]) == [True, False, True, False, True]
    expected = pd.DataFrame(0, index=list(OUTCOMES), columns=list(OUTCOMES))
    expected.loc["a", "a"] = 1        # r1
    expected.loc["a", "b"] = 1        # r2
    expected.loc["b", "b"] = 1        # r3
    expected.loc["tie", "bothbad"] = 1  # r4
    expected.loc["bothbad", "bothbad"] = 1  # r5
    assert result.confusion.to_numpy().tolist() == expected.to_numpy().tolist()
    # Rows 2,1,1,1; columns 1,2,0,2: p_e = (2+2+0+2)/25 = 0.24, kappa = 0.36 / 0.76.
    assert result.kappa == pytest.approx(0.36 / 0.76)
    assert cohen_kappa(result.confusion) == pytest.approx(0.473684, abs=1e-6)


def test_a_replay_that_names_other_models_than_its_original_is_an_error():
    original, replay = frames()
    replay.loc[0, "model_a"] = "W"
    with pytest.raises(BattleDataError, match="r1 of o1 shows W vs X"):
        compare_judges(original, replay)


def test_no_matching_votes_is_an_error_that_says_what_to_pass():
    original, replay = frames()
    with pytest.raises(BattleDataError, match="no replay vote matches"):
        compare_judges(original, replay.iloc[5:])


def test_one_log_splits_into_originals_and_replays():
    original, replay = frames()
    first, second = split_replay(pd.concat([original, replay], ignore_index=True))
    assert list(first["battle_id"]) == [row[0] for row in ORIGINALS]
    assert list(second["battle_id"]) == [row[0] for row in REPLAYS]


# ------------------------------------------------------------------------------------ CLI
def export(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in records), encoding="utf-8")
    return path


def logs(tmp_path: Path) -> tuple[Path, Path]:
    """Originals between three models; a replay vote per original that agrees except on
    every fourth, with the sides swapped on every other one."""
    models = ("m-one", "m-two", "m-three")
    originals, replays = [], []
    for index in range(24):
        left, right = models[index % 3], models[(index + 1) % 3]
        winner = "model_a" if index % 2 else "model_b"
        first = make_battle(turn_count=1, model_a=left, model_b=right, winner=winner)
        originals.append(first)
        swapped = index % 2 == 0
        agreed = index % 4 != 3
        won = {"model_a": left, "model_b": right}[winner] if agreed else (
            right if winner == "model_a" else left)
        shown = (right, left) if swapped else (left, right)
        replays.append(make_battle(
            turn_count=1, model_a=shown[0], model_b=shown[1], mode="replay",
            replay_of=first.battle_id, pair_policy="replay",
            winner="model_a" if won == shown[0] else "model_b",
        ))
    return export(tmp_path / "original.jsonl", originals), export(tmp_path / "replay.jsonl",
                                                                  replays)


def arena(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "arena", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_ratings_compare_replay_prints_agreement_confusion_and_both_boards(tmp_path):
    original, replay = logs(tmp_path)
    out = tmp_path / "judges.json"
    done = arena("ratings", original, "--compare-replay", replay, "--out", out)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "agreement         75.0%  (18/24; 95% Wilson CI" in text
    assert "Confusion (rows: original vote, columns: replay vote" in text
    assert "== Original votes on the re-voted battles ==" in text
    assert "== Replay votes on the same battles ==" in text
    assert text.index("== Original votes") < text.index("== Replay votes")
    report = json.loads(out.read_text())
    # Each pair meets 8 times and, by the construction of `logs`, every model wins half its
    # 16 battles under both judges (the flipped votes move 2 wins per pair to the right
    # side, and each model is left in one pair and right in another): equal ratings.
    for judges in ("original", "replay"):
        rows = report["boards"][judges]["leaderboard"]
        assert {row["model"]: (row["battles"], row["win_rate"]) for row in rows} == {
            "m-one": (16, 0.5), "m-two": (16, 0.5), "m-three": (16, 0.5)}, judges
        assert [row["rating"] for row in rows] == pytest.approx([1000.0] * 3)
    assert report["agreement"]["pairs"] == 24 and report["agreement"]["agree"] == 18
    # The disagreements are battles 3, 7, ..., 23: originally "model_a" (the left won).
    assert report["agreement"]["confusion"]["a"] == {"a": 6, "b": 6, "tie": 0, "bothbad": 0}
    assert report["agreement"]["confusion"]["b"] == {"a": 0, "b": 12, "tie": 0, "bothbad": 0}
    assert report["boards"]["replay"]["rows_used"] == 24


def test_ratings_compare_replay_reads_one_combined_log(tmp_path):
    original, replay = logs(tmp_path)
    combined = tmp_path / "combined.jsonl"
    combined.write_text(original.read_text() + replay.read_text(), encoding="utf-8")
    done = arena("ratings", combined, "--compare-replay", combined)
    assert done.returncode == 0, done.stderr
    assert "(18/24;" in done.stdout


def test_ratings_compare_replay_without_replay_votes_says_so(tmp_path):
    original, _ = logs(tmp_path)
    done = arena("ratings", original, "--compare-replay", original)
    assert done.returncode == 2
    assert "no replay vote matches" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_readers_carry_battle_id_replay_of_and_mode(tmp_path):
    _, replay = logs(tmp_path)
    frame = read_battles(replay)
    assert {"battle_id", "replay_of", "mode", "side_seed", "model_a", "model_b"} <= set(
        frame.columns)
    assert (frame["mode"] == "replay").all() and frame["replay_of"].notna().all()
