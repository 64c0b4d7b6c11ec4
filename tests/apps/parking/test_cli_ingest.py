"""``shipml ingest parking`` says what it kept and rejected, by reason, when the refresh succeeds too."""

from __future__ import annotations

import os
import subprocess
import sys

HEADER = ("fecha_operacion;fecha_inicio;fecha_fin;codigo_distrito;distrito;codigo_barrio;barrio;tipo_zona;"
          "tipo_permiso;parquimetro;minutos_tique;importe_tique\n")


def row(start: str, end: str, barrio: str = "PALACIO", district: int = 1, code: int = 1) -> str:
    return f"{start};{start};{end};{district};CENTRO;{code};{barrio};VERDE;VISITANTE;1011;30;1,25\n"


def test_a_stored_ingest_prints_kept_and_rejected_by_reason(platform, tmp_path):
    rows = [row(f"2024-03-0{d} {h}:05:00", f"2024-03-0{d} {h}:35:00") for d in (4, 5) for h in (10, 11, 12, 13)]
    bad = [row("2024-03-04 12:00:00", "2024-03-04 11:00:00"),   # end before start
           row("2024-03-04 12:00:00", "2024-03-04 11:30:00"),   # end before start
           row("2019-12-02 10:00:00", "2019-12-02 11:00:00")]   # before 2020
    path = tmp_path / "tickets.csv"
    path.write_text(HEADER + "".join(rows + bad))
    run = subprocess.run([sys.executable, "-m", "shipml.cli", "ingest", "parking", "--source", str(path)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "stored" in out
    assert "kept 8 of 11 rows read; rejected 3:" in out
    assert "end_not_after_start: 2" in out and "before_2020: 1" in out
