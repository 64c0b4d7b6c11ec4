"""Parking ingest on the platform: rejected rows counted by reason, and a bad file keeps the last good data."""

from __future__ import annotations

from datetime import date

import pytest

from shipml.apps.parking import ingest
from shipml.core import datasets
from shipml.core.errors import RejectedData

HEADER = ("fecha_operacion;fecha_inicio;fecha_fin;codigo_distrito;distrito;codigo_barrio;barrio;tipo_zona;"
          "tipo_permiso;parquimetro;minutos_tique;importe_tique\n")


def row(start: str, end: str, barrio: str = "PALACIO", district: int = 1, code: int = 1,
        name: str = "CENTRO") -> str:
    return f"{start};{start};{end};{district};{name};{code};{barrio};VERDE;VISITANTE;1011;30;1,25\n"


@pytest.fixture
def good(platform, tmp_path):
    folder = ingest.simulate(tmp_path / "good", weeks=3, last=date(2024, 3, 1), scale=0.01)
    return ingest.refresh(str(folder))


def test_rejected_rows_are_counted_by_reason_and_the_rest_stored(good, tmp_path):
    rows = [row(f"2024-03-0{d} {h}:05:00", f"2024-03-0{d} {h}:35:00", name="CENTRO (ÁREA)")
            for d in (4, 5) for h in (10, 11, 12, 13)]  # UTF-8 text: so a Latin-1 line is a corrupt one
    bad = [row("2024-03-04 25:61:00", "2024-03-04 11:00:00"),   # bad date
           row("2024-03-04 12:00:00", "2024-03-04 11:00:00"),   # end before start
           row("2019-12-02 10:00:00", "2019-12-02 11:00:00"),   # before 2020
           row("2024-03-04 10:00:00", "2024-03-04 10:30:00", barrio="ATLANTIS", district=99, code=9),
           row("2024-03-04 10:00:00", "2024-03-04 10:30:00", barrio="TEST PARKARE")]
    path = tmp_path / "tickets.csv"
    with path.open("wb") as out:
        out.write(HEADER.encode())
        out.write("".join(rows + bad).encode())
        out.write(row("2024-03-04 10:00:00", "2024-03-04 10:30:00", name="CHAMBER\xed").encode("latin-1"))
        out.write(b"2024-03-04 10:00:00;2024-03-04 10:00:00;2024-03")  # truncated last line
    result = ingest.refresh(str(path))
    assert result["status"] == "stored" and result["synthetic"] is False
    report = result["report"]
    assert report["rows_kept"] == 8
    assert report["rejected"] == {"encoding": 1, "truncated_last_line": 1, "bad_date": 1, "before_2020": 1,
                                  "end_not_after_start": 1, "test_row": 1, "unknown_neighbourhood": 1}
    frame = datasets.require_latest(ingest.DATASET).read()
    assert frame.filter(frame["neighbourhood_id"] == 101)["active"].sum() == 8  # 30 min each, one hour


@pytest.mark.parametrize("content", [
    "caf\xe9;not;a;ticket;file\n1;2;3;4;5\n".encode("latin-1"),              # wrong file altogether
    (HEADER + row("yesterday", "today") * 5).encode(),                       # every date bad
    (HEADER + row("2024-03-04 12:00:00", "2024-03-04 11:00:00") * 5).encode(),  # every end before its start
    (HEADER + row("2024-03-04 10:00:00", "2024-03-04 10:30:00", "ATLANTIS", 99, 9) * 5).encode(),
])
def test_a_bad_file_keeps_the_last_good_data(good, tmp_path, content):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(RejectedData):
        ingest.refresh(str(path))
    latest = datasets.require_latest(ingest.DATASET)
    assert latest.version == good["version"] and latest.synthetic
    last = datasets.refreshes(ingest.DATASET, limit=1)[0]
    assert last["status"] == "rejected"


def test_the_same_data_again_is_unchanged(good, tmp_path):
    again = ingest.refresh(str(ingest.simulate(tmp_path / "again", weeks=3, last=date(2024, 3, 1), scale=0.01)))
    assert again["status"] == "unchanged" and again["version"] == good["version"]
