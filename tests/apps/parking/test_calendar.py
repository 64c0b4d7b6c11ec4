from datetime import date, datetime

import numpy as np

from shipml.apps.parking.calendar import availability, is_regulated, madrid_holidays, regulated_mask, regulated_window


def test_weekday_is_regulated_from_nine_to_nine():
    tuesday = date(2024, 3, 5)
    assert regulated_window(tuesday) == (datetime(2024, 3, 5, 9), datetime(2024, 3, 5, 21))
    assert not is_regulated(datetime(2024, 3, 5, 8, 59))
    assert is_regulated(datetime(2024, 3, 5, 9, 0))
    assert is_regulated(datetime(2024, 3, 5, 20, 59))
    assert not is_regulated(datetime(2024, 3, 5, 21, 0))
    assert not is_regulated(datetime(2024, 3, 5, 2, 0))


def test_saturday_afternoon_and_sunday_are_free():
    assert is_regulated(datetime(2024, 3, 9, 14, 30))  # Saturday morning
    assert not is_regulated(datetime(2024, 3, 9, 15, 0))  # Saturday afternoon
    assert regulated_window(date(2024, 3, 10)) is None  # Sunday


def test_august_weekday_afternoons_are_free():
    assert is_regulated(datetime(2024, 8, 6, 14, 0))
    assert not is_regulated(datetime(2024, 8, 6, 15, 0))
    assert not is_regulated(datetime(2024, 8, 6, 19, 0))


def test_madrid_holidays_national_regional_and_city():
    h2024 = madrid_holidays(2024)
    assert date(2024, 1, 6) in h2024  # Epiphany (national)
    assert date(2024, 5, 2) in h2024  # Community of Madrid day
    assert date(2024, 5, 15) in h2024  # San Isidro (city)
    assert date(2024, 11, 9) in h2024  # La Almudena (city)
    assert date(2025, 11, 10) in madrid_holidays(2025)  # Almudena on a Sunday moves to Monday
    assert date(2022, 5, 16) in madrid_holidays(2022)  # San Isidro on a Sunday moves to Monday
    assert not is_regulated(datetime(2024, 12, 25, 11, 0))
    assert not is_regulated(datetime(2024, 5, 15, 11, 0))
    assert is_regulated(datetime(2024, 5, 14, 11, 0))


def test_vectorised_mask_agrees_with_the_scalar_rule():
    times = [datetime(2024, 1, 1) + (datetime(2024, 1, 2) - datetime(2024, 1, 1)) * d / 24 for d in range(24 * 400)]
    assert (regulated_mask(times) == np.array([is_regulated(t) for t in times])).all()


def test_availability_is_the_free_share_never_negative():
    assert availability(25, 100) == 0.75
    assert availability(120, 100) == 0.0
    assert availability(5, 0) == 0.0
