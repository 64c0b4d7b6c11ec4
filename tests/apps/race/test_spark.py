"""The Spark path (local[*]) gives the embedded processor's standings on the same stored raw pings."""

from __future__ import annotations

from typing import Any

import numpy as np

from apps.race import simrace
from shipml.apps.race import definition, ingest, rawlog
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.spark_path import spark_standings
from shipml.apps.race.standings import Standings


def test_spark_equals_the_embedded_processor(platform: Any) -> None:
    race = simrace.define("sparky", 150)
    frames = simrace.chunks(race, minutes=45)
    for i, frame in enumerate(frames):
        rawlog.write_file(race.name, frame)
        if i == len(frames) // 2:
            ingest.command(race, "7", dnf=True)  # an admin DNF in the middle of the stream
    embedded = RaceWorker(definition.load(race.name))
    while embedded.step(settle_s=0.0):
        pass
    expected = Standings(embedded.processor)
    got = spark_standings(definition.load(race.name))
    p, q = embedded.processor, got.processor
    assert (q.accepted, q.rejected, q.ignored) == (p.accepted, p.rejected, p.ignored)
    for name in ("progress_m", "progress_t", "last_t", "status", "speed_mps"):
        np.testing.assert_array_equal(getattr(q, name), getattr(p, name), err_msg=name)
    np.testing.assert_array_equal(q.splits_s, p.splits_s)
    np.testing.assert_array_equal(got.order, expected.order)
    np.testing.assert_array_equal(got.rank, expected.rank)
    assert q.status[race.bib_index["7"]] == 3 and p.accepted > 10_000
