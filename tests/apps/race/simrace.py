"""A simulated race written straight into the raw store (no HTTP), for the processor and Spark tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from shipml.apps.race import demo, rawlog, tasks
from shipml.apps.race.course import Course
from shipml.apps.race.definition import Race
from shipml.apps.race.pings import PingBatch
from shipml.apps.race.processor import RaceProcessor
from shipml.apps.race.simulate import DEFAULT_FIT, Simulator

SPEEDUP = 200.0


def define(name: str, runners: int) -> Race:
    return tasks.define_simulated(name, runners, SPEEDUP, lead_s=0.0)


def chunks(race: Race, minutes: float, every_s: float = 20.0, seed: int = 5) -> list[pl.DataFrame]:
    """The race's pings for ``minutes`` of race time, one raw frame per ``every_s`` of race time; the same pings on
    every run (unseeded, a field of 150 had 2 to 8 finishers after 45 min in 12 runs, and none in one suite run,
    which failed a test that needs both finishers and runners still out)."""
    gun = race.definition.start.timestamp()
    origin = race.definition.clock_origin.timestamp()  # type: ignore[union-attr]
    sim = Simulator(race.course, race.participants["device"].to_list(), gun, api_url="http://unused", race=race.name,
                    fit=dict(DEFAULT_FIT), seed=seed)
    frames = []
    for race_now in np.arange(gun + every_s, gun + minutes * 60 + every_s / 2, every_s):
        cols = sim.pings_until(float(race_now))
        received = origin + (race_now - origin) / SPEEDUP  # the wall time at which race time was race_now
        n = cols["t"].size
        frames.append(pl.DataFrame({
            "device": cols["device"].astype(str), "t": cols["t"], "lat": cols["lat"], "lon": cols["lon"],
            "ele": [None] * n, "hr": cols["hr"], "received": np.full(n, received), "source": ["test"] * n,
            "kind": np.zeros(n, dtype=np.int8)}, schema=rawlog.RAW_SCHEMA))
    return frames


def simulated_field(gun: float, runners: int = 1000, minutes: int = 40, every_s: float = 30.0
                    ) -> Iterator[tuple[int, RaceProcessor]]:
    """A simulated field on the demo course (GPS noise, dropouts, clock skew, ping phases, categories) processed
    every ``every_s`` of race time for ``minutes``: yields (step from 1, the processor after that step's pings)."""
    lat, lon = demo.course_latlon()
    course = Course(lat, lon, name="demo", checkpoint_every_m=2500.0)
    people = demo.participants(runners, seed=3)
    categories = people["category"].cast(str).to_list()
    names = sorted(set(categories))
    p = RaceProcessor(course, people.height, start_t=gun, categories=[names.index(c) for c in categories],
                      category_names=tuple(names))
    devices = people["device"].to_list()
    index = {d: i for i, d in enumerate(devices)}
    sim = Simulator(course, devices, gun, api_url="http://unused", race="demo", fit=dict(DEFAULT_FIT), seed=11,
                    pace_factor=demo.pace_factors(categories))
    for step, now in enumerate(np.arange(gun + every_s, gun + minutes * 60 + 1, every_s), start=1):
        cols = sim.pings_until(float(now))
        order = np.argsort(cols["t"], kind="stable")
        p.process(PingBatch.of([index[d] for d in cols["device"][order]], cols["t"][order], cols["lat"][order],
                               cols["lon"][order], cols["hr"][order]))
        yield step, p
