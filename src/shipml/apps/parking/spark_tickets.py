"""Ticket files → hourly active tickets per neighbourhood and zone, on Spark (``SHIPML_PARKING_ENGINE=spark``).

The same counts as :func:`~shipml.apps.parking.aggregation.active_tickets_by_hour` over
:func:`~shipml.apps.parking.tickets.read_tickets` (a test checks equality, the overnight split and DST days
included), for the years of Madrid tickets that outgrow one machine (tens of millions of rows a year):

1. each ticket file is read and cleaned by one task, with the very same ``read_tickets`` (its kinds and its
   rejection report; the reports are merged on the driver, which refuses a bad refresh before counting);
2. the kinds are cut to the regulated windows of their start's and end's days (a small table of windows per day);
3. naive local times go to the UTC time line by a table of local hours (the UTC start of each, from the embedded
   path's own conversion: a repeated hour read as summer time, a skipped one moved an hour later), so a DST day has
   its 23 or 25 hourly rows;
4. a difference array: +tickets at the first UTC hour, -tickets after the last, a running sum per
   (neighbourhood, zone) over the complete hourly grid.

Times travel as whole seconds of the naive clock (``epoch`` as if UTC): no Spark timestamp or session time zone
is involved. Every node needs the ticket files at the same path (shared storage), like the race's raw folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from shipml.apps.parking.aggregation import ACTIVE_SCHEMA, TIME_ZONE, _local_hour_index, _to_utc, regulated_windows
from shipml.apps.parking.tickets import _expand
from shipml.apps.parking.validation import RejectReport

KIND_ROWS = "neighbourhood_id int, zone string, a long, b long, tickets long, report string"
DAY_S = 86_400


def _seconds(col: str) -> pl.Expr:
    """A naive local datetime as whole seconds of its clock reading (as if it were UTC)."""
    return pl.col(col).dt.epoch("s")


def _kind_rows(kinds: pl.DataFrame) -> pd.DataFrame:
    return kinds.select(pl.col("neighbourhood_id").cast(pl.Int32), pl.col("zone").cast(pl.String),
                        a=_seconds("start_hour"), b=_seconds("end_hour"), tickets=pl.col("tickets").cast(pl.Int64),
                        report=pl.lit(None, dtype=pl.String)).to_pandas()


def _reader(names: dict[str, int]) -> Any:
    def read(paths: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:  # on the executors: one task per file
        from shipml.apps.parking.tickets import read_tickets

        for frame in paths:
            for path in frame["path"]:
                imported = read_tickets([Path(path)], names)
                yield _kind_rows(imported.kinds)
                report = imported.report
                yield pd.DataFrame([{"neighbourhood_id": None, "zone": None, "a": None, "b": None, "tickets": None,
                                     "report": json.dumps({"rows_read": report.rows_read, "rows_kept":
                                                           report.rows_kept, "rejected": dict(report.rejected),
                                                           "notes": report.notes})}])

    return read


class SparkTickets:
    """Ticket files read on Spark: the merged rejection report now, the hourly counts on :meth:`active`."""

    def __init__(self, kinds: Any, report: RejectReport) -> None:
        self.kinds = kinds  # a Spark DataFrame: neighbourhood_id, zone, a, b (naive local seconds), tickets
        self.report = report

    @property
    def tickets(self) -> int:
        return self.report.rows_kept

    @classmethod
    def read(cls, paths: Path | Iterable[Path], neighbourhood_names: Mapping[str, int]) -> SparkTickets:
        from pyspark import StorageLevel

        from shipml.core.spark import SparkUnavailable, session

        files = [str(f.resolve()) for f in _expand(paths)]
        spark = session("shipml-parking")
        rows = (spark.sparkContext.parallelize([(f,) for f in files], len(files)).toDF(["path"])
                .mapInPandas(_reader(dict(neighbourhood_names)), KIND_ROWS).persist(StorageLevel.MEMORY_AND_DISK))
        try:
            reports = rows.where("report is not null").select("report").collect()
        except Exception as exc:  # an executor's failure, raised here from the JVM
            rows.unpersist()
            raise SparkUnavailable(f"reading {len(files)} ticket file(s) on Spark failed (every node needs them at "
                                   "the same path, on shared storage); see the log") from exc
        report = RejectReport()
        for (text,) in reports:
            part = json.loads(text)
            one = RejectReport(rows_read=part["rows_read"], rows_kept=part["rows_kept"], notes=part["notes"])
            for reason, count in part["rejected"].items():
                one.reject(reason, count)
            report.merge(one)
        return cls(rows.where("report is null").drop("report"), report)

    @classmethod
    def of(cls, kinds: pl.DataFrame) -> SparkTickets:
        """Kinds already in hand (``neighbourhood_id``, ``zone``, ``start_hour``, ``end_hour``, ``tickets``)."""
        from shipml.core.spark import session

        rows = session("shipml-parking").createDataFrame(_kind_rows(kinds).drop(columns="report"),
                                                         KIND_ROWS.rsplit(",", 1)[0])
        return cls(rows, RejectReport(rows_kept=int(kinds["tickets"].sum())))

    def active(self, *, clip_to_regulated: bool = True, first_hour: datetime | None = None,
               last_hour: datetime | None = None) -> pl.DataFrame:
        """Active tickets per (neighbourhood, zone, hour) on a complete hourly grid: the frame of
        :func:`~shipml.apps.parking.aggregation.active_tickets_by_hour`, with the same arguments."""
        try:
            return _active(self.kinds, clip_to_regulated, first_hour, last_hour)
        finally:
            self.kinds.unpersist()


def _active(kinds: Any, clip: bool, first_hour: datetime | None, last_hour: datetime | None) -> pl.DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = kinds.sparkSession
    segments = _regulated_segments(kinds) if clip else kinds
    bounds = segments.agg(F.min("a"), F.max("b")).collect()[0]
    if bounds[0] is None:
        return pl.DataFrame(schema=ACTIVE_SCHEMA)
    hours = spark.createDataFrame(_local_hours(int(bounds[0]) // 3600, (int(bounds[1]) - 1) // 3600 + 1))

    def utc_hour(col: str) -> Any:  # naive local seconds → UTC hour index, through the local hour's UTC start
        h = hours.select(F.col("h").alias(f"h_{col}"), F.col("u").alias(f"u_{col}"))
        return h, F.floor((F.col(f"u_{col}") + F.col(col) - F.col(f"h_{col}") * 3600) / 3600)

    ha, ua = utc_hour("a")
    hb, ub = utc_hour("b")
    placed = (segments.join(F.broadcast(ha), F.floor(segments["a"] / 3600) == ha["h_a"])
              .join(F.broadcast(hb), F.floor(segments["b"] / 3600) == hb["h_b"])
              .select("neighbourhood_id", "zone", "tickets", ua.alias("ia"), ub.alias("ib"))
              .where("ia < ib"))
    events = (placed.select("neighbourhood_id", "zone", F.col("ia").alias("idx"), F.col("tickets").alias("delta"))
              .unionByName(placed.select("neighbourhood_id", "zone", F.col("ib").alias("idx"),
                                         (-F.col("tickets")).alias("delta")))
              .groupBy("neighbourhood_id", "zone", "idx").agg(F.sum("delta").alias("delta")))
    span = placed.agg(F.min("ia"), F.max("ib")).collect()[0]
    if span[0] is None:
        return pl.DataFrame(schema=ACTIVE_SCHEMA)
    lo = _local_hour_index(first_hour) if first_hour is not None else int(span[0])
    hi = _local_hour_index(last_hour) if last_hour is not None else int(span[1]) - 1
    grid = events.select("neighbourhood_id", "zone").distinct().crossJoin(
        spark.range(lo, hi + 1).withColumnRenamed("id", "idx"))
    running = Window.partitionBy("neighbourhood_id", "zone").orderBy("idx").rowsBetween(
        Window.unboundedPreceding, Window.currentRow)
    table = (grid.join(events, ["neighbourhood_id", "zone", "idx"], "full").fillna(0, ["delta"])
             .withColumn("active", F.sum("delta").over(running)).where(F.col("idx").between(lo, hi))
             .select("neighbourhood_id", "zone", "idx", "active").toPandas())
    hour_utc = pl.from_epoch(pl.col("idx") * 3600, time_unit="s").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return pl.from_pandas(table).sort(["neighbourhood_id", "zone", "idx"]).select(
        "neighbourhood_id", "zone", hour_utc=hour_utc,
        hour=hour_utc.dt.convert_time_zone(TIME_ZONE).dt.replace_time_zone(None), active=pl.col("active"),
    ).cast(ACTIVE_SCHEMA)  # type: ignore[arg-type]


def _regulated_segments(kinds: Any) -> Any:
    """Each kind cut to its overlap with the regulated windows of its start's day and its end's day."""
    from pyspark.sql import functions as F

    k = kinds.select("neighbourhood_id", "zone", "tickets", "a", "b", F.floor(F.col("a") / DAY_S).alias("start_day"),
                     F.floor((F.col("b") - 3600) / DAY_S).alias("end_day"))
    span = k.agg(F.min("start_day"), F.max("end_day")).collect()[0]
    if span[0] is None:
        return kinds.select("neighbourhood_id", "zone", "tickets", "a", "b")
    epoch = date(1970, 1, 1)
    windows = regulated_windows(epoch + timedelta(days=int(span[0])), epoch + timedelta(days=int(span[1]))).select(
        day=(pl.col("day") - pl.lit(epoch)).dt.total_days(), ws=_seconds("window_start"), we=_seconds("window_end"))
    win = F.broadcast(kinds.sparkSession.createDataFrame(windows.drop_nulls().to_pandas(), "day long, ws long, "
                                                                                           "we long"))

    def clip(frame: Any, day_col: str) -> Any:
        return (frame.join(win, frame[day_col] == win["day"])
                .select("neighbourhood_id", "zone", "tickets", F.greatest("a", "ws").alias("a"),
                        F.least("b", "we").alias("b")).where("a < b"))

    return clip(k, "start_day").unionByName(clip(k.where("end_day > start_day"), "end_day"))


def _local_hours(first: int, stop: int) -> pd.DataFrame:
    """Local hour index ``h`` (naive clock hours since 1970) → ``u``, the UTC epoch seconds of its start."""
    frame = pl.DataFrame({"h": pl.int_range(first, stop + 1, eager=True, dtype=pl.Int64)})
    return frame.with_columns(t=pl.from_epoch(pl.col("h") * 3600, time_unit="s").cast(pl.Datetime("us"))).select(
        "h", u=_to_utc("t").dt.epoch("s")).to_pandas()
