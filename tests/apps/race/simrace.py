"""A simulated race written straight into the raw store (no HTTP), for the processor and Spark tests."""

from __future__ import annotations

import numpy as np
import polars as pl

from shipml.apps.race import rawlog, tasks
from shipml.apps.race.definition import Race
from shipml.apps.race.simulate import DEFAULT_FIT, Simulator

SPEEDUP = 200.0


def define(name: str, runners: int) -> Race:
    return tasks.define_simulated(name, runners, SPEEDUP, lead_s=0.0)


def chunks(race: Race, minutes: float, every_s: float = 20.0) -> list[pl.DataFrame]:
    """The race's pings for ``minutes`` of race time, one raw frame per ``every_s`` of race time."""
    gun = race.definition.start.timestamp()
    origin = race.definition.clock_origin.timestamp()  # type: ignore[union-attr]
    sim = Simulator(race.course, race.participants["device"].to_list(), gun, api_url="http://unused", race=race.name,
                    fit=dict(DEFAULT_FIT))
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
