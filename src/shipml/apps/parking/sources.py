"""Where the parking data come from, and how their bytes become UTF-8 text we can trust.

The city's files come in UTF-8 (with or without BOM) or ISO-8859-1, with CRLF or LF; a download can stop in the
middle of the last line. :func:`prepare_text_file` checks a file in one streaming pass (bounded memory, 16 MiB
chunks) and, only when something is wrong, writes a repaired UTF-8 copy:

- a file that is entirely ISO-8859-1 (no valid multi-byte UTF-8 anywhere) is transcoded, and noted;
- in a UTF-8 file, lines with invalid bytes are rejected (reason ``encoding``);
- a last line without a newline and with fewer fields than the header is rejected (``truncated_last_line``).
"""

from __future__ import annotations

import codecs
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shipml.apps.parking.validation import RejectReport
from shipml.core.errors import NotFound, RejectedData

log = logging.getLogger(__name__)

CHUNK = 16 << 20

# The real public sources, relative to the shared data folder (``../shared/data`` in development).
NEIGHBOURHOODS_GEOJSON = Path("parking/neighbourhood_limits.geojson")
SER_ZONE_GEOJSON = Path("parking/ser_zone_limit.geojson")
SPACES_FILES = {
    "2020": Path("parking/ser_spaces_jjimenezshaw/Listado_plazas_SER_2020.csv"),
    "2022-04": Path("parking/ser_spaces_jjimenezshaw/Listado_plazas_SER_2022_04.csv"),
    "2023-08": Path("parking/ser_spaces_jjimenezshaw/Listado_plazas_SER_2023_08.csv"),
}
BIRMINGHAM_OCCUPANCY = Path("parking/birmingham_uci/dataset.csv")
BIRMINGHAM_NAMES = ("SystemCodeNumber", "Capacity", "Occupancy", "LastUpdated")


@dataclass(frozen=True)
class PreparedFile:
    """A file ready for a UTF-8 CSV reader: the path to read and how many complete data rows it has."""

    path: Path
    data_rows: int
    encoding: str
    repaired: bool


def decode_small_file(path: Path) -> str:
    """The whole text of a small file (spaces, meters): UTF-8 (BOM stripped) if valid, else ISO-8859-1."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"no file at {path}") from exc
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("iso-8859-1")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def prepare_text_file(path: Path, separator: str, report: RejectReport, workdir: Path | None = None) -> PreparedFile:
    """Check one delimited text file and return what a UTF-8 CSV reader should read (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no file at {path}")
    decoder = codecs.getincrementaldecoder("utf-8")()
    valid, newlines, size, tail = True, 0, 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            newlines += chunk.count(b"\n")
            size += len(chunk)
            tail = (tail + chunk)[-65536:]
            if valid:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
    if size == 0:
        raise RejectedData(f"{path.name} is empty")
    ends_with_newline = tail.endswith(b"\n")
    complete_lines = newlines if ends_with_newline else newlines  # lines terminated by a newline
    truncated = False
    if not ends_with_newline:
        with path.open("rb") as fh:
            header = fh.readline()
        last = tail.rsplit(b"\n", 1)[-1]
        sep = separator.encode()
        if newlines >= 1 and last.count(sep) < header.count(sep):
            truncated = True
            report.reject("truncated_last_line")
        else:
            complete_lines += 1  # a complete last row that only lacks its newline
    data_rows = max(complete_lines - 1, 0)
    if valid and not truncated:
        return PreparedFile(path, data_rows, "utf-8", repaired=False)
    return _repair(path, report, truncated, valid, workdir)


def _repair(path: Path, report: RejectReport, truncated: bool, valid: bool, workdir: Path | None) -> PreparedFile:
    """Write a UTF-8 copy without the bad lines (and transcoded if the whole file is ISO-8859-1)."""
    latin1 = False
    if not valid:
        latin1 = True
        with path.open("rb") as fh:
            for line in fh:
                if not line.isascii() and _is_utf8(line):
                    latin1 = False  # real UTF-8 text exists: the invalid lines are corrupt, not another encoding
                    break
    out = tempfile.NamedTemporaryFile("wb", suffix=".csv", prefix=f"{path.stem}.", dir=workdir, delete=False)
    rows, bad = 0, 0
    with path.open("rb") as fh, out:
        lines = iter(fh)
        pending = next(lines, None)
        first = True
        while pending is not None:
            line, pending = pending, next(lines, None)
            if pending is None and truncated:
                break
            if first and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8):]
            if latin1:
                line = line.decode("iso-8859-1").encode("utf-8")
            elif not line.isascii() and not _is_utf8(line):
                if first:
                    raise RejectedData(f"{path.name}: the header is not valid UTF-8 or ISO-8859-1 text")
                bad += 1
                continue
            if not line.endswith(b"\n"):
                line += b"\n"
            out.write(line)
            rows += 0 if first else 1
            first = False
    report.reject("encoding", bad)
    if latin1:
        report.notes.append(f"{path.name}: ISO-8859-1, transcoded to UTF-8")
    if bad:
        log.warning("%s: %d lines with invalid UTF-8 rejected", path.name, bad)
    return PreparedFile(Path(out.name), rows, "iso-8859-1" if latin1 else "utf-8", repaired=True)
