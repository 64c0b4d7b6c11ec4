"""The Spark path: the race's processor as a Spark Structured Streaming job over the stored raw pings.

    raw/<minute>/<key>-….arrow  ──binaryFile stream (paths only)──▶ decode (mapInPandas, one task per core): each
        file read where it lies, one row per (file, group of runners) holding that group's pings as a ping block
        ──groupBy(runner % partitions).applyInPandasWithState──▶ the embedded kernel per group of runners
        ──foreachBatch──▶ the runners each batch changed, into the driver's copy → standings (and, following, published)

The processor's result for a runner depends only on that runner's pings in stream order (and the race's rules
and course), so the stream is split by runner: each group keeps its runners' state in Spark's state store (the
arrays of :class:`~.processor.RaceProcessor` laid end to end, see :mod:`.spark_blocks`) and applies each
micro-batch with the same :meth:`~.processor.RaceProcessor.process` the embedded service runs. Blocks are put back
in stream order (file key, file name) inside each group, rows keep their order within a block; raw files carry
their key as modification time, which is the order Spark's file source takes them in. Only the runners whose
arrays a batch changed go back to the driver. On the same stored pings the standings, trails and counts equal the
embedded processor's (tests check it). What it costs against the embedded path: ``benchmarks/race_spark/run.py``.

When: a race that outgrows one machine (several million runners, or re-processing a day of raw pings while the
live processor keeps going). How: ``SHIPML_SPARK_MASTER=spark://host:7077 shipml race spark RACE`` recomputes the
standings from every stored ping; ``--follow`` keeps the query running on new pings and publishes its standings
(run it instead of the embedded service: ``SHIPML_RACE_ENGINE=spark`` makes ``shipml up`` do so). Every node needs
the raw folder at the same path (a shared filesystem) and shipml installed at the same path; the query's checkpoint
and state go under ``SHIPML_SPARK_CHECKPOINT`` (a shared URI, required on a cluster; see :mod:`shipml.core.spark`).
``local[*]`` by default, the checkpoint then under the race's folder.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import polars as pl

from shipml.core.spark import (
    SparkUnavailable,
    checkpoint_location,
    delete_location,
    is_local,
    location_exists,
    session,
)

from . import rawlog
from .course import Checkpoint, Course
from .pings import PingBatch
from .processor import RaceProcessor
from .rules import RaceRules
from .spark_blocks import (
    CHANGING,
    PING_FIELDS,
    apply_changes,
    pack,
    pack_changes,
    pack_state,
    runner_bytes,
    unpack,
    unpack_state,
)

if TYPE_CHECKING:  # the driver's side only: a Python worker that unpickles the job's functions imports this module,
    from .definition import Race  # and needs neither the race's definition (pydantic schemas) nor the standings
    from .standings import Standings

log = logging.getLogger(__name__)

BLOCKS = "part int, key long, file string, block binary"  # one row per (raw file, group of runners)
OUTPUT = "part int, changes binary"  # one row per group and micro-batch: the runners it changed, and its counts
GROUP_STATE = "blob binary"
STATE_FORMAT = 2  # in the checkpoint's name: a checkpoint of another format is not resumed (it starts over)
MAX_BYTES_PER_BATCH = 256 << 20  # raw files per micro-batch, by size (a few million pings), however many files
LISTED_ON_DRIVER = 100_000  # a micro-batch's files are looked up by the driver up to this many (see start_query)
DECODED_TOGETHER = 50_000  # raw rows: files up to this many in all are decoded as one (a big file alone)
BINARY_FILE = "path string, modificationTime timestamp, length long, content binary"  # Spark's binaryFile rows
_DTYPES = {"runner": np.int64, "t": np.float64, "lat": np.float64, "lon": np.float64, "hr": np.float64,
           "received": np.float64, "kind": np.int8}


def read_raw(uri: str) -> pl.DataFrame:
    """A raw file the stream lists (``file:/…``), read where it lies: every node sees the raw folder at the same
    path, so its bytes need not go through Spark (the file source then only lists the files; their content is not
    read as long as the ``content`` column is not selected)."""
    where = urlparse(uri)
    if where.scheme not in ("", "file"):
        raise SparkUnavailable(f"raw pings must be on a file system every node mounts, not {uri}")
    return pl.read_ipc(where.path)


def make_decoder(race: Race, partitions: int) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Raw files (their paths) → one row per (file, group): that group's pings and admin commands of the file
    as a ping block (runners by their slot in the group; commands by bib; unknown devices, slot -1, go to group 0
    as do the file's counts of pings the edge did not store)."""
    # what the function below (pickled to every decoding task) needs of the race; not the race itself
    devices, bibs = race.devices, dict(race.bib_index)
    d = race.definition
    origin = d.clock_origin.timestamp() if d.clock_origin is not None else 0.0
    speedup = d.clock_speedup if d.clock_origin is not None else 1.0

    def race_time(wall: np.ndarray) -> np.ndarray:  # Race.race_time
        wall = np.asarray(wall, dtype=np.float64)
        return wall if speedup == 1.0 else origin + speedup * (wall - origin)

    def blocks(raws: list[pl.DataFrame], paths: list[str]) -> Iterator[tuple[int, int, str, bytes]]:
        """Raw files decoded together (polars' and the device directory's cost per call, not per file)."""
        names = [path.rsplit("/", 1)[-1] for path in paths]
        keys = [rawlog.key_of(Path(name)) for name in names]
        raw = pl.concat(raws, how="vertical_relaxed")
        kind = raw["kind"].to_numpy()
        runner = devices.indices(raw["device"])
        command = (kind == rawlog.DNF_COMMAND) | (kind == rawlog.REINSTATE_COMMAND)
        if command.any():
            runner[command] = [bibs.get(b, -1) for b in raw["device"].to_numpy()[command]]
        fileno = np.repeat(np.arange(len(raws)), [r.height for r in raws])
        edges = {int(i): rawlog.edge_counts(raws[i]) for i in np.unique(fileno[kind == rawlog.EDGE_COUNT])}
        keep = np.flatnonzero((kind == rawlog.PING) | (command & (runner >= 0)))  # a command for no bib: nothing
        runner, kind, fileno = runner[keep], kind[keep], fileno[keep]
        part = np.where(runner >= 0, runner % partitions, 0)
        floats = raw.select(pl.col("t", "lat", "lon", "hr").fill_null(np.nan))  # one polars query, not four
        columns = {name: floats[name].to_numpy()[keep] for name in ("t", "lat", "lon", "hr")}
        columns |= {"runner": np.where(runner >= 0, runner // partitions, -1), "kind": kind,
                    "received": race_time(raw["received"].to_numpy()[keep])}
        cell = fileno * partitions + part
        order = np.argsort(cell, kind="stable")  # by file, then group; a file's rows keep their order in a group
        cells, first = np.unique(cell[order], return_index=True)
        bounds = [*first.tolist(), order.size]
        for at, lo, hi in zip(cells.tolist(), bounds[:-1], bounds[1:], strict=True):
            i, g = divmod(at, partitions)
            rows = order[lo:hi]
            meta = {"edges": edges[i]} if g == 0 and i in edges else {}
            yield g, keys[i], names[i], pack({f: columns[f][rows] for f in PING_FIELDS}, meta)
        empty = {f: np.zeros(0, dtype=_DTYPES[f]) for f in PING_FIELDS}
        for i in sorted(set(edges) - set(fileno[part == 0].tolist())):  # a file's edge counts, no ping in group 0
            yield 0, keys[i], names[i], pack(empty, {"edges": edges[i]})

    def decode(files: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in files:
            out: list[tuple[int, int, str, bytes]] = []
            raws: list[pl.DataFrame] = []
            paths: list[str] = []
            for path in map(str, frame["path"]):  # small files together, up to DECODED_TOGETHER rows
                raw = read_raw(path)
                if raws and sum(r.height for r in raws) + raw.height > DECODED_TOGETHER:
                    out += blocks(raws, paths)
                    raws, paths = [], []
                raws.append(raw)
                paths.append(path)
            if raws:
                out += blocks(raws, paths)
            yield pd.DataFrame(out, columns=["part", "key", "file", "block"])

    return decode


_courses: dict[tuple[bytes, bytes, tuple[tuple[str, float], ...]], Course] = {}  # a Python worker's course


def make_kernel(race: Race, partitions: int) -> Callable[..., Iterator[pd.DataFrame]]:
    """The stateful per-group function: the embedded processor on runners ``part, part + partitions, …``; yields
    one row, the runners whose state this micro-batch changed (with the group's cumulative counts)."""
    course_lat, course_lon = race.course.lat.copy(), race.course.lon.copy()
    checkpoints = [(c.name, c.distance_m) for c in race.course.checkpoints]
    rules = race.definition.rules().to_dict()
    start, categories, names = race.start_t.copy(), race.categories.copy(), race.category_names
    earliest = int(np.argmin(start)) if start.size else 0
    course_key = (course_lat.tobytes(), course_lon.tobytes(), tuple(checkpoints))

    def kernel(key: tuple[Any, ...], frames: Iterator[pd.DataFrame], state: Any) -> Iterator[pd.DataFrame]:
        course = _courses.get(course_key)
        if course is None:  # once per Python worker (this function comes unpickled anew with every task)
            course = Course(course_lat, course_lon, checkpoints=[Checkpoint(n, d) for n, d in checkpoints])
            _courses.clear()  # one race's course at a time
            _courses[course_key] = course
        part = int(key[0])
        ids = np.arange(part, start.size, partitions)
        slots = np.append(ids, earliest)  # the last slot only carries the race's earliest start (the first clock)
        p = RaceProcessor(course, slots.size, start_t=start[slots], rules=RaceRules.from_dict(rules),
                          categories=categories[slots], category_names=names)
        if state.exists:
            unpack_state(p, state.get[0])
        rows = pd.concat(list(frames), ignore_index=True).sort_values(["key", "file"], kind="stable")
        blocks = [unpack(b) for b in rows["block"]]
        pings = {f: np.concatenate([a[f] for a, _ in blocks]) for f in PING_FIELDS}
        local, kind = pings["runner"], pings["kind"]
        touched = np.unique(local[local >= 0])
        before = runner_bytes(p, touched)
        begin = 0
        for cut in [*np.flatnonzero(kind != rawlog.PING).tolist(), local.size]:
            if cut > begin:
                p.process(PingBatch(*(pings[f][begin:cut] for f in PING_FIELDS[:-1])))
            if cut < local.size:
                p.set_dnf([local[cut]], dnf=kind[cut] == rawlog.DNF_COMMAND)
            begin = cut + 1
        for _, meta in blocks:
            for reason, n in meta.get("edges", {}).items():  # pings the edge counted and did not store
                p.rejected[reason] = p.rejected.get(reason, 0) + int(n)
        state.update((pack_state(p),))
        changed = touched[(runner_bytes(p, touched) != before).any(axis=1)]
        counts = {"part": part, "accepted": p.accepted, "rejected": p.rejected, "ignored": p.ignored,
                  "clock": p.clock, "rows": int((kind == rawlog.PING).sum()), "first_key": int(rows["key"].min())}
        yield pd.DataFrame({"part": [part], "changes": [pack_changes(p, changed, ids, counts)]})

    return kernel


class Gathered:
    """The driver's side: every runner's latest state, from the runners each micro-batch changed, as one
    processor."""

    def __init__(self, race: Race, on_batch: Callable[[Gathered], None] | None = None) -> None:
        self.race = race
        self.processor = race.new_processor()
        self.parts: dict[int, dict[str, Any]] = {}  # each group's cumulative counts and clock
        self.on_batch = on_batch
        self.batches = 0
        self.changed = 0  # runner updates received, over every batch
        self.lags: deque[float] = deque(maxlen=2000)  # stored → gathered, seconds, per micro-batch
        self.rates: deque[tuple[float, int]] = deque(maxlen=64)

    def __call__(self, frame: Any, batch_id: int) -> None:
        self.take([bytes(row["changes"]) for row in frame.collect()])
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch(self)

    def take(self, changes: list[bytes]) -> None:
        p = self.processor
        batch = []
        for blob in changes:
            counts = apply_changes(p, blob)
            self.changed += int(unpack(blob)[0]["runner"].size)
            self.parts[counts["part"]] = counts
            batch.append(counts)
        if batch:
            self.lags.append(time.time() - min(c["first_key"] for c in batch) / 1e6)
            self.rates.append((time.monotonic(), sum(c["rows"] for c in batch)))
        self.total()

    def total(self) -> None:
        """The race's counts and clock: the sums (the latest) over the groups."""
        p, parts = self.processor, self.parts.values()
        p.accepted = sum(c["accepted"] for c in parts)
        p.rejected = {k: sum(c["rejected"].get(k, 0) for c in parts)
                      for k in dict.fromkeys([*p.rejected, *(k for c in parts for k in c["rejected"])])}
        p.ignored = {k: sum(c["ignored"].get(k, 0) for c in parts) for k in p.ignored}
        p.clock = max([p.clock, *(c["clock"] for c in parts)])
        p.version += 1


_query_session: list[tuple[Any, Any]] = []  # (the process's session, the race queries' own on its context)


def query_session() -> Any:
    """A session of its own for the race's queries: the process's Spark context, with SQL settings apart from the
    other users' (this module sets the shuffle partitions per query)."""
    base = session("shipml-race")
    if not _query_session or _query_session[0][0] is not base:
        spark = base.newSession()
        # each micro-batch names its files one by one; past 32 paths Spark would look them up with a job of one task
        # per file (seconds for a few hundred small files): the driver stats them itself instead
        spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", str(LISTED_ON_DRIVER))
        _query_session[:] = [(base, spark)]
    return _query_session[0][1]


def start_query(race: Race, checkpoint: str | Path, gathered: Gathered, *, partitions: int = 4,
                follow: bool = False, batch_seconds: float = 1.0) -> Any:
    """Start the streaming query (``follow``: every ``batch_seconds``; else until every stored file is applied)."""
    spark = query_session()
    cores = spark.sparkContext.defaultParallelism
    # each shuffle partition is a Python task and a state store loaded and committed every micro-batch, with data
    # or not: on local[n] the groups go to n partitions at most (local[1]: one task where it was 4). On a cluster,
    # whose executors may not all have joined yet, one per group. A checkpoint keeps the number it started with.
    shuffle = min(partitions, cores) if is_local(spark.sparkContext.master) else partitions
    spark.conf.set("spark.sql.shuffle.partitions", str(max(1, shuffle)))
    raw = rawlog.raw_dir(race.name)
    raw.mkdir(parents=True, exist_ok=True)
    files = (spark.readStream.format("binaryFile").schema(BINARY_FILE).option("pathGlobFilter", "*.arrow")
             .option("maxBytesPerTrigger", MAX_BYTES_PER_BATCH).load(f"{raw}/*"))
    # files grouped per task: one decoding task per core (Spark would make one per ~4 MB of files counted with an
    # "open cost" each, tens of tasks for a few hundred small files, each a round trip to a Python worker)
    blocks = files.select("path").coalesce(cores).mapInPandas(make_decoder(race, partitions), BLOCKS)
    states = blocks.groupBy("part").applyInPandasWithState(make_kernel(race, partitions), OUTPUT, GROUP_STATE,
                                                            "update", "NoTimeout")
    writer = (states.writeStream.foreachBatch(gathered).outputMode("update")
              .option("checkpointLocation", str(checkpoint)).queryName(f"race-{race.name}"))
    writer = writer.trigger(processingTime=f"{batch_seconds} seconds") if follow else writer.trigger(availableNow=True)
    return writer.start()


def spark_standings(race: Race, partitions: int = 4) -> Standings:
    """Every stored raw ping of a race through the streaming job, from scratch; the standings at the end."""
    from .standings import Standings

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
    name = f"spark{STATE_FORMAT}-{race.definition.digest}-{partitions}"
    return checkpoint_location("race", race.name, name) or str(race.folder / name)


def follow(race: Race, partitions: int = 4) -> tuple[Any, Gathered]:
    """Keep the race's query running on new pings, publishing its standings after every micro-batch.

    A restart resumes from the query's checkpoint; the driver's copy of the runners is read back from Spark's
    state store first (:func:`restore`), so nothing applied before the restart is missing from the standings.
    """
    from . import publish
    from .settings import settings
    from .standings import Standings

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
    driver = gathered.processor
    for key, value in zip(stored["key"], stored["value"], strict=True):
        part = int(key["part"])
        ids = np.arange(part, race.runners, partitions)
        arrays, counts = unpack(value.get("groupState", value)["blob"])  # state format 2 wraps the user's state
        for name in CHANGING:
            getattr(driver, name)[ids] = arrays[name][:ids.size]  # the group's last slot is not a runner
        gathered.parts[part] = {"part": part, **counts}
    gathered.total()
