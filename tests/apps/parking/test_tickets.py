"""The ticket importer on files in the real format: cleaning, rejections by reason, damaged files."""

from datetime import date, datetime

import polars as pl
import pytest

from shipml.apps.parking.aggregation import active_tickets_by_hour
from shipml.apps.parking.spaces import neighbourhood_names
from shipml.apps.parking.synthetic import HEADER
from shipml.apps.parking.tickets import read_tickets
from shipml.core.errors import NotFound, RejectedData

GOOD = [
    "2024-03-05 10:29:50;2024-03-05 10:30:00;2024-03-05 11:30:00;1;CENTRO;1;PALACIO;VERDE;VISITANTE;1001;60;2,49",
    "2024-03-05 10:29:50;2024-03-05 10:30:00;2024-03-05 11:10:00;4;SALAMANCA;1;Recoletos ;AZUL;ROTACION;4011;40;0,66",
    "2024-03-05 10:29:50;2024-03-05 10:45:00;2024-03-05 11:15:00;8;FUENCARRAL;4;PILAR;AZUL;ROTACION;8041;30;0,5",
    "2024-03-05 10:29:50;2024-03-05 10:45:00;2024-03-05 11:15:00;3;RETIRO;6;NIÑO  JESÚS;AZUL;ROTACION;3061;30;0,5",
    "2024-03-05 10:29:50;2024-03-05 10:45:00;2024-03-05 11:15:00;4;SALAMANCA;1;04-01;AZUL;ROTACION;4011;30;0,5",
]
BAD = {
    "bad_date": "2024-03-05 10:29:50;2024-13-05 10:30:00;2024-03-05 11:30:00;1;CENTRO;1;PALACIO;VERDE;V;1;60;1",
    "before_2020": "2019-12-31 10:29:50;2019-12-31 10:30:00;2019-12-31 11:30:00;1;CENTRO;1;PALACIO;VERDE;V;1;60;1",
    "end_not_after_start": "2024-03-05 10:29:50;2024-03-05 10:30:00;2024-03-05 10:30:00;1;CENTRO;1;PALACIO;VERDE;V;1;0",
    "test_row": "2024-03-05 10:29:50;2024-03-05 10:30:00;2024-03-05 11:30:00;1;CENTRO;1;TEST PARKARE;VERDE;V;1;60;1",
    "unknown_neighbourhood": "2024-03-05 10:29:50;2024-03-05 10:30:00;2024-03-05 11:30:00;99;X;9;ATLANTIS;AZUL;V;1;6;1",
    "other_zone": "2024-03-05 10:29:50;2024-03-05 10:30:00;2024-03-05 11:30:00;1;CENTRO;1;PALACIO;NARANJA;V;1;60;1",
    "missing_field": "2024-03-05 10:29:50;;2024-03-05 11:30:00;1;CENTRO;1;PALACIO;VERDE;V;1;60;1",
}


def write(path, lines, header=None, encoding="utf-8", end="\n"):
    header = ";".join(HEADER) if header is None else header
    path.write_bytes((header + "\n" + "\n".join(lines) + end).encode(encoding))
    return path


@pytest.fixture(scope="module")
def names(per_neighbourhood):
    return neighbourhood_names(per_neighbourhood)


def test_clean_rows_resolve_names_codes_and_aliases(tmp_path, names):
    result = read_tickets(write(tmp_path / "q1.csv", GOOD), names)
    assert result.report.rows_read == 5 and result.report.rows_rejected == 0
    assert sorted(result.kinds["neighbourhood_id"].unique().to_list()) == [101, 306, 401, 804]
    assert result.kinds.filter(pl.col("neighbourhood_id") == 401)["tickets"].sum() == 2  # name and code


def test_each_bad_row_is_rejected_and_counted_by_reason(tmp_path, names):
    result = read_tickets(write(tmp_path / "q1.csv", GOOD + list(BAD.values())), names)
    assert result.report.rows_read == len(GOOD) + len(BAD)
    assert result.report.rows_kept == len(GOOD)
    assert dict(result.report.rejected) == dict.fromkeys(BAD, 1)


def test_many_files_and_header_variants(tmp_path, names):
    header = " " + ";".join(HEADER).replace("codigo_distrito", "cod_distrito").replace(";barrio", " ; barrio ")
    write(tmp_path / "a.csv", GOOD[:2])
    write(tmp_path / "b.csv", GOOD[2:], header=header)
    result = read_tickets(tmp_path, names)
    assert result.tickets == len(GOOD)


def test_truncated_last_line_is_rejected_and_the_rest_kept(tmp_path, names):
    path = write(tmp_path / "cut.csv", [*GOOD, "2024-03-05 10:29:50;2024-03-05 10:30:00;2024-03-0"], end="")
    result = read_tickets(path, names)
    assert result.tickets == len(GOOD)
    assert dict(result.report.rejected) == {"truncated_last_line": 1}


def test_latin1_file_is_transcoded_not_lost(tmp_path, names):
    result = read_tickets(write(tmp_path / "latin.csv", GOOD, encoding="iso-8859-1"), names)
    assert result.tickets == len(GOOD)
    assert result.report.rows_rejected == 0
    assert any("ISO-8859-1" in note for note in result.report.notes)


def test_corrupt_bytes_in_a_utf8_file_reject_only_those_rows(tmp_path, names):
    path = tmp_path / "mixed.csv"
    body = (";".join(HEADER) + "\n" + "\n".join(GOOD) + "\n").encode()
    body += "2024-03-05 10:29:50;2024-03-05 10:30:00;2024-03-05 11:30:00;3;RETIRO;6;NIÑO JESÚS;AZUL;R;1;60;1\n".encode(
        "iso-8859-1")
    path.write_bytes(body)
    result = read_tickets(path, names)
    assert result.tickets == len(GOOD)
    assert dict(result.report.rejected) == {"encoding": 1}


def test_not_a_ticket_file_is_a_clear_error(tmp_path, names):
    with pytest.raises(RejectedData, match="not a SER ticket file"):
        read_tickets(write(tmp_path / "x.csv", ["1;2"], header="a;b"), names)
    with pytest.raises(NotFound):
        read_tickets(tmp_path / "missing.csv", names)


def test_imported_synthetic_tickets_give_the_hourly_counts_of_the_raw_rows(tmp_path, per_neighbourhood, names):
    from shipml.apps.parking.aggregation import tickets_as_kinds
    from shipml.apps.parking.synthetic import simulate_tickets

    small = per_neighbourhood.filter(pl.col("neighbourhood_id").is_in([101, 401, 804]))
    files = simulate_tickets(tmp_path, date(2024, 3, 4), date(2024, 3, 10), small, scale=0.05, seed=3)
    imported = read_tickets([f.path for f in files], names)
    raw = pl.read_csv(files[0].path, separator=";", infer_schema=False)
    direct = raw.select(
        neighbourhood_id=(pl.col("codigo_distrito").cast(pl.Int32) * 100 + pl.col("codigo_barrio").cast(pl.Int32)),
        zone=pl.col("tipo_zona"), start=pl.col("fecha_inicio").str.to_datetime(),
        end=pl.col("fecha_fin").str.to_datetime())
    assert imported.report.rows_rejected == 0 and imported.tickets == raw.height
    assert active_tickets_by_hour(imported.kinds).equals(active_tickets_by_hour(tickets_as_kinds(direct)))
    assert imported.kinds["start_hour"].min() >= datetime(2024, 3, 4, 9)
