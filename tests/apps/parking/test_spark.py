"""The Spark path gives the same forecasts as the embedded path on a small input."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from shipml.apps.parking.forecasters import make_forecaster
from shipml.apps.parking.model import GRID, series_of
from shipml.apps.parking.spark import forecast_with_spark


@pytest.fixture(scope="module")
def series(tmp_path_factory, per_neighbourhood):
    from datetime import date

    from shipml.apps.parking.aggregation import active_tickets_by_hour
    from shipml.apps.parking.spaces import neighbourhood_names, neighbourhood_occupancy
    from shipml.apps.parking.synthetic import simulate_tickets
    from shipml.apps.parking.tickets import read_tickets

    per = per_neighbourhood.filter(pl.col("neighbourhood_id").is_in([101, 104, 201]))
    folder = tmp_path_factory.mktemp("tickets")
    simulate_tickets(folder, date(2024, 2, 5), date(2024, 3, 3), per, scale=0.05, seed=3)
    kinds = read_tickets(folder, neighbourhood_names(per)).kinds
    frame = neighbourhood_occupancy(active_tickets_by_hour(kinds), per).with_columns(spaces=pl.col("capacity"))
    return series_of(frame.with_columns(pl.col("capacity").cast(pl.Float64)))


@pytest.mark.parametrize("model", ["seasonal_naive", "auto_ets"])
def test_spark_forecasts_equal_the_embedded_ones(series, model):
    embedded = make_forecaster(model).fit(series, GRID).predict(24, 80).sort(["unique_id", "ds"])
    on_spark = forecast_with_spark(series, GRID, model, 24, 80, partitions=2)
    assert on_spark.height == 3 * 24 and on_spark["unique_id"].n_unique() == 3
    assert_frame_equal(on_spark, embedded, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


def test_the_global_model_is_not_split_by_series(series):
    from shipml.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="not a per-series model"):
        forecast_with_spark(series, GRID, "global_lightgbm", 24)
