"""A micro-batch of GPS pings, the devices that send them, and why a ping is turned away.

Times are Unix seconds (UTC, float64) throughout the processor; positions are degrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from shipml.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: bad pings: counted, and they never move a runner
REJECT_REASONS = ("unknown_device", "impossible", "late", "duplicate", "out_of_order", "teleport", "off_course")
#: good pings that carry no progress: before the runner's start, after the finish, after a DNF
IGNORE_REASONS = ("before_start", "after_finish", "after_dnf")
#: outcome code of one ping: 0 accepted, then 1 + the index in REJECT_REASONS + IGNORE_REASONS
OUTCOMES = ("accepted", *REJECT_REASONS, *IGNORE_REASONS)
ACCEPTED = 0
OUTCOME_CODE = {name: code for code, name in enumerate(OUTCOMES)}


def _column(values: npt.ArrayLike | None, n: int, dtype: type, name: str, fill: float = np.nan) -> npt.NDArray[Any]:
    if values is None:
        return np.full(n, fill, dtype=dtype)
    array: npt.NDArray[Any] = np.asarray(values, dtype=dtype)
    if array.shape != (n,):
        raise InvalidInput(f"ping field {name!r} has {array.size} values for {n} pings")
    return array


@dataclass(frozen=True)
class PingBatch:
    """Pings in arrival order, as parallel arrays.

    Attributes:
        runner: index of the runner in the race (see :class:`DeviceDirectory`); -1 for an unknown device.
        t: when the position was taken, Unix seconds.
        lat, lon: degrees.
        hr: heart rate, NaN when absent.
        received: when the ping was stored, Unix seconds (defaults to ``t``): a ping taken long before it was
            received is late, one taken after it was received is impossible.
    """

    runner: IntArray
    t: FloatArray
    lat: FloatArray
    lon: FloatArray
    hr: FloatArray
    received: FloatArray

    @classmethod
    def of(
        cls,
        runner: npt.ArrayLike,
        t: npt.ArrayLike | None,
        lat: npt.ArrayLike | None,
        lon: npt.ArrayLike | None,
        hr: npt.ArrayLike | None = None,
        received: npt.ArrayLike | None = None,
    ) -> PingBatch:
        """Build a batch from array-likes, checking their lengths agree."""
        runners = np.asarray(runner, dtype=np.int64).ravel()
        n = runners.size
        times = _column(t, n, np.float64, "t")
        return cls(runners, times, _column(lat, n, np.float64, "lat"), _column(lon, n, np.float64, "lon"),
                   _column(hr, n, np.float64, "hr"), times.copy() if received is None else
                   _column(received, n, np.float64, "received"))

    @classmethod
    def from_frame(cls, frame: pl.DataFrame, devices: DeviceDirectory | None = None) -> PingBatch:
        """From a frame with ``runner`` (index) or ``device`` (id, needs ``devices``), ``t`` (datetime or Unix
        seconds), ``lat``, ``lon`` and optional ``hr``, ``received``."""
        if "runner" in frame.columns:
            runner = frame["runner"].fill_null(-1).to_numpy()
        elif "device" in frame.columns and devices is not None:
            runner = devices.indices(frame["device"])
        else:
            raise InvalidInput("pings need a 'runner' column, or a 'device' column and a device directory")

        missing = [name for name in ("t", "lat", "lon") if name not in frame.columns]
        if missing:
            raise InvalidInput(f"pings need the column(s) {', '.join(missing)}")

        def seconds(name: str) -> FloatArray | None:
            if name not in frame.columns:
                return None
            column = frame[name]
            if column.dtype == pl.Datetime or isinstance(column.dtype, pl.Datetime):
                column = column.dt.epoch("us").cast(pl.Float64) / 1e6
            return column.cast(pl.Float64).fill_null(np.nan).to_numpy()

        def floats(name: str) -> FloatArray | None:
            return frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy() if name in frame.columns else None

        return cls.of(runner, seconds("t"), frame["lat"].cast(pl.Float64).fill_null(np.nan).to_numpy(),
                      frame["lon"].cast(pl.Float64).fill_null(np.nan).to_numpy(), floats("hr"), seconds("received"))

    def __len__(self) -> int:
        return int(self.runner.size)

    def take(self, rows: npt.NDArray[np.integer[Any]] | npt.NDArray[np.bool_]) -> PingBatch:
        """The pings at these positions (an index or a boolean mask)."""
        return PingBatch(self.runner[rows], self.t[rows], self.lat[rows], self.lon[rows], self.hr[rows],
                         self.received[rows])


class DeviceDirectory:
    """Which runner each tracking device belongs to (a binary search in the sorted device ids: a lookup does not
    touch the whole directory, which a hash join would rebuild on every call)."""

    def __init__(self, devices: Sequence[str] | pl.Series) -> None:
        series = pl.Series("device", devices, dtype=pl.String)
        if series.null_count() or series.n_unique() != series.len():
            raise InvalidInput("device ids must be present and unique")
        order = series.arg_sort()
        self._sorted = series.gather(order)
        self._runner = order.to_numpy().astype(np.int64)

    def __len__(self) -> int:
        return self._sorted.len()

    def indices(self, devices: Sequence[str] | pl.Series) -> IntArray:
        """Runner index of each device, -1 for a device nobody carries."""
        asked = pl.Series("device", devices, dtype=pl.String)
        if not len(self) or not asked.len():
            return np.full(asked.len(), -1, dtype=np.int64)
        at = np.minimum(self._sorted.search_sorted(asked, side="left").to_numpy().astype(np.int64), len(self) - 1)
        found = (self._sorted.gather(at) == asked).fill_null(False).to_numpy()
        return np.where(found, self._runner[at], -1)


def rounds(runner: IntArray, runners: int) -> list[IntArray]:
    """Positions grouped so that the k-th ping of every runner (in arrival order) is in group k."""
    if runner.size <= 1 or np.bincount(runner, minlength=runners)[runner].max() == 1:
        return [np.arange(runner.size)]
    order = np.argsort(runner, kind="stable")
    sorted_runner = runner[order]
    group_start = np.concatenate([[True], sorted_runner[1:] != sorted_runner[:-1]])
    starts = np.flatnonzero(group_start)
    occurrence = np.arange(runner.size) - np.repeat(starts, np.diff(np.append(starts, runner.size)))
    by_round = np.argsort(occurrence, kind="stable")
    bounds = np.flatnonzero(np.diff(occurrence[by_round])) + 1
    return [order[g] for g in np.split(by_round, bounds)]
