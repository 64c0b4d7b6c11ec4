"""Every kind of bad ping, alone and mixed into the hand-made race: counted, and it never moves a runner."""

from __future__ import annotations

import numpy as np
import pytest

from apps.race.handmade import BEN, BEN_I, GUN, batch, latlon, new_processor, ping_rows, point_at, race_rows
from shipml.apps.race.course import Course
from shipml.apps.race.pings import PingBatch
from shipml.apps.race.processor import RaceProcessor
from shipml.apps.race.rules import RaceRules
from shipml.apps.race.standings import Standings

# ben's first four pings are good: at 400 s he is 1400 m along (on the way out of the out-and-back)
GOOD = ping_rows(BEN_I, BEN[:4])
T = GUN + 400


def bad_pings() -> dict[str, PingBatch]:
    """One bad ping of every kind, each sent after ben's first four good pings."""
    lat, lon = (float(v) for v in latlon(*point_at(1450)))
    far_lat, far_lon = (float(v) for v in latlon(*point_at(5000)))
    off_lat, off_lon = (float(v) for v in latlon(800, 400))  # 200 m west of the way out, reachable in 50 s
    return {
        "duplicate": PingBatch.of([BEN_I], [T], [lat], [lon]),  # same time as the last good ping, elsewhere
        "out_of_order": PingBatch.of([BEN_I], [T - 50], [lat], [lon]),
        "late": PingBatch.of([BEN_I], [T + 10], [lat], [lon], received=[T + 10 + 901]),
        "teleport": PingBatch.of([BEN_I], [T + 10], [far_lat], [far_lon]),  # 2.2 km straight in 10 s
        "off_course": PingBatch.of([BEN_I], [T + 50], [off_lat], [off_lon]),
        "unknown_device": PingBatch.of([42], [T + 10], [lat], [lon]),
        "impossible": PingBatch.of([BEN_I] * 5, [T + 10, T + 11, T + 12, T + 13, T + 400],
                                   [95.0, 0.0, np.nan, lat, lat], [lon, 0.0, lon, 200.0, lon],
                                   received=[T + 10, T + 11, T + 12, T + 13, T + 20]),
    }


def state(p: RaceProcessor) -> tuple[np.ndarray, ...]:
    return (p.progress_m.copy(), p.last_t.copy(), p.last_x.copy(), p.splits_s.copy(), p.speed_mps.copy(),
            p.status.copy())


@pytest.mark.parametrize("reason", sorted(bad_pings()))
def test_each_bad_ping_alone_is_counted_and_moves_nobody(course: Course, reason: str) -> None:
    p = new_processor(course)
    p.process(batch(GOOD))
    before = state(p)
    ping = bad_pings()[reason]
    report = p.process(ping)
    assert report.accepted == 0
    assert report.rejected == {k: (len(ping) if k == reason else 0) for k in report.rejected}
    for a, b in zip(before, state(p), strict=True):
        np.testing.assert_array_equal(a, b)
    # and the runner carries on as if it never came
    p.process(batch(ping_rows(BEN_I, BEN[4:])))
    assert p.progress_m[BEN_I] == pytest.approx(2450, abs=0.01)


def test_bad_pings_mixed_into_the_race_leave_the_standings_as_they_should_be(course: Course) -> None:
    clean, noisy = new_processor(course), new_processor(course)
    rows = race_rows()
    clean.process(batch(rows))
    bad = bad_pings()
    for start in range(0, len(rows), 5):  # every 5 good pings, a copy of a good one and every bad kind
        clean_part = rows[start:start + 5]
        noisy.process(batch(clean_part))
        noisy.process(batch(clean_part[-1:]))  # a repeat of the last good ping: a duplicate
        for name in ("unknown_device", "impossible"):
            noisy.process(bad[name])
    groups = len(range(0, len(rows), 5))
    # the last group ends with eve's finish: its repeat is ignored as after the finish, not counted as bad
    assert {k: v for k, v in noisy.rejected.items() if v} == {"duplicate": groups - 1, "unknown_device": groups,
                                                              "impossible": 5 * groups}
    assert noisy.ignored["after_finish"] == 1
    np.testing.assert_array_equal(clean.progress_m, noisy.progress_m)
    np.testing.assert_array_equal(clean.splits_s, noisy.splits_s)
    assert [s.runner for s in Standings(clean).page(10)] == [s.runner for s in Standings(noisy).page(10)]


def test_runner_specific_bad_pings_mixed_into_a_race(course: Course) -> None:
    """Ben's race with every runner-specific bad kind slipped in after his fourth ping."""
    clean, noisy = new_processor(course), new_processor(course)
    clean.process(batch(ping_rows(BEN_I, BEN)))
    noisy.process(batch(GOOD))
    for ping in bad_pings().values():
        noisy.process(ping)
    noisy.process(batch(ping_rows(BEN_I, BEN[4:])))
    assert noisy.rejected == {"unknown_device": 1, "impossible": 5, "late": 1, "duplicate": 1, "out_of_order": 1,
                              "teleport": 1, "off_course": 1}
    np.testing.assert_array_equal(clean.progress_m, noisy.progress_m)
    np.testing.assert_array_equal(clean.splits_s, noisy.splits_s)


def test_off_course_for_too_long_is_dnf(course: Course) -> None:
    p = new_processor(course, RaceRules(off_course_dnf_after_s=120))
    p.process(batch(GOOD))
    lat, lon = latlon(800, 400)
    p.process(PingBatch.of([BEN_I, BEN_I], [T + 30, T + 100], [lat, lat], [lon, lon]))
    assert p.status_names(np.array([BEN_I])) == ["running"]
    p.process(PingBatch.of([BEN_I], [T + 150], [lat], [lon]))
    assert p.status_names(np.array([BEN_I])) == ["dnf"]
    assert p.rejected["off_course"] == 3


def test_back_on_course_resets_the_off_course_clock(course: Course) -> None:
    p = new_processor(course, RaceRules(off_course_dnf_after_s=120))
    p.process(batch(GOOD))
    lat, lon = latlon(800, 400)
    p.process(PingBatch.of([BEN_I], [T + 30], [lat], [lon]))
    p.process(batch(ping_rows(BEN_I, [(450, 1500)])))
    p.process(PingBatch.of([BEN_I], [T + 140], [lat], [lon]))
    assert p.status_names(np.array([BEN_I])) == ["running"]
