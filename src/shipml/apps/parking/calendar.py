"""The SER regulation calendar: when street parking in Madrid is paid, exactly as the original app zeroes it.

Parking is regulated Monday–Friday 09:00–21:00 and Saturday 09:00–15:00, local time (Europe/Madrid). It is not
regulated at night (21:00–09:00), on Sundays, on Saturday afternoons (15:00–21:00), on weekday afternoons in
August (15:00–21:00) or on Madrid holidays (national + Community of Madrid + the city's two: San Isidro, 15 May,
and La Almudena, 9 November, each moved to Monday when it falls on a Sunday).

Every function takes *naive local* wall-clock times. The regulated windows never touch 02:00–03:00, so the DST
changes never make a regulated hour ambiguous.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

TIME_ZONE = "Europe/Madrid"  # the one definition of Madrid's time zone (polars takes the name, datetime the zone)
MADRID = ZoneInfo(TIME_ZONE)

REGULATION_START = time(9)
REGULATION_END = time(21)
AFTERNOON_START = time(15)

CITY_HOLIDAYS = ((5, 15), (11, 9))  # San Isidro, La Almudena


def city_holidays(year: int) -> set[date]:
    """The city of Madrid's own holidays in ``year`` (moved to Monday when they fall on a Sunday)."""
    out = set()
    for month, day in CITY_HOLIDAYS:
        d = date(year, month, day)
        out.add(d + timedelta(days=1) if d.weekday() == 6 else d)
    return out


@lru_cache(maxsize=64)
def madrid_holidays(year: int) -> frozenset[date]:
    """National, Community of Madrid and city of Madrid holidays of one year."""
    import holidays  # a dependency of prophet; imported here to keep module import cheap

    regional = holidays.country_holidays("ES", subdiv="MD", years=year)
    return frozenset(set(regional) | city_holidays(year))


def holidays_between(first: date, last: date) -> list[date]:
    """Every Madrid holiday from ``first`` to ``last`` inclusive, sorted."""
    out: set[date] = set()
    for year in range(first.year, last.year + 1):
        out |= {d for d in madrid_holidays(year) if first <= d <= last}
    return sorted(out)


def regulated_window(day: date) -> tuple[datetime, datetime] | None:
    """The regulated period of one day as ``[start, end)`` naive local datetimes, or ``None`` if there is none."""
    if day.weekday() == 6 or day in madrid_holidays(day.year):
        return None
    end = AFTERNOON_START if day.weekday() == 5 or day.month == 8 else REGULATION_END
    return datetime.combine(day, REGULATION_START), datetime.combine(day, end)


def next_full_day(day: date) -> date:
    """The first day from ``day`` with parking regulated until 21:00 (a weekday, not a holiday, not August)."""
    while (window := regulated_window(day)) is None or window[1].hour < 21:
        day += timedelta(days=1)
    return day


def is_regulated(at: datetime) -> bool:
    """Whether parking is paid at a naive local time."""
    window = regulated_window(at.date())
    return window is not None and window[0] <= at < window[1]


def regulated_expr(column: str) -> pl.Expr:
    """A polars boolean expression: is the naive local datetime ``column`` a regulated instant?

    Hour granularity is enough: every window starts and ends on the hour, so an hour is regulated iff its start is.
    """
    ts = pl.col(column)
    years = range(2000, 2051)
    holiday_dates = sorted({d for y in years for d in madrid_holidays(y)})
    hour = ts.dt.hour() + ts.dt.minute() / 60 + ts.dt.second() / 3600
    weekday = ts.dt.weekday()  # 1 = Monday … 7 = Sunday
    short_day = (weekday == 6) | (ts.dt.month() == 8)
    end = pl.when(short_day).then(15.0).otherwise(21.0)
    return (
        (weekday != 7)
        & ~ts.dt.date().is_in(pl.Series(holiday_dates, dtype=pl.Date).implode())
        & (hour >= 9.0)
        & (hour < end)
    )


def regulated_mask(times: Iterable[datetime] | pl.Series) -> np.ndarray:
    """Vectorised :func:`is_regulated` over naive local datetimes."""
    series = times if isinstance(times, pl.Series) else pl.Series("t", list(times), dtype=pl.Datetime("us"))
    frame = pl.DataFrame({"t": series.cast(pl.Datetime("us"))})
    return frame.select(regulated_expr("t"))["t"].to_numpy().astype(bool)


def availability(active: np.ndarray | float, spaces: np.ndarray | float) -> np.ndarray:
    """Chance of a free space as the original: ``max(0, 1 − active / spaces)``; 0 where there are no spaces."""
    active_arr = np.asarray(active, dtype=float)
    spaces_arr = np.asarray(spaces, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        free = np.where(spaces_arr > 0, 1.0 - active_arr / spaces_arr, 0.0)
    return np.clip(free, 0.0, 1.0)
