"""The Spark path's payloads (no Spark needed): arrays survive a pack and unpack exactly, a group's state comes
back whole, and "changed" means a runner's arrays changed (a NaN left as it was is no change)."""

from __future__ import annotations

import numpy as np

from apps.race.handmade import GUN, latlon, point_at
from shipml.apps.race.course import Course
from shipml.apps.race.pings import PingBatch
from shipml.apps.race.processor import RaceProcessor
from shipml.apps.race.spark_blocks import (
    CHANGING,
    apply_changes,
    pack,
    pack_changes,
    pack_state,
    runner_bytes,
    unpack,
    unpack_state,
)


def test_arrays_and_meta_come_back_exactly() -> None:
    arrays = {"runner": np.array([3, -1, 7], dtype=np.int64), "t": np.array([1.5, np.nan, -0.0]),
              "kind": np.array([0, 1, 2], dtype=np.int8), "splits": np.arange(6, dtype=np.float32).reshape(3, 2),
              "none": np.zeros(0, dtype=np.float64)}
    back, meta = unpack(pack(arrays, {"edges": {"unknown_device": 7}}))
    assert list(back) == list(arrays) and meta == {"edges": {"unknown_device": 7}}
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype and back[name].shape == array.shape
        np.testing.assert_array_equal(back[name], array)


def test_a_group_state_comes_back_whole_and_only_changed_runners_are_sent(course: Course) -> None:
    lat, lon = (float(v) for v in latlon(*point_at(300.0)))
    p = RaceProcessor(course, 4, start_t=GUN)
    p.process(PingBatch.of([0, 2, 9], [GUN + 60] * 3, [lat] * 3, [lon] * 3))  # 9: nobody's device
    assert p.accepted == 2 and p.rejected["unknown_device"] == 1
    q = RaceProcessor(course, 4, start_t=GUN)
    unpack_state(q, pack_state(p))
    for name in CHANGING:
        np.testing.assert_array_equal(getattr(q, name), getattr(p, name), err_msg=name)
    assert (q.accepted, q.rejected, q.clock) == (p.accepted, p.rejected, p.clock)

    touched = np.array([0, 1, 2], dtype=np.int64)
    before = runner_bytes(q, touched)
    np.testing.assert_array_equal(runner_bytes(q, touched), before)  # NaN fields compare equal to themselves
    q.process(PingBatch.of([0, 1], [GUN + 60, GUN + 70], [lat] * 2, [lon] * 2))  # 0: a duplicate; 1: moves
    changed = touched[(runner_bytes(q, touched) != before).any(axis=1)]
    assert changed.tolist() == [1]

    driver = RaceProcessor(course, 8, start_t=GUN)  # the whole race; the group holds runners 1, 3, 5, 7
    counts = apply_changes(driver, pack_changes(q, changed, np.array([1, 3, 5, 7]), {"part": 1}))
    assert counts == {"part": 1}
    assert driver.last_t[3] == GUN + 70 and np.isnan(driver.last_t[[0, 1, 2, 4, 5, 6, 7]]).all()
