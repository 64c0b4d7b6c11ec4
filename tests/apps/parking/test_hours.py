"""Any hour answered honestly: past hours from the data (observed), the forecast, beyond it a calendar profile that
joins the forecast without a jump (labelled), and hours far outside the data refused with a 4xx."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from fastapi.testclient import TestClient

from shipml.apps import get
from shipml.apps.parking import ingest, tasks
from shipml.apps.parking.calendar import is_regulated, regulated_mask
from shipml.apps.parking.model import FORECAST, OBSERVED, PROFILE, fit_family
from shipml.apps.parking.series import Grid
from shipml.core.api import create_app
from shipml.core.errors import InvalidInput
from shipml.core.training import select_and_promote


def frame(first: date, end: datetime) -> pl.DataFrame:
    """The ingest's hourly dataset for two neighbourhoods: a busy weekday pattern, no randomness."""
    times = Grid.hourly().times(first, end.date())
    times = [t for t in times if t < end]
    paid = regulated_mask(times)
    t = np.arange(len(times))
    active = np.where(paid, 50 + 30 * np.sin(np.pi * (t % 24 - 9) / 12) + 5 * np.sin(t * np.sqrt(2)), 0).round()
    frames = [pl.DataFrame({"neighbourhood_id": nid, "hour": times, "active": active.astype(np.int64),
                            "spaces": 100, "capacity": 100.0}) for nid in (101, 102)]
    return pl.concat(frames).with_columns(
        neighbourhood_id=pl.col("neighbourhood_id").cast(pl.Int32), hour=pl.col("hour").cast(pl.Datetime("us")),
        hour_utc=pl.col("hour").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        spaces=pl.col("spaces").cast(pl.Int64))


@pytest.fixture(scope="module")
def member():
    data = frame(date(2024, 4, 1), datetime(2024, 5, 6, 11))  # ends on Monday 6 May at 10:00 (carry-over hours)
    return fit_family({"model": "seasonal_naive"}, data, horizon_days=7, level=80).members["101"], data


def test_a_past_hour_is_the_observed_count_not_a_forecast(member):
    m, data = member
    at = datetime(2024, 4, 17, 11)
    share, lo, hi, method = m.occupied_share(at)
    counted = data.filter(pl.col("neighbourhood_id") == 101, pl.col("hour") == at)["active"].item() / 100
    assert method.startswith(OBSERVED) and share == pytest.approx(counted) and lo == hi == share
    # the carry-over hours of the last, partial day are observed too (never trained on, still answered)
    assert m.occupied_share(datetime(2024, 5, 6, 9))[3].startswith(OBSERVED)
    assert m.occupied_share(datetime(2024, 5, 7, 11))[3] == FORECAST


def test_beyond_the_horizon_a_labelled_profile_joins_the_forecast_without_a_jump(member):
    m, _ = member
    end = m.forecast_end
    assert end == datetime(2024, 5, 13, 0)
    last_fc = [m.occupied_share(end - timedelta(days=1) + timedelta(hours=h)) for h in range(9, 21)]
    assert all(f[3] == FORECAST for f in last_fc)
    first_profile = [m.occupied_share(end + timedelta(days=1, hours=h)) for h in range(9, 21)]  # Tuesday
    assert all(p[3].startswith(PROFILE) and "beyond the forecast horizon" in p[3] for p in first_profile)
    week_before = [m.occupied_share(end - timedelta(days=6) + timedelta(hours=h)) for h in range(9, 21)]
    assert all(f[3] == FORECAST for f in week_before)
    # the first profile days continue the forecast's own last week (its pattern, its level), hour by hour
    assert np.allclose([p[0] for p in first_profile], [f[0] for f in week_before], atol=0.02)


def test_august_uses_the_august_profile_when_the_data_have_one():
    data = frame(date(2023, 7, 3), datetime(2023, 9, 4))
    m = fit_family({"model": "seasonal_naive"}, data, horizon_days=7, level=80).members["101"]
    aug, other = m.profile[1], m.profile[0]
    assert aug[0, 14, 0] > 0 and aug[0, 16, 0] == 0  # August afternoons are not regulated: nothing counted
    assert other[0, 16, 0] > 0
    at = datetime(2024, 8, 5, 11)
    assert is_regulated(at) and "August Monday" in m.occupied_share(at)[3]


def test_hours_far_outside_the_data_are_refused(member):
    m, _ = member
    with pytest.raises(InvalidInput, match="no data before"):
        m.occupied_share(datetime(2023, 1, 2, 11))
    with pytest.raises(InvalidInput, match="too far"):
        m.occupied_share(datetime(2026, 1, 5, 11))


LAST = date(2024, 3, 1)


@pytest.fixture(scope="module")
def api(module_platform, tmp_path_factory):
    folder = ingest.simulate(tmp_path_factory.mktemp("tickets"), weeks=3, last=LAST, scale=0.02)
    ingest.refresh(str(folder))
    select_and_promote(tasks.model_spec(["seasonal_naive"], origins=1))
    with TestClient(create_app([get("parking")]), raise_server_exceptions=False) as client:
        yield client


def _at(api, when: str):
    return api.get("/api/parking/availability", params={"at": when, "neighbourhood": "101"})


def test_the_api_answers_past_forecast_and_beyond_and_refuses_far_away(api):
    past = _at(api, "2024-02-21T11:00").json()
    assert past["method"].startswith("observed") and past["interval"]["free_fraction"][0] == past["free_fraction"]
    assert _at(api, f"{LAST + timedelta(days=3)}T11:00").json()["method"] == "forecast"
    beyond = _at(api, f"{LAST + timedelta(days=17)}T11:00").json()
    assert beyond["method"].startswith("calendar profile") and 0 <= beyond["free_fraction"] <= 1
    for far in ("2021-03-01T11:00", "2027-03-01T11:00", "9999-12-31T11:00"):
        answer = _at(api, far)
        assert answer.status_code == 422, (far, answer.text)
        assert "time_out_of_range" in answer.text or "must be between" in answer.text
