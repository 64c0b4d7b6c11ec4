"""The Spark path: a race's stored raw pings → every runner's state → the same standings, on a cluster.

The processor's result for a runner depends only on that runner's pings in stream order (and the race's rules
and course), so the stream is split by runner: rows carry their position in the stream (``seq``), Spark groups
them into ``partitions`` groups of runners (``runner % partitions``) and each group runs the same per-runner
kernel, :class:`~.processor.RaceProcessor`, on its own runners (plus one slot holding the race's earliest start,
so the "impossible time" bound is the same as the embedded one). The driver gathers the per-runner states into
one processor and ranks them with :class:`~.standings.Standings`.

Use it when a race outgrows one machine's memory or cores (millions of runners, or re-processing a whole day of
raw pings): ``SHIPML_SPARK_MASTER=spark://host:7077 shipml race spark RACE``. ``local[*]`` by default.
This is the batch form over the stored raw pings (what a restart or an audit needs); the embedded service stays
the live path.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from shipml.core.spark import session

from . import rawlog
from .course import Checkpoint, Course
from .definition import Race
from .pings import PingBatch
from .processor import STATE_ARRAYS, RaceProcessor
from .rules import RaceRules
from .standings import Standings

STATE = [name for name in STATE_ARRAYS if name not in ("start_t", "category")]
_TYPES: dict[Any, str] = {np.float64: "double", np.float32: "float", np.int8: "byte", np.int16: "short"}
SCHEMA = ", ".join(["runner long"] + [f"{n} {_TYPES[STATE_ARRAYS[n][0]]}" for n in STATE]
                   + ["splits array<float>", "counts string"])


def stream_rows(race: Race, raw: pl.DataFrame) -> pd.DataFrame:
    """Raw rows in stream order with their runner (commands: by bib) and race-time reception."""
    runner = race.devices.indices(raw["device"])
    command = raw["kind"].to_numpy() != rawlog.PING
    if command.any():
        bibs = raw["device"].to_numpy()[command]
        runner[command] = [race.bib_index.get(b, -1) for b in bibs]
    received = np.asarray(race.race_time(raw["received"].to_numpy()), dtype=np.float64)
    return pd.DataFrame({"seq": np.arange(raw.height, dtype=np.int64), "runner": runner,
                         "t": raw["t"].to_numpy(), "lat": raw["lat"].fill_null(np.nan).to_numpy(),
                         "lon": raw["lon"].fill_null(np.nan).to_numpy(), "hr": raw["hr"].fill_null(np.nan).to_numpy(),
                         "received": received, "kind": raw["kind"].to_numpy()})


def make_kernel(race: Race) -> Any:
    """The per-group function Spark runs: the embedded processor on one group of runners."""
    course_lat, course_lon = race.course.lat.copy(), race.course.lon.copy()
    checkpoints = [(c.name, c.distance_m) for c in race.course.checkpoints]
    rules = race.definition.rules().to_dict()
    start, categories = race.start_t.copy(), race.categories.copy()
    names = race.category_names
    cache: dict[str, Course] = {}

    def kernel(rows: pd.DataFrame) -> pd.DataFrame:
        if "course" not in cache:  # once per Python worker
            cache["course"] = Course(course_lat, course_lon, checkpoints=[Checkpoint(n, d) for n, d in checkpoints])
        rows = rows.sort_values("seq")
        ids = np.unique(rows["runner"].to_numpy()[rows["runner"].to_numpy() >= 0])
        local = np.searchsorted(ids, rows["runner"].to_numpy())
        local = np.where(rows["runner"].to_numpy() >= 0, local, -1)
        earliest = int(np.argmin(start))
        slots = np.append(ids, earliest)  # the last slot only carries the race's earliest start
        p = RaceProcessor(cache["course"], slots.size, start_t=start[slots], rules=RaceRules.from_dict(rules),
                          categories=categories[slots], category_names=names)
        kind = rows["kind"].to_numpy()
        cuts = [*np.flatnonzero(kind != rawlog.PING).tolist(), len(rows)]
        begin = 0
        for cut in cuts:
            if cut > begin:
                part = rows.iloc[begin:cut]
                p.process(PingBatch.of(local[begin:cut], part["t"], part["lat"], part["lon"], part["hr"],
                                       part["received"]))
            if cut < len(rows) and local[cut] >= 0:
                p.set_dnf([local[cut]], dnf=kind[cut] == rawlog.DNF_COMMAND)
            begin = cut + 1
        out = pd.DataFrame({"runner": ids.astype(np.int64)})
        for name in STATE:
            out[name] = getattr(p, name)[:ids.size]
        out["splits"] = list(p.splits_s[:ids.size])
        counts = json.dumps({"accepted": p.accepted, "rejected": p.rejected, "ignored": p.ignored})
        out["counts"] = [counts] + [""] * (ids.size - 1) if ids.size else []
        if not ids.size:  # only unknown devices here: their counts still count
            out = pd.DataFrame([{"runner": -1, **dict.fromkeys(STATE, 0), "splits": [], "counts": counts}])
        return out

    return kernel


def spark_standings(race: Race, raw: pl.DataFrame | None = None, partitions: int = 4) -> Standings:
    """The standings of a race computed on Spark from its raw pings (default: every stored one)."""
    from pyspark.sql import functions as F

    raw = rawlog.read_race(race.name) if raw is None else raw
    spark = session("shipml-race")
    frame = spark.createDataFrame(stream_rows(race, raw))
    result = (frame.withColumn("part", F.pmod(F.col("runner"), F.lit(partitions)))
              .groupBy("part").applyInPandas(make_kernel(race), SCHEMA).toPandas())
    p = race.new_processor()
    known = result[result["runner"] >= 0]
    idx = known["runner"].to_numpy()
    for name in STATE:
        getattr(p, name)[idx] = known[name].to_numpy()
    if len(known):
        p.splits_s[idx] = np.stack(known["splits"].to_numpy())
    for counts in result["counts"]:
        if counts:
            c = json.loads(counts)
            p.accepted += c["accepted"]
            for key in p.rejected:
                p.rejected[key] += c["rejected"][key]
            for key in p.ignored:
                p.ignored[key] += c["ignored"][key]
    received = raw["received"].to_numpy()
    p.clock = float(race.race_time(float(received.max()))) if raw.height else p.clock
    return Standings(p)
