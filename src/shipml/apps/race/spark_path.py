"""The Spark path: the race's processor as a Spark Structured Streaming job over the stored raw pings.

    raw/<minute>/<key>-….arrow  ──binaryFile stream──▶ decode (mapInPandas): one row per ping, with its runner
        ──groupBy(runner % partitions).applyInPandasWithState──▶ the embedded kernel per group of runners
        ──foreachBatch──▶ the driver's copy of every runner's state → standings (and, when following, published)

The processor's result for a runner depends only on that runner's pings in stream order (and the race's rules
and course), so the stream is split by runner: each group keeps its runners' state in Spark's state store (the
arrays of :class:`~.processor.RaceProcessor`, packed by :func:`~.snapshot.pack_runners`) and applies each
micro-batch with the same :meth:`~.processor.RaceProcessor.process` the embedded service runs. Rows are put back
in stream order (file key, file name, row) inside each group; raw files carry their key as modification time,
which is the order Spark's file source takes them in. On the same stored pings the standings equal the embedded
processor's (a test checks it).

When: a race that outgrows one machine (several million runners, or re-processing a day of raw pings while the
live processor keeps going). How: ``SHIPML_SPARK_MASTER=spark://host:7077 shipml race spark RACE`` recomputes the
standings from every stored ping; ``--follow`` keeps the query running on new pings and publishes its standings
(run it instead of the embedded service: ``SHIPML_RACE_ENGINE=spark`` makes ``shipml up`` do so). Every node needs
the raw folder at the same path (a shared filesystem) and shipml installed at the same path; the query's checkpoint
and state go under ``SHIPML_SPARK_CHECKPOINT`` (a shared URI, required on a cluster; see :mod:`shipml.core.spark`).
``local[*]`` by default, the checkpoint then under the race's folder.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from shipml.core.spark import SparkUnavailable, checkpoint_location, delete_location, location_exists, session

from . import rawlog
from .course import Checkpoint, Course
from .definition import Race
from .pings import PingBatch
from .processor import STATE_ARRAYS, RaceProcessor
from .rules import RaceRules
from .snapshot import pack_runners, unpack_runners
from .standings import Standings

log = logging.getLogger(__name__)

STATE = [name for name in STATE_ARRAYS if name not in ("start_t", "category")]
_TYPES: dict[Any, str] = {np.float64: "double", np.float32: "float", np.int8: "byte", np.int16: "short"}
ROWS = ("key long, file string, row int, part int, runner long, t double, lat double, lon double, hr double, "
        "received double, kind byte")
OUTPUT = ", ".join(["runner long"] + [f"{n} {_TYPES[STATE_ARRAYS[n][0]]}" for n in STATE]
                   + ["splits array<float>", "counts string"])
MAX_FILES_PER_BATCH = 400
BINARY_FILE = "path string, modificationTime timestamp, length long, content binary"  # Spark's binaryFile rows


def make_decoder(race: Race, partitions: int) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Raw files (path, content) → one row per ping or command, with its runner (commands: by bib) and group."""
    devices, bibs = race.devices, dict(race.bib_index)
    d = race.definition
    origin = d.clock_origin.timestamp() if d.clock_origin is not None else 0.0
    speedup = d.clock_speedup if d.clock_origin is not None else 1.0

    def rows(raw: pl.DataFrame, path: str) -> pd.DataFrame:
        name = path.rsplit("/", 1)[-1]
        runner = devices.indices(raw["device"])
        command = raw["kind"].to_numpy() != rawlog.PING
        if command.any():
            runner[command] = [bibs.get(b, -1) for b in raw["device"].to_numpy()[command]]
        received = raw["received"].to_numpy()
        return pd.DataFrame({
            "key": np.full(raw.height, rawlog.key_of(Path(name)), dtype=np.int64), "file": name,
            "row": np.arange(raw.height, dtype=np.int32), "part": np.mod(runner, partitions).astype(np.int32),
            "runner": runner, "t": raw["t"].to_numpy(), "lat": raw["lat"].fill_null(np.nan).to_numpy(),
            "lon": raw["lon"].fill_null(np.nan).to_numpy(), "hr": raw["hr"].fill_null(np.nan).to_numpy(),
            "received": origin + speedup * (received - origin), "kind": raw["kind"].to_numpy()})

    def decode(files: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in files:
            for path, content in zip(frame["path"], frame["content"], strict=True):
                yield rows(pl.read_ipc(io.BytesIO(content)), str(path))

    return decode


def make_kernel(race: Race, partitions: int) -> Callable[..., Iterator[pd.DataFrame]]:
    """The stateful per-group function: the embedded processor on runners ``part, part + partitions, …``."""
    course_lat, course_lon = race.course.lat.copy(), race.course.lon.copy()
    checkpoints = [(c.name, c.distance_m) for c in race.course.checkpoints]
    rules = race.definition.rules().to_dict()
    start, categories, names = race.start_t.copy(), race.categories.copy(), race.category_names
    earliest = int(np.argmin(start)) if start.size else 0
    cache: dict[str, Course] = {}

    def kernel(key: tuple[Any, ...], frames: Iterator[pd.DataFrame], state: Any) -> Iterator[pd.DataFrame]:
        if "course" not in cache:  # once per Python worker
            cache["course"] = Course(course_lat, course_lon, checkpoints=[Checkpoint(n, d) for n, d in checkpoints])
        part = int(key[0])
        ids = np.arange(part, start.size, partitions) if part >= 0 else np.arange(0)
        slots = np.append(ids, earliest)  # the last slot only carries the race's earliest start (the first clock)
        p = RaceProcessor(cache["course"], slots.size, start_t=start[slots], rules=RaceRules.from_dict(rules),
                          categories=categories[slots], category_names=names)
        if state.exists:
            unpack_runners(p, state.get[0])
        rows = pd.concat(list(frames), ignore_index=True).sort_values(["key", "file", "row"], kind="stable")
        runner = rows["runner"].to_numpy()
        local = np.where(runner >= 0, runner // partitions, -1)
        kind = rows["kind"].to_numpy()
        begin = 0
        for cut in [*np.flatnonzero(kind != rawlog.PING).tolist(), len(rows)]:
            if cut > begin:
                part_rows = rows.iloc[begin:cut]
                p.process(PingBatch.of(local[begin:cut], part_rows["t"], part_rows["lat"], part_rows["lon"],
                                       part_rows["hr"], part_rows["received"]))
            if cut < len(rows) and local[cut] >= 0:
                p.set_dnf([local[cut]], dnf=kind[cut] == rawlog.DNF_COMMAND)
            begin = cut + 1
        state.update((pack_runners(p),))
        touched = np.unique(local[local >= 0])
        out = pd.DataFrame({"runner": ids[touched].astype(np.int64)})
        for name in STATE:
            out[name] = getattr(p, name)[touched]
        out["splits"] = list(p.splits_s[touched])
        out["counts"] = ""
        counts = {"part": part, "accepted": p.accepted, "rejected": p.rejected, "ignored": p.ignored,
                  "clock": p.clock, "rows": len(rows), "first_key": int(rows["key"].min())}
        if len(out):
            yield out
        yield pd.DataFrame([{"runner": -1, **dict.fromkeys(STATE, 0), "splits": [], "counts": json.dumps(counts)}])

    return kernel


class Gathered:
    """The driver's side: every runner's latest state from the query's output, as one processor."""

    def __init__(self, race: Race, on_batch: Callable[[Gathered], None] | None = None) -> None:
        self.race = race
        self.processor = race.new_processor()
        self.parts: dict[int, dict[str, Any]] = {}  # each group's cumulative counts and clock
        self.on_batch = on_batch
        self.batches = 0
        self.lags: deque[float] = deque(maxlen=2000)  # stored → gathered, seconds, per micro-batch
        self.rates: deque[tuple[float, int]] = deque(maxlen=64)

    def __call__(self, frame: Any, batch_id: int) -> None:
        self.take(frame.toPandas())
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch(self)

    def take(self, out: pd.DataFrame) -> None:
        p = self.processor
        known = out[out["runner"] >= 0]
        idx = known["runner"].to_numpy(dtype=np.int64)
        for name in STATE:
            getattr(p, name)[idx] = known[name].to_numpy()
        if len(known):
            p.splits_s[idx] = np.stack(known["splits"].to_numpy())
        batch = [json.loads(counts) for counts in out.loc[out["runner"] < 0, "counts"]]
        for c in batch:
            self.parts[c["part"]] = c
        if batch:
            self.lags.append(time.time() - min(c["first_key"] for c in batch) / 1e6)
            self.rates.append((time.monotonic(), sum(c["rows"] for c in batch)))
        p.accepted = sum(c["accepted"] for c in self.parts.values())
        p.rejected = {k: sum(c["rejected"][k] for c in self.parts.values()) for k in p.rejected}
        p.ignored = {k: sum(c["ignored"][k] for c in self.parts.values()) for k in p.ignored}
        p.clock = max([p.clock, *(c["clock"] for c in self.parts.values())])
        p.version += 1


def start_query(race: Race, checkpoint: str | Path, gathered: Gathered, *, partitions: int = 4,
                follow: bool = False, batch_seconds: float = 1.0) -> Any:
    """Start the streaming query (``follow``: every ``batch_seconds``; else until every stored file is applied)."""
    spark = session("shipml-race")
    raw = rawlog.raw_dir(race.name)
    raw.mkdir(parents=True, exist_ok=True)
    files = (spark.readStream.format("binaryFile").schema(BINARY_FILE).option("pathGlobFilter", "*.arrow")
             .option("maxFilesPerTrigger", MAX_FILES_PER_BATCH).load(f"{raw}/*"))
    rows = files.select("path", "content").mapInPandas(make_decoder(race, partitions), ROWS)
    states = rows.groupBy("part").applyInPandasWithState(make_kernel(race, partitions), OUTPUT, "blob binary",
                                                          "update", "NoTimeout")
    writer = (states.writeStream.foreachBatch(gathered).outputMode("update")
              .option("checkpointLocation", str(checkpoint)).queryName(f"race-{race.name}"))
    writer = writer.trigger(processingTime=f"{batch_seconds} seconds") if follow else writer.trigger(availableNow=True)
    return writer.start()


def spark_standings(race: Race, partitions: int = 4) -> Standings:
    """Every stored raw ping of a race through the streaming job, from scratch; the standings at the end."""
    gathered = Gathered(race)
    shared = checkpoint_location("race", race.name, f"recompute-{uuid.uuid4().hex}")
    with tempfile.TemporaryDirectory(prefix="shipml-race-spark-") as local:
        checkpoint = shared or local
        try:
            start_query(race, checkpoint, gathered, partitions=partitions).awaitTermination()
        except Exception as exc:  # the query's failure, raised here from the JVM
            log.exception("the Spark query of race %s failed", race.name)
            raise SparkUnavailable(f"the Spark query of race {race.name} failed; see the log") from exc
        finally:
            if shared:
                delete_location(shared)
    return Standings(gathered.processor)


def checkpoint_dir(race: Race, partitions: int) -> str:
    """The query's checkpoint: its state is split into ``partitions`` groups, so another split starts over. Under
    ``SHIPML_SPARK_CHECKPOINT`` when set (a cluster), else under the race's folder."""
    name = f"spark-{race.definition.digest}-{partitions}"
    return checkpoint_location("race", race.name, name) or str(race.folder / name)


def follow(race: Race, partitions: int = 4) -> tuple[Any, Gathered]:
    """Keep the race's query running on new pings, publishing its standings after every micro-batch.

    A restart resumes from the query's checkpoint; the driver's copy of the runners is read back from Spark's
    state store first (:func:`restore`), so nothing applied before the restart is missing from the standings.
    """
    from . import publish
    from .settings import settings

    def published(g: Gathered) -> None:
        recent = [n for t, n in g.rates if time.monotonic() - t <= 10]
        lag = round(float(np.percentile(list(g.lags), 99)), 3) if g.lags else None
        publish.publish(race, g.processor, Standings(g.processor),
                        {"pings_per_s": round(sum(recent) / 10.0, 1), "lag_p99_s": lag, "engine": "spark"})

    gathered = Gathered(race, on_batch=published)
    checkpoint = checkpoint_dir(race, partitions)
    if location_exists(checkpoint):
        restore(gathered, checkpoint, partitions)
    query = start_query(race, checkpoint, gathered, partitions=partitions, follow=True,
                        batch_seconds=settings().batch_seconds)
    return query, gathered


def restore(gathered: Gathered, checkpoint: str | Path, partitions: int) -> None:
    """Fill the driver's processor from the state the query last committed (Spark's state data source)."""
    race = gathered.race
    try:
        stored = session("shipml-race").read.format("statestore").load(str(checkpoint)).toPandas()
    except Exception:  # no committed batch yet
        log.info("race %s: no Spark state to restore in %s", race.name, checkpoint, exc_info=True)
        return
    driver = race.new_processor()
    for key, value in zip(stored["key"], stored["value"], strict=True):
        part = int(key["part"])
        ids = np.arange(part, race.runners, partitions)
        one = RaceProcessor(race.course, ids.size + 1, start_t=0.0, category_names=race.category_names)
        unpack_runners(one, value.get("groupState", value)["blob"])  # state format 2 wraps the user's state
        for name in STATE:
            getattr(driver, name)[ids] = getattr(one, name)[:ids.size]
        driver.splits_s[ids] = one.splits_s[:ids.size]
        gathered.parts[part] = {"part": part, "accepted": one.accepted, "rejected": one.rejected,
                                "ignored": one.ignored, "clock": one.clock}
    gathered.processor = driver
    gathered.take(pd.DataFrame(columns=["runner", *STATE, "splits", "counts"]))
