"""Active tickets per neighbourhood, zone and hour — counted exactly.

Convention (documented because the original's differs at the edges):

- A ticket ``[start, end)`` is active in an hour ``[h, h+1)`` when the two overlap: ``start < h+1`` and
  ``end > h``. A ticket ending exactly at 11:00 is not active in the 11:00 hour (the original's ``floor(end+1h)``
  counted it, then zeroed the 21:00 hour to undo the effect at the end of the day).
- With ``clip_to_regulated=True`` (the default, as the original and ``TICKETS.md``), a ticket only counts while
  parking is paid: its overlap with the regulated window of its start's day and, if it ends on a later day, with
  the regulated window of its end's day (tickets bought in the evening run on the next morning). Unregulated
  hours then have 0 active tickets.
- Times in the files are naive Madrid wall-clock times. They are placed on the UTC time line (a time repeated when
  clocks go back is read as the first, summer-time one; a time skipped when clocks go forward is moved one hour
  later) and counted per UTC hour, so the day clocks go back has 25 hourly rows and the day they go forward 23.
  Each row carries ``hour_utc`` and the local wall-clock ``hour``. Regulated windows (09–21) never meet a DST
  change, so with clipping on the local hours are unambiguous.

The count is a difference array (+n at the first hour, −n after the last, cumulative sum per series): linear in
the number of ticket kinds and hours, never one row per ticket-hour.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from shipml.apps.parking.calendar import TIME_ZONE, regulated_window

ACTIVE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
   "neighbourhood_id": pl.Int32, "zone": pl.String, "hour_utc": pl.Datetime("us", "UTC"),
                 "hour": pl.Datetime("us"), "active": pl.Int64}


def regulated_windows(first: date, last: date) -> pl.DataFrame:
    """One row per day from ``first`` to ``last``: ``day``, ``window_start``, ``window_end`` (null: not regulated)."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    windows = [regulated_window(d) for d in days]
    return pl.DataFrame(
        {"day": days, "window_start": [w[0] if w else None for w in windows],
         "window_end": [w[1] if w else None for w in windows]},
        schema={"day": pl.Date, "window_start": pl.Datetime("us"), "window_end": pl.Datetime("us")},
    )


def _clip(kinds: pl.DataFrame, windows: pl.DataFrame, day_col: str) -> pl.DataFrame:
    clipped = kinds.join(windows, left_on=day_col, right_on="day", how="inner").filter(
        pl.col("window_start").is_not_null())
    return clipped.select(
        "neighbourhood_id", "zone", "tickets",
        start_hour=pl.max_horizontal("start_hour", "window_start"),
        end_hour=pl.min_horizontal("end_hour", "window_end"),
    ).filter(pl.col("start_hour") < pl.col("end_hour"))


def regulated_segments(kinds: pl.DataFrame) -> pl.DataFrame:
    """Cut each ticket kind to its overlap with the regulated windows of its start's day and its end's day."""
    if kinds.is_empty():
        return kinds.select("neighbourhood_id", "zone", "tickets", "start_hour", "end_hour")
    kinds = kinds.with_columns(
        start_day=pl.col("start_hour").dt.date(),
        end_day=(pl.col("end_hour") - pl.duration(hours=1)).dt.date(),
    )
    first, last = kinds["start_day"].min(), kinds["end_day"].max()
    assert isinstance(first, date) and isinstance(last, date)
    windows = regulated_windows(first, last)
    same_day = _clip(kinds, windows, "start_day")
    next_day = _clip(kinds.filter(pl.col("end_day") > pl.col("start_day")), windows, "end_day")
    return pl.concat([same_day, next_day])


def _to_utc(col: str) -> pl.Expr:
    local = pl.col(col).dt.replace_time_zone(TIME_ZONE, ambiguous="earliest", non_existent="null")
    shifted = (pl.col(col) + pl.duration(hours=1)).dt.replace_time_zone(TIME_ZONE, ambiguous="earliest",
                                                                         non_existent="null")
    return pl.coalesce([local, shifted]).dt.convert_time_zone("UTC")


def active_tickets_by_hour(kinds: pl.DataFrame, *, clip_to_regulated: bool = True,
                           first_hour: datetime | None = None, last_hour: datetime | None = None) -> pl.DataFrame:
    """Active tickets per (neighbourhood, zone, hour) on a complete hourly grid (zeros included).

    Args:
        kinds: ticket kinds from :func:`~shipml.apps.parking.tickets.read_tickets` (``neighbourhood_id``,
            ``zone``, ``start_hour``, ``end_hour``, ``tickets``), or any frame of tickets with those columns
            (``tickets`` = 1 per row); times naive local.
        clip_to_regulated: count only regulated time (see module docstring).
        first_hour, last_hour: optional naive local bounds of the grid (inclusive); default: the data's span.

    Returns:
        ``neighbourhood_id``, ``zone``, ``hour_utc``, ``hour`` (naive local), ``active``, sorted.
    """
    segments = regulated_segments(kinds) if clip_to_regulated else kinds
    if segments.is_empty():
        return pl.DataFrame(schema=ACTIVE_SCHEMA)
    hours = segments.select(
        "neighbourhood_id", "zone", "tickets",
        a=_to_utc("start_hour").dt.epoch("s") // 3600,
        b=_to_utc("end_hour").dt.epoch("s") // 3600,
    ).filter(pl.col("a") < pl.col("b"))
    events = pl.concat([
        hours.select("neighbourhood_id", "zone", idx=pl.col("a"), delta=pl.col("tickets")),
        hours.select("neighbourhood_id", "zone", idx=pl.col("b"), delta=-pl.col("tickets")),
    ]).group_by(["neighbourhood_id", "zone", "idx"]).agg(pl.col("delta").sum())
    lo, hi = int(hours["a"].min()), int(hours["b"].max()) - 1  # type: ignore[arg-type]
    if first_hour is not None:
        lo = _local_hour_index(first_hour)
    if last_hour is not None:
        hi = _local_hour_index(last_hour)
    grid = pl.DataFrame({"idx": pl.int_range(lo, hi + 1, eager=True)})
    keys = events.select("neighbourhood_id", "zone").unique()
    table = (
        keys.join(grid, how="cross")
        .join(events, on=["neighbourhood_id", "zone", "idx"], how="full", coalesce=True)
        .with_columns(pl.col("delta").fill_null(0))
        .sort(["neighbourhood_id", "zone", "idx"])
        .with_columns(active=pl.col("delta").cum_sum().over(["neighbourhood_id", "zone"]))
        .filter(pl.col("idx").is_between(lo, hi))
    )
    hour_utc = pl.from_epoch(pl.col("idx") * 3600, time_unit="s").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return table.select(
        "neighbourhood_id", "zone",
        hour_utc=hour_utc,
        hour=hour_utc.dt.convert_time_zone(TIME_ZONE).dt.replace_time_zone(None),
        active=pl.col("active"),
    ).cast(ACTIVE_SCHEMA)  # type: ignore[arg-type]


def _local_hour_index(at: datetime) -> int:
    frame = pl.DataFrame({"t": [at]}, schema={"t": pl.Datetime("us")})
    return int(frame.select(_to_utc("t").dt.epoch("s") // 3600).item())


def tickets_as_kinds(tickets: pl.DataFrame) -> pl.DataFrame:
    """Plain tickets (``neighbourhood_id``, ``zone``, ``start``, ``end``; naive local) → kinds for the count."""
    end_floor = pl.col("end").dt.truncate("1h")
    return tickets.select(
        pl.col("neighbourhood_id").cast(pl.Int32), pl.col("zone").cast(pl.String),
        start_hour=pl.col("start").dt.truncate("1h"),
        end_hour=pl.when(end_floor == pl.col("end")).then(end_floor).otherwise(end_floor + pl.duration(hours=1)),
        tickets=pl.lit(1, dtype=pl.Int64),
    )
