from datetime import date

import polars as pl

from shipml.apps.parking.calendar import regulated_mask
from shipml.apps.parking.synthetic import HEADER, simulate_tickets


def test_files_are_in_the_real_format_labelled_and_deterministic(tmp_path, per_neighbourhood):
    small = per_neighbourhood.filter(pl.col("neighbourhood_id").is_in([101, 401]))
    a = simulate_tickets(tmp_path / "a", date(2024, 3, 25), date(2024, 4, 2), small, scale=0.05, seed=7)
    b = simulate_tickets(tmp_path / "b", date(2024, 3, 25), date(2024, 4, 2), small, scale=0.05, seed=7)
    assert [f.path.name for f in a] == ["SYNTHETIC_ser_tickets_2024Q1.csv", "SYNTHETIC_ser_tickets_2024Q2.csv"]
    assert all(fa.path.read_bytes() == fb.path.read_bytes() for fa, fb in zip(a, b, strict=True))
    header = a[0].path.read_text().splitlines()[0]
    assert header == ";".join(HEADER)


def test_tickets_start_only_when_parking_is_regulated(tmp_path, per_neighbourhood):
    small = per_neighbourhood.filter(pl.col("neighbourhood_id").is_in([101, 401]))
    # August, a holiday (15 Aug) and weekends
    files = simulate_tickets(tmp_path, date(2024, 8, 10), date(2024, 8, 20), small, scale=0.05, seed=1)
    frame = pl.read_csv(files[0].path, separator=";", infer_schema=False)
    starts = frame["fecha_inicio"].str.to_datetime()
    assert regulated_mask(starts).all()
    assert starts.dt.hour().max() < 15  # August: mornings only
    assert not (starts.dt.date() == date(2024, 8, 15)).any()
    assert set(frame["tipo_zona"].unique()) == {"AZUL", "VERDE"}
    blue = frame.filter(pl.col("tipo_zona") == "AZUL")["barrio"].unique().to_list()
    assert set(blue) <= {"RECOLETOS", "04-01"}
