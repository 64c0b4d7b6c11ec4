"""The occupancy reader on messy feeds, and on the real Birmingham file."""

from datetime import datetime, timedelta

import polars as pl
import pytest

from shipml.apps.parking.occupancy import horizon_steps, read_occupancy
from shipml.apps.parking.series import Grid
from shipml.apps.parking.sources import BIRMINGHAM_NAMES, BIRMINGHAM_OCCUPANCY
from shipml.core.errors import InvalidInput


def feed_rows(days=21, parks=("A", "B")):
    rows = []
    start = datetime(2024, 1, 1, 8)
    for park in parks:
        for d in range(days):
            for s in range(10):
                t = start + timedelta(days=d, minutes=30 * s, seconds=17)
                rows.append((park, 100, 20 + 5 * s + (d % 7), t.strftime("%Y-%m-%d %H:%M:%S")))
    return rows


def write(path, rows, header=True):
    lines = (["id,capacity,occupied,time"] if header else []) + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_clean_feed_becomes_regular_series(tmp_path):
    data = read_occupancy(write(tmp_path / "f.csv", feed_rows()), id_col="id", time_col="time",
                          capacity_col="capacity", occupied_col="occupied")
    assert data.grid.slots_per_day == 10 and data.n_series == 2
    assert data.series["observed"].all()
    assert data.report["filled_slots"] == 0


def test_each_kind_of_mess_is_handled_and_counted(tmp_path):
    rows = feed_rows()
    rows[5] = ("A", 100, 140, rows[5][3])  # above capacity → clipped
    rows[6] = ("A", 100, -3, rows[6][3])  # negative → dropped, a gap
    rows[7] = ("A", "", rows[7][2], rows[7][3])  # missing capacity → the park's usual
    rows.append(("A", 100, 33, rows[8][3]))  # duplicate slot → the last kept
    rows = [r for r in rows if not (r[0] == "B" and "2024-01-10" <= r[3] < "2024-01-13")]  # B silent 3 days
    rows = [("A", 100, 50, r[3]) if r[0] == "A" and "2024-01-14" <= r[3] < "2024-01-22" else r for r in rows]
    path = write(tmp_path / "messy.csv", rows, header=False)
    data = read_occupancy(path, id_col="id", time_col="time", capacity_col="capacity", occupied_col="occupied",
                          names=["id", "capacity", "occupied", "time"], flat_days=7)
    r = data.report
    assert (r["above_capacity"], r["negative_count"], r["capacity_filled"], r["duplicate_readings"]) == (1, 1, 1, 1)
    assert r["flat_readings"] == 80  # 8 days × 10 slots stuck at 50
    a = data.series.filter(pl.col("unique_id") == "A")
    assert a["y"].max() == 100
    assert a.filter(pl.col("ds") == datetime(2024, 1, 1, 12, 0))["y"].item() == 33  # the later duplicate
    b = data.series.filter(pl.col("unique_id") == "B")
    silent = b.filter(pl.col("ds").dt.date().is_between(datetime(2024, 1, 10).date(), datetime(2024, 1, 12).date()))
    assert silent.height == 30 and not silent["observed"].any()  # filled, flagged, never scored
    assert r["filled_slots"] == 1 + 30 + 80


def test_free_counts_become_occupied(tmp_path):
    rows = [(p, c, 100 - o, t) for p, c, o, t in feed_rows(days=7)]
    path = write(tmp_path / "free.csv", rows)
    data = read_occupancy(path, id_col="id", time_col="time", capacity_col="capacity", free_col="occupied")
    assert data.series["y"].min() == 20


def test_wrong_columns_and_options_are_clear_errors(tmp_path):
    path = write(tmp_path / "f.csv", feed_rows(days=2))
    with pytest.raises(InvalidInput, match="no column"):
        read_occupancy(path, id_col="park", time_col="time", capacity_col="capacity", occupied_col="occupied")
    with pytest.raises(InvalidInput, match="exactly one"):
        read_occupancy(path, id_col="id", time_col="time", capacity_col="capacity")
    with pytest.raises(InvalidInput, match="frequency"):
        read_occupancy(path, id_col="id", time_col="time", occupied_col="occupied", freq="fortnightly")


def test_horizon_in_days_is_a_day_of_slots():
    grid = Grid.hourly()
    assert horizon_steps("1d", grid, "1h") == 24 and horizon_steps("6h", grid, "1h") == 6
    assert horizon_steps(3, grid, "1h") == 3


def test_birmingham_real_file(shared_data):
    data = read_occupancy(shared_data / BIRMINGHAM_OCCUPANCY, id_col="SystemCodeNumber", time_col="LastUpdated",
                          capacity_col="Capacity", occupied_col="Occupancy", names=list(BIRMINGHAM_NAMES))
    assert data.n_series == 30
    assert data.grid.slots_per_day == 18  # 08:00 … 16:30
    assert data.report["rows_read"] == 35_717
    assert data.report["negative_count"] > 0 and data.report["above_capacity"] > 0
