"""The simulated demo race is always live: editions back to back on a schedule the page is told (a countdown to
each gun, a notice before each end that names the next gun), the first gun only once someone can watch, every
simulated runner in before the end; the home page's card describes the live race."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from apps.race import simrace
from shipml.apps.race import board, demo, edition, queries, rawlog, tasks
from shipml.apps.race.definition import Race
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.schemas import Edition, LiveStats
from shipml.apps.race.settings import settings
from shipml.apps.race.simulate import DEFAULT_FIT, plan
from shipml.core.schemas import AppStatus

T0 = 1_800_000_000.0  # a wall time, so the schedule does not depend on when the test runs
POLL_S = 1.0  # the simulator looks at the clock every second


def editions_over(hours: float) -> list[edition.Schedule]:
    """Every edition the simulator's policy starts over ``hours`` of wall time from T0: the first by ``prepare``,
    each next one when the previous ends (seen up to a poll later)."""
    race, why = tasks.demo_edition(now=T0)
    assert why == "no race yet"
    plans = [edition.schedule(race.definition)]
    while plans[-1] is not None and plans[-1].ends < T0 + hours * 3600:
        now = plans[-1].ends + POLL_S
        race, why = tasks.demo_edition(now=now)
        assert why == "the last edition is over"
        plans.append(edition.schedule(race.definition))
    return [p for p in plans if p is not None]


def test_a_race_is_in_progress_at_any_time_of_a_long_run(platform: Any) -> None:
    """Over six hours of `make run` at the default speed-up, at 5,000 random times: a race is under way, or its
    gun fires within a lead and a poll (the page counts down); under way more than 95 % of the time."""
    plans = editions_over(6)
    assert len(plans) >= 6 and all(p.speedup == settings().simulate_speedup for p in plans)
    times = np.random.default_rng(0).uniform(plans[0].gun, T0 + 6 * 3600, 5000)
    running = 0
    for t in times:
        live = [p for p in plans if p.running(t)]
        soon = [p for p in plans if 0 < p.gun - t <= edition.LEAD_S + POLL_S]
        assert live or soon, t
        running += bool(live)
    assert running / times.size > 0.95
    for this, following in zip(plans, plans[1:], strict=False):  # the notice's promise is kept
        assert following.gun == pytest.approx(this.next_gun, abs=POLL_S + 0.01)
        assert following.gun > this.ends


def test_the_page_is_told_the_countdown_and_the_end_with_the_next_gun(platform: Any) -> None:
    plans = editions_over(0.1)
    first = plans[0]
    race = tasks.demo_edition(now=first.gun - 5)[0]

    def said(t: float) -> str | None:
        answer = queries.edition_of(race, now=t)
        return board.notice(Edition.model_validate(answer) if answer else None)

    assert said(first.gun - 5) == (f"The gun of this simulated race fires in 5 s (at "
                                   f"{time.strftime('%H:%M:%S', time.gmtime(first.gun))} UTC).")
    assert said(first.gun + 60) is None  # under way, the end far off
    ending = said(first.ends - 100)
    assert ending is not None and ending.startswith("This simulated race ends in 1 min 40 s")
    assert f"a new one starts at {time.strftime('%H:%M:%S', time.gmtime(first.next_gun))} UTC" in ending
    assert said(first.ends - edition.NOTICE_S - 1) is None
    assert said(first.ends + 1) == (f"This simulated race is over; a new one starts at "
                                    f"{time.strftime('%H:%M:%S', time.gmtime(first.next_gun))} UTC.")


def test_the_first_gun_waits_until_someone_can_watch(platform: Any) -> None:
    """`shipml up` prepared the race at T0; the API answered only at T0 + 90 s, after its gun, with no ping stored:
    the simulator starts the edition again, its gun a lead after that. An edition with pings is joined instead
    (the simulator restarted mid-race)."""
    race, _ = tasks.demo_edition(now=T0)
    gun = edition.schedule(race.definition).gun  # type: ignore[union-attr]
    assert gun == pytest.approx(T0 + edition.LEAD_S)
    again, why = tasks.demo_edition(now=T0 + 90)
    assert why == "its gun fired before the simulator was sending"
    assert edition.schedule(again.definition).gun == pytest.approx(T0 + 90 + edition.LEAD_S)  # type: ignore[union-attr]
    rawlog.store(again.name, simrace.chunks(again, minutes=0.5)[-1])
    kept, why = tasks.demo_edition(now=T0 + 200)
    assert why is None and kept.definition.digest == again.definition.digest


def test_every_simulated_runner_is_in_before_the_edition_ends() -> None:
    """100,000 planned runners of the demo field (all categories): the slowest finishes by FINISHED_BY_S."""
    length = 10_150.0
    people = demo.participants(100_000, seed=2)
    field = plan(people.height, dict(DEFAULT_FIT), length, np.random.default_rng(4),
                 demo.pace_factors(people["category"]), edition.FINISHED_BY_S)
    finish = length / field.speed * (1 + (field.fade - 1) / 2)  # the time distance_at reaches the finish
    assert finish.max() <= edition.FINISHED_BY_S
    assert np.median(finish) == pytest.approx(length / 1000 * DEFAULT_FIT["median_pace_s_per_km"], rel=0.1)


def published(race: Race, minutes: float) -> None:
    worker = RaceWorker(race)
    for frame in simrace.chunks(race, minutes=minutes):
        rawlog.store(race.name, frame)
    worker.step(settle_s=0.0)
    worker.publish()


def test_the_home_card_describes_the_live_race(platform: Any) -> None:
    race = simrace.define("demo", 300)
    before = AppStatus.model_validate(tasks.status()).activity
    assert before is not None and before.headline.endswith("waiting for its first standings") and before.simulated
    published(race, minutes=20)
    activity = AppStatus.model_validate(tasks.status()).activity
    counts = LiveStats.model_validate(queries.stats(race)).status
    assert activity is not None and activity.simulated and activity.headline == f"{tasks.DEMO_TITLE}: under way"
    assert activity.figures["runners"] == "300"
    assert activity.figures["running"] == f"{counts.running + counts.stale:,}" != "0"
    assert activity.figures["finished"] == f"{counts.finished:,}"


def test_only_the_demo_race_has_editions(platform: Any) -> None:
    """A race simulated by `shipml race simulate` (another name) is never started again: no schedule to announce."""
    other = tasks.define_simulated("sim", 20, 10.0, now=T0)
    assert queries.edition_of(other, now=T0 + 60) is None
    demo_race, _ = tasks.demo_edition(now=T0)
    assert queries.edition_of(demo_race, now=T0 + 60) is not None
