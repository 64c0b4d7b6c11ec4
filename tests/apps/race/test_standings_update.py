"""The incremental ranking (ranking_update.RankingKeeper) equals a full build after every cycle: order (ties
included), ranks, category lists and ranks, gaps. States are changed at random (shares of runners from none to
most, finishers with equal times, runners at the same point reached at the same time, DNFs and reinstatements,
not started, categories), and through the real processor on a simulated field."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.race.handmade import GUN
from apps.race.simrace import simulated_field
from shipml.apps.race import demo
from shipml.apps.race.course import Course
from shipml.apps.race.processor import DNF, FINISHED, NOT_STARTED, RUNNING, RaceProcessor
from shipml.apps.race.ranking_update import RankingKeeper, search_within
from shipml.apps.race.standings import Ranking, rank_runners, ranking_keys

SHARES = (0.0, 0.0005, 0.01, 0.1, 0.25, 0.6)


def assert_same(got: Ranking, want: Ranking, p: RaceProcessor) -> None:
    tier, primary, tie = ranking_keys(p)
    reference = np.lexsort((np.arange(p.runners), tie, primary, tier))  # the order, independently of both
    np.testing.assert_array_equal(want.order, reference)
    np.testing.assert_array_equal(got.order, want.order)
    assert got.ranked == want.ranked
    np.testing.assert_array_equal(got.rank, want.rank)
    np.testing.assert_array_equal(got.category_rank, want.category_rank)
    assert got.category_order.keys() == want.category_order.keys()
    for c in want.category_order:
        np.testing.assert_array_equal(got.category_order[c], want.category_order[c])
    np.testing.assert_array_equal(got.finish_s, want.finish_s)
    np.testing.assert_array_equal(got.gap_s, want.gap_s)  # nan where nan: exactly the same values
    np.testing.assert_array_equal(got.category_gap_s, want.category_gap_s)


def change_at_random(p: RaceProcessor, rng: np.random.Generator, share: float) -> None:
    """One cycle: a share of the runners get a new state, drawn from few values so that keys tie often."""
    runners = np.flatnonzero(rng.random(p.runners) < share)
    p.touch(runners)
    status = rng.choice([NOT_STARTED, RUNNING, FINISHED, DNF], runners.size, p=[0.1, 0.5, 0.3, 0.1])
    length = p.course.length_m
    p.status[runners] = status
    p.progress_m[runners] = np.where(status == FINISHED, length,
                                     rng.choice([0.0, 10.0, 500.0, 2_000.0, length - 1.0], runners.size)
                                     + rng.choice([0.0, 0.5], runners.size))
    p.progress_t[runners] = np.where(status == NOT_STARTED, np.nan,
                                     GUN + rng.choice([np.nan, 100.0, 100.0, 250.0, 900.0], runners.size))
    p.last_t[runners] = p.progress_t[runners]
    p.splits_s[runners] = np.nan
    half = p.progress_m[runners] >= length / 2
    p.splits_s[runners[half], 0] = rng.choice([300.0, 301.5], int(half.sum()))
    p.splits_s[runners, -1] = np.where(status == FINISHED, rng.choice([900.0, 900.0, 1000.0, np.nan], runners.size),
                                       np.nan)
    p.version += 1


def random_race(seed: int, runners: int, categories: int, cycles: int) -> RankingKeeper:
    rng = np.random.default_rng(seed)
    lat, lon = demo.course_latlon()
    course = Course(lat, lon, checkpoint_every_m=5000.0)
    p = RaceProcessor(course, runners, start_t=GUN, categories=rng.integers(0, categories, runners),
                      category_names=tuple(f"c{i}" for i in range(categories)))
    keeper = RankingKeeper()
    for _ in range(cycles):
        change_at_random(p, rng, float(rng.choice(SHARES)))
        if rng.random() < 0.2:  # the admin's commands go through the processor's own tracking
            p.set_dnf(rng.integers(0, runners, 3), dnf=bool(rng.random() < 0.5))
        assert_same(keeper.rank(p), rank_runners(p), p)
    return keeper


@pytest.mark.parametrize(("runners", "categories"), [(3_000, 5), (2_000, 1)])
def test_the_update_equals_a_full_build_over_many_random_cycles(runners: int, categories: int) -> None:
    keeper = random_race(seed=20261203, runners=runners, categories=categories, cycles=120)
    assert keeper.updates > keeper.full_builds  # most cycles merged, not rebuilt


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), runners=st.integers(1, 400), categories=st.integers(1, 4))
def test_the_update_equals_a_full_build_whatever_the_race(seed: int, runners: int, categories: int) -> None:
    random_race(seed, runners, categories, cycles=25)


def test_the_update_equals_a_full_build_on_a_simulated_field() -> None:
    """A thousand simulated runners (noise, dropouts, skew) processed every 30 s for 40 min, a few DNFs."""
    keeper = RankingKeeper(full_build_above=1.0)  # most runners ping within 30 s: merge them all the same
    for step, p in simulated_field(GUN):
        if step % 7 == 4:
            p.set_dnf([step - 1])
        assert_same(keeper.rank(p), rank_runners(p), p)
    assert keeper.updates > 0 and (p.status == FINISHED).any()


def test_too_many_changes_or_an_untracked_processor_rebuild_in_full() -> None:
    lat, lon = demo.course_latlon()
    p = RaceProcessor(Course(lat, lon), 100, start_t=GUN)
    keeper = RankingKeeper(full_build_above=0.3)
    keeper.rank(p)
    assert keeper.full_builds == 1
    change_at_random(p, np.random.default_rng(1), 0.9)
    assert_same(keeper.rank(p), rank_runners(p), p)
    assert (keeper.full_builds, keeper.updates) == (2, 0)
    p.changed_at = None  # e.g. a processor over published arrays: changes unknown
    p.version += 1
    keeper.rank(p)
    assert keeper.full_builds == 3
    p.version += 1
    keeper.rank(RaceProcessor(Course(lat, lon), 100, start_t=GUN))  # another processor
    assert keeper.full_builds == 4


def test_a_version_without_changes_keeps_the_ranking() -> None:
    lat, lon = demo.course_latlon()
    p = RaceProcessor(Course(lat, lon), 50, start_t=GUN)
    keeper = RankingKeeper()
    first = keeper.rank(p)
    p.version += 1  # e.g. a batch of rejected pings only
    assert keeper.rank(p) is first


def test_search_within_is_searchsorted_on_each_range() -> None:
    rng = np.random.default_rng(7)
    keys = np.concatenate([np.sort(rng.integers(0, 5, 20)) for _ in range(30)]).astype(np.float64)
    lo = np.repeat(np.arange(30) * 20, 4)
    hi = lo + 20
    query = rng.integers(-1, 7, lo.size).astype(np.float64)
    for right in (False, True):
        side = "right" if right else "left"
        want = [lo[i] + np.searchsorted(keys[lo[i]:hi[i]], query[i], side=side) for i in range(lo.size)]
        np.testing.assert_array_equal(search_within(keys, lo, hi, query, right=right), want)
