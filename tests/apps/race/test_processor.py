"""The processor on the hand-made race: distances, splits, statuses, ranks and gaps worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from apps.race.handmade import (
    ANA,
    ANA_I,
    ANA_SPLITS,
    BEN_I,
    BEN_SPLITS,
    CLEO_I,
    DAN_I,
    EVE_I,
    GUN,
    batch,
    new_processor,
    ping_rows,
    race_rows,
)
from shipml.apps.race.course import Course
from shipml.apps.race.processor import RaceProcessor
from shipml.apps.race.rules import RaceRules
from shipml.apps.race.standings import Standings


def run_race(course: Course, batch_size: int = 7) -> RaceProcessor:
    processor = new_processor(course)
    rows = race_rows()
    for start in range(0, len(rows), batch_size):
        processor.process(batch(rows[start:start + batch_size]))
    processor.set_dnf([CLEO_I])
    return processor


def test_distances_and_splits_by_hand(course: Course) -> None:
    p = run_race(course)
    assert p.progress_m[[ANA_I, BEN_I, CLEO_I, DAN_I, EVE_I]] == pytest.approx([6000, 2450, 700, 0, 6000], abs=0.01)
    assert p.splits_s[ANA_I] == pytest.approx(ANA_SPLITS, abs=0.01)
    assert p.splits_s[EVE_I] == pytest.approx(np.array(ANA_SPLITS) + 50, abs=0.01)
    assert p.splits_s[BEN_I, :2] == pytest.approx(BEN_SPLITS, abs=0.01)
    assert np.isnan(p.splits_s[BEN_I, 2:]).all()
    assert p.accepted == len(race_rows()) and sum(p.rejected.values()) == 0


def test_every_batching_gives_the_same_state(course: Course) -> None:
    one_by_one, all_at_once = run_race(course, batch_size=1), run_race(course, batch_size=1000)
    for a, b in ((one_by_one.progress_m, all_at_once.progress_m), (one_by_one.splits_s, all_at_once.splits_s),
                 (one_by_one.speed_mps, all_at_once.speed_mps)):
        np.testing.assert_array_equal(a, b)


def test_standings_by_hand(course: Course) -> None:
    p = run_race(course)
    table = Standings(p)
    page = table.page(limit=10, now=GUN + 900)
    assert [s.runner for s in page][:3] == [ANA_I, EVE_I, BEN_I]
    assert [s.rank for s in page] == [1, 2, 3, None, None]
    assert {s.runner: s.status for s in page} == {ANA_I: "finished", EVE_I: "finished", BEN_I: "running",
                                                 CLEO_I: "dnf", DAN_I: "not_started"}
    ana, eve, ben = page[:3]
    assert ana.finish_s == pytest.approx(1250) and eve.finish_s == pytest.approx(1300)
    assert (ana.gap_s, ana.gap_m) == (0.0, 0.0)
    assert eve.gap_s == pytest.approx(50) and eve.gap_m == pytest.approx(0, abs=0.01)
    assert ben.gap_m == pytest.approx(3550, abs=0.01)
    # at ben's last point, 2450 m at 800 s: ana was there at 412.5 + 450/1000 × (640 - 412.5) s (her 2 and 3 km)
    assert ben.gap_s == pytest.approx(800 - (412.5 + 0.45 * 227.5), abs=0.01)
    assert ben.last_checkpoint == "2 km" and ana.last_checkpoint == "Finish"
    assert ben.last_seen_age_s == pytest.approx(100)
    assert [(s.category, s.category_rank) for s in page[:3]] == [("W", 1), ("W", 2), ("M", 1)]
    men = table.page(limit=10, category=1)
    assert [s.runner for s in men] == [BEN_I, DAN_I, CLEO_I] and men[0].gap_m == 0.0
    assert [s.runner for s in table.page(limit=1, offset=1)] == [EVE_I]


def test_pace_and_predicted_finish(course: Course) -> None:
    p = run_race(course)
    ben = Standings(p).lines([BEN_I])[0]
    # ben ran his last 150 m in 100 s; the smoothed speed lies between that and his earlier 3–4 m/s
    assert 1000 / 4.0 < ben.pace_s_per_km < 1000 / 1.5
    assert ben.predicted_finish_s == pytest.approx(800 * (6000 / 2450) ** 1.06, rel=1e-6)


def test_statuses_over_time(course: Course) -> None:
    p = new_processor(course, RaceRules(stale_after_s=120))
    assert p.status_names(np.arange(5)) == ["not_started"] * 5
    p.process(batch(ping_rows(BEN_I, [(100, 300)])))
    assert p.status_names(np.array([BEN_I]), now=GUN + 200) == ["running"]
    assert p.status_names(np.array([BEN_I]), now=GUN + 221) == ["stale"]
    assert p.last_seen_age_s(np.array([BEN_I]), now=GUN + 221)[0] == pytest.approx(121)
    p.set_dnf([BEN_I])
    assert p.status_names(np.array([BEN_I])) == ["dnf"]
    report = p.process(batch(ping_rows(BEN_I, [(200, 600)])))
    assert report.ignored["after_dnf"] == 1 and p.progress_m[BEN_I] == pytest.approx(300, abs=0.01)
    p.set_dnf([BEN_I], dnf=False)
    assert p.status_names(np.array([BEN_I]), now=GUN + 200) == ["running"]


def test_finished_runners_stay_finished(course: Course) -> None:
    p = new_processor(course)
    p.process(batch(ping_rows(ANA_I, ANA)))
    report = p.process(batch(ping_rows(ANA_I, [(1300, 5000)])))
    assert report.ignored["after_finish"] == 1
    assert p.status_names(np.array([ANA_I])) == ["finished"] and p.progress_m[ANA_I] == pytest.approx(6000)


def test_pings_before_the_start_do_not_move_anyone(course: Course) -> None:
    p = new_processor(course)
    report = p.process(batch(ping_rows(ANA_I, [(-60, 0), (-30, 300)])))
    assert report.ignored["before_start"] == 2 and p.status_names(np.array([ANA_I])) == ["not_started"]


@pytest.mark.parametrize("seed", range(3))
def test_the_ranking_order_is_the_lexsort_of_its_keys(seed: int) -> None:
    from shipml.apps.race.standings import ranking_order

    rng = np.random.default_rng(seed)  # any draw: compared with numpy's lexsort, not with stored values
    n = 20_000
    tier = rng.integers(0, 4, n)
    primary = np.round(rng.normal(0, 3, n))  # few distinct values: many ties
    primary[:50] = -0.0
    tie = np.round(rng.uniform(0, 3, n))
    tie[tier == 3] = 0.0
    primary[tier == 3] = 0.0  # a tier with one key for all (listed by index)
    np.testing.assert_array_equal(ranking_order(tier, primary, tie), np.lexsort((tie, primary, tier)))


def test_the_device_directory_finds_what_a_dictionary_finds() -> None:
    from shipml.apps.race.pings import DeviceDirectory

    devices = [f"dev-{i * 7 % 1000}" for i in range(500)] + ["", "zzz", "Ä-ß"]
    directory = DeviceDirectory(devices)
    asked = ["dev-7", "zzz", "aaa", "zzzz", "", "Ä-ß", "dev-999", "dev-0", "dev-7"]
    expected = [{d: i for i, d in enumerate(devices)}.get(d, -1) for d in asked]
    assert directory.indices(asked).tolist() == expected
    assert DeviceDirectory([]).indices(["x"]).tolist() == [-1] and directory.indices([]).size == 0
