"""A runner's recent track comes from what the processor keeps (a ring of matched positions, saved and published),
not from the raw pings; an unknown bib is a 404 before any other work."""

from __future__ import annotations

import shutil
from datetime import datetime
from typing import Any

import numpy as np
import pytest

from apps.race import simrace
from apps.race.handmade import ANA, ANA_I, BEN_I, batch, new_processor, ping_rows, race_rows
from shipml.apps.race import definition, queries, rawlog
from shipml.apps.race.course import Course
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.snapshot import load_state, save_state
from shipml.apps.race.trail import TRAIL_EVERY_S, TRAIL_POINTS, recent
from shipml.core.errors import NotFound


def test_the_trail_holds_the_latest_matched_positions_by_hand(course: Course) -> None:
    p = new_processor(course)
    p.process(batch(race_rows()))
    since, along = recent(p.trail_t[ANA_I], p.trail_m[ANA_I], int(p.trail_head[ANA_I]))
    # Ana's pings are 50-100 s apart: every one is kept, the ring holds her last TRAIL_POINTS
    assert since.tolist() == pytest.approx([t for t, _ in ANA[-TRAIL_POINTS:]], abs=0.01)
    assert along.tolist() == pytest.approx([d for _, d in ANA[-TRAIL_POINTS:]], abs=0.5)
    none = recent(p.trail_t[3], p.trail_m[3], int(p.trail_head[3]))  # Dan never pinged
    assert none[0].size == 0 and none[1].size == 0


def test_pings_every_ten_seconds_keep_points_spread_over_minutes_ending_at_the_latest(course: Course) -> None:
    plan = [(100 + 10 * k, 300 + 30 * k) for k in range(60)]  # 3 m/s, a ping every 10 s for 10 minutes
    one_by_one, at_once = new_processor(course), new_processor(course)
    for row in ping_rows(BEN_I, plan):
        one_by_one.process(batch([row]))
    at_once.process(batch(ping_rows(BEN_I, plan)))
    for p in (one_by_one, at_once):
        since, along = recent(p.trail_t[BEN_I], p.trail_m[BEN_I], int(p.trail_head[BEN_I]))
        assert since.size == TRAIL_POINTS
        assert since[-1] == pytest.approx(plan[-1][0]) and along[-1] == pytest.approx(plan[-1][1], abs=0.5)
        assert (np.diff(since)[:-1] >= TRAIL_EVERY_S).all() and (np.diff(along) > 0).all()
        assert since[-1] - since[0] >= 150  # about three minutes back
    np.testing.assert_array_equal(one_by_one.trail_t, at_once.trail_t)
    np.testing.assert_array_equal(one_by_one.trail_m, at_once.trail_m)


def test_the_trail_is_saved_with_the_state(course: Course, tmp_path: Any) -> None:
    p = new_processor(course)
    p.process(batch(race_rows()))
    back = load_state(save_state(p, tmp_path / "state.npz"))
    for name in ("trail_t", "trail_m", "trail_head"):
        np.testing.assert_array_equal(getattr(back, name), getattr(p, name), err_msg=name)


def test_a_runner_track_is_read_from_the_published_standings_not_from_raw_pings(platform: Any) -> None:
    race = simrace.define("trail", 60)
    with pytest.raises(NotFound, match="no runner with bib"):  # before any standings exist: no other work
        queries.runner(race, "no-such-bib", track=True)
    for frame in simrace.chunks(race, minutes=8):
        rawlog.write_file(race.name, frame)
    worker = RaceWorker(race)
    worker.step(settle_s=0.0)
    worker.publish()
    p = worker.processor
    bib = race.bibs[int(np.argmax(p.progress_m))]
    before = queries.runner(race, bib, track=True)
    shutil.rmtree(rawlog.raw_dir(race.name))  # the raw pings are not read: the same track without them
    after = queries.runner(definition.load(race.name), bib, track=True)
    assert after["track"] == before["track"] and len(after["track"]) >= 5
    i = race.bib_index[bib]
    last = after["track"][-1]
    assert (last["lat"], last["lon"]) == pytest.approx(tuple(float(v[0]) for v in race.course.position_at(
        [p.progress_m[i]])), abs=1e-6)
    assert datetime.fromisoformat(last["t"]).timestamp() == pytest.approx(float(p.last_t[i]), abs=0.05)
    assert "track" not in queries.runner(race, bib, track=False)
