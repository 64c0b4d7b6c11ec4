"""Raw pings on disk, as received: one Arrow IPC file per write, in one folder per race and minute.

    $SHIPML_HOME/race/<race>/raw/<YYYYMMDD-HHMM>/<key>-<pid>-<seq>.arrow

``key`` is the microsecond (Unix time) at which the file became visible; every file is written to a temporary
name, fsynced, renamed and its folder fsynced before any of its pings is acknowledged. Writers in one process
share a group commit (:class:`RawWriter`): requests arriving while a write is in flight go out together in the
next file, so one fsync covers many requests.

The processor reads files in key order, once they are ``settle`` seconds old (a writer may still be between
taking its key and renaming), and remembers the last key it applied: a restart resumes after it.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from .settings import races_dir

log = logging.getLogger(__name__)

RAW_SCHEMA: dict[str, pl.DataType] = {
    "device": pl.String(), "t": pl.Float64(), "lat": pl.Float64(), "lon": pl.Float64(), "ele": pl.Float64(),
    "hr": pl.Float64(), "received": pl.Float64(), "source": pl.String(), "kind": pl.Int8(),
}
PING, DNF_COMMAND, REINSTATE_COMMAND = 0, 1, 2
WRITE_TIMEOUT_S = 30.0


def raw_dir(race: str) -> Path:
    return races_dir() / race / "raw"


def minute_of(key_us: int) -> str:
    return datetime.fromtimestamp(key_us / 1e6, tz=UTC).strftime("%Y%m%d-%H%M")


def key_of(path: Path) -> int:
    return int(path.name.split("-", 1)[0])


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SEQ = [0]
_SEQ_LOCK = threading.Lock()


def write_file(race: str, frame: pl.DataFrame) -> Path:
    """Write one raw file durably and return it (file and folder fsynced)."""
    with _SEQ_LOCK:
        _SEQ[0] += 1
        seq = _SEQ[0]
    base = raw_dir(race)
    base.mkdir(parents=True, exist_ok=True)
    temporary = base / f".{os.getpid()}-{seq}.partial"
    with temporary.open("wb") as handle:
        frame.select(list(RAW_SCHEMA)).cast(RAW_SCHEMA).write_ipc(handle, compression="uncompressed")  # type: ignore[arg-type]
        handle.flush()
        os.fsync(handle.fileno())
    key = time.time_ns() // 1000
    folder = base / minute_of(key)
    if not folder.is_dir():
        folder.mkdir(exist_ok=True)
        _fsync_dir(base)
    final = folder / f"{key:017d}-{os.getpid()}-{seq:08d}.arrow"
    os.utime(temporary, ns=(key * 1000, key * 1000))  # the Spark file source takes files in this order
    os.replace(temporary, final)
    _fsync_dir(folder)
    return final


@dataclass
class _Request:
    race: str
    frame: pl.DataFrame
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class RawWriter:
    """Group commit of raw pings for one process: ``store`` returns once the pings are on disk."""

    def __init__(self, max_rows: int = 500_000) -> None:
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._max_rows = max_rows
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.files = 0

    def store(self, race: str, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        self._ensure_thread()
        request = _Request(race, frame)
        self._queue.put(request)
        if not request.done.wait(WRITE_TIMEOUT_S):
            raise TimeoutError("the raw ping store did not confirm the write in time")
        if request.error is not None:
            raise request.error

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="race-raw-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            group, rows = [first], first.frame.height
            while rows < self._max_rows:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                group.append(more)
                rows += more.frame.height
            by_race: dict[str, list[_Request]] = {}
            for request in group:
                by_race.setdefault(request.race, []).append(request)
            for race, requests in by_race.items():
                try:
                    write_file(race, pl.concat([r.frame for r in requests], how="vertical_relaxed"))
                    self.files += 1
                except BaseException as exc:  # every waiter hears of it; nothing is acknowledged
                    log.exception("could not store %d raw ping request(s) of race %s", len(requests), race)
                    for r in requests:
                        r.error = exc
                for r in requests:
                    r.done.set()


_WRITER = RawWriter()


def store(race: str, frame: pl.DataFrame) -> None:
    """Store raw pings durably (group commit); returns when they are on disk."""
    _WRITER.store(race, frame)


def new_files(race: str, after_key: int, until_key: int) -> list[Path]:
    """Raw files with ``after_key < key <= until_key``, in key order (then by name)."""
    base = raw_dir(race)
    if not base.is_dir():
        return []
    first_minute = minute_of(after_key) if after_key > 0 else ""
    found = []
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and p.name >= first_minute):
        for path in folder.glob("*.arrow"):
            key = key_of(path)
            if after_key < key <= until_key:
                found.append(path)
    return sorted(found, key=lambda p: (key_of(p), p.name))


def read_files(paths: list[Path]) -> pl.DataFrame:
    """The pings of these files, in order."""
    if not paths:
        return pl.DataFrame(schema=RAW_SCHEMA)
    return pl.concat([pl.read_ipc(p) for p in paths], how="vertical_relaxed")


def read_race(race: str) -> pl.DataFrame:
    """Every stored raw ping of a race, in the order the processor applies them (for audits and the Spark path)."""
    return read_files(new_files(race, 0, 2**62))


def recent_pings(race: str, device: str, minutes: int) -> pl.DataFrame:
    """A device's raw pings from the last ``minutes`` minute folders (for a runner's recent track)."""
    base = raw_dir(race)
    if minutes <= 0 or not base.is_dir():
        return pl.DataFrame(schema=RAW_SCHEMA)
    folders = sorted(p for p in base.iterdir() if p.is_dir())[-minutes:]
    paths = [p for f in folders for p in sorted(f.glob("*.arrow"))]
    if not paths:
        return pl.DataFrame(schema=RAW_SCHEMA)
    return (pl.scan_ipc(paths).filter((pl.col("device") == device) & (pl.col("kind") == PING))
            .select("t", "lat", "lon").collect())
