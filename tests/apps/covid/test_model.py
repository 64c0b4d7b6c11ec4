"""Forecasters on series with a known answer."""

from datetime import date, timedelta

import numpy as np
import pytest

from shipml.apps.covid.model import CaseForecast, LogLinearWeekly, SeasonalNaive, backtest
from shipml.core.errors import InvalidInput, RejectedData

LAST = date(2021, 3, 28)  # a Sunday


def weekly_growth(days: int) -> np.ndarray:
    t = np.arange(days)
    weekday = [(LAST - timedelta(days=days - 1 - i)).weekday() for i in range(days)]
    weekend = np.array([0.6 if w >= 5 else 1.0 for w in weekday])
    return 20 * np.exp(0.03 * t) * weekend


def test_loglinear_recovers_growth_and_weekly_pattern():
    series = weekly_growth(84)
    model = LogLinearWeekly(window=28).fit(series[:-14], LAST - timedelta(days=14))
    # log1p instead of log bends the curve very slightly: within 1%
    assert model.predict(14) == pytest.approx(series[-14:], rel=0.01)


def test_seasonal_naive_repeats_last_week():
    series = np.arange(21, dtype=float)
    assert SeasonalNaive().fit(series, LAST).predict(10).tolist() == [14, 15, 16, 17, 18, 19, 20, 14, 15, 16]


def test_backtest_prefers_the_model_that_fits_the_shape():
    series = weekly_growth(120)
    assert backtest(LogLinearWeekly(window=28).params, series, LAST) < 1.0
    assert backtest(SeasonalNaive().params, series, LAST) > 50.0


def test_forecast_is_dated_from_the_day_after_the_data():
    fitted = CaseForecast(SeasonalNaive().fit(np.ones(14), LAST), LAST)
    out = fitted.predict(3)
    assert [p["date"] for p in out] == ["2021-03-29", "2021-03-30", "2021-03-31"]
    assert all(p["cases"] == 1.0 for p in out)


def test_a_forecast_made_from_params_is_fitted_by_the_lifecycle_and_refuses_to_predict_before():
    made = CaseForecast.make({"kind": "loglinear_weekly", "window": 21})
    assert made.params == {"kind": "loglinear_weekly", "window": 21} and made.last_day is None
    with pytest.raises(InvalidInput, match="fit the forecast before predicting"):
        made.predict(3)
    fitted = made.fit(weekly_growth(84), LAST)
    assert fitted.last_day == LAST and fitted.params == made.params
    assert [p["date"] for p in fitted.predict(2)] == ["2021-03-29", "2021-03-30"]


def test_too_short_series_is_a_clear_error():
    with pytest.raises(RejectedData, match="at least 14 observed days"):
        LogLinearWeekly().fit(np.ones(10), LAST)
