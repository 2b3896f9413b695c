"""The lockstep release policy (arena/battles/lockstep.py) on a simulated clock: two models of
different speeds are fed to it as scripted arrivals, and the times and order of what it releases
are compared exactly, with the speeds swapped between the sides. The same policy inside the
battle service is tested in tests/test_battle_anonymity.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from arena.battles.lockstep import Lockstep, Pacing
from serving.records import GenerationRecord


def finished_record(output: str) -> GenerationRecord:
    now = datetime.now(UTC)
    return GenerationRecord(endpoint="http://x.invalid/v1", served_model="m", messages=[],
                            params={}, started_at=now, finished_at=now, output=output,
                            finish_reason="stop", completion_tokens=len(output))


def simulate(sides: dict[str, tuple[str, float, int, float]], pacing: Pacing = Pacing()
             ) -> list[tuple[float, str, str | None, str]]:
    """Drive `Lockstep` on a simulated clock. `sides`: side -> (answer, characters per second,
    characters per delta, seconds to the first token). Returns (time, kind, side, text) of
    each released event."""
    arrivals: list[tuple[float, str, str | None]] = []
    for side, (text, speed, chunk, first) in sides.items():
        for start in range(0, len(text), chunk):
            end = min(start + chunk, len(text))
            arrivals.append((first + end / speed, side, text[start:end]))
        arrivals.append((first + len(text) / speed, side, None))  # after its last delta
    arrivals.sort(key=lambda arrival: arrival[0])  # stable: a side's end after its text
    policy, released, now = Lockstep(pacing, 0.0), [], 0.0
    while not policy.finished():
        wake = policy.wake_at()
        if arrivals and (wake is None or arrivals[0][0] <= wake):
            now, side, text = arrivals.pop(0)
            if text is None:
                policy.finish(side, finished_record(sides[side][0]), now)
            else:
                policy.text(side, text, now)
        else:
            assert wake is not None, "the policy waits for nothing"
            now = max(now, wake)
        released += [(now, e.kind, e.side, e.text) for e in policy.release(now)]
    return released


def test_lockstep_event_times_do_not_show_which_model_was_faster():
    short, long = "s" * 64, "L" * 320
    fast, slow = (640.0, 4, 0.1), (64.0, 4, 0.1)
    short_fast = simulate({"a": (short, *fast), "b": (long, *slow)})
    short_slow = simulate({"a": (short, *slow), "b": (long, *fast)})
    assert short_fast == short_slow
    ends = {side: time for time, kind, side, _ in short_fast if kind == "done"}
    assert ends["b"] >= 0.1 + 320 / 64.0  # as late as the slow model would finish
    assert ends["a"] < 0.1 + 80 / 64.0 + 0.01  # the short side is not held to the end


@pytest.mark.parametrize("lengths", [(37, 500), (100, 100), (0, 90), (5, 60), (250, 171)])
def test_lockstep_order_and_end_time_do_not_depend_on_speed(lengths):
    text_a, text_b = "x" * lengths[0], "y" * lengths[1]
    fast, slow = (900.0, 7, 0.05), (50.0, 3, 0.4)
    one = simulate({"a": (text_a, *fast), "b": (text_b, *slow)})
    two = simulate({"a": (text_a, *slow), "b": (text_b, *fast)})
    assert [event[1:] for event in one] == [event[1:] for event in two]
    assert one[-1][0] == pytest.approx(two[-1][0], rel=0.1)


def test_the_tail_of_a_slow_short_answer_runs_at_the_floor_pace():
    pacing = Pacing(unit_chars=10, min_tail_chars_per_s=100.0)
    events = simulate({"a": ("", 1000.0, 5, 2.0), "b": ("y" * 200, 1000.0, 5, 0.0)}, pacing)
    done = [time for time, kind, side, _ in events if kind == "done" and side == "b"]
    assert done == [pytest.approx(2.0 + 200 / 100.0 + 10 / 100.0)]
