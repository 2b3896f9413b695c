"""Battle ids are version-7 UUIDs that sort by the time they were made."""

from __future__ import annotations

import time
import uuid

from arena.ids import new_battle_id


def test_a_battle_id_is_a_version_7_uuid_carrying_its_millisecond():
    now_ns = time.time_ns()
    battle_id = new_battle_id(now_ns)
    assert len(battle_id) == 32 and battle_id == battle_id.lower()
    parsed = uuid.UUID(hex=battle_id)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert int(battle_id[:12], 16) == now_ns // 1_000_000


def test_ids_sort_by_time_and_do_not_repeat():
    start = time.time_ns()
    ids = [new_battle_id(start + step * 1_000_000) for step in range(2000)]
    assert ids == sorted(ids)
    same_millisecond = {new_battle_id(start) for _ in range(20_000)}
    assert len(same_millisecond) == 20_000
    # the 74 random bits are not constant: every hex digit after the time varies
    for position in range(13, 32):
        if position == 16:  # the variant's two bits leave 4 values for this digit
            assert {i[position] for i in same_millisecond} == set("89ab")
            continue
        assert len({i[position] for i in same_millisecond}) == 16, position
