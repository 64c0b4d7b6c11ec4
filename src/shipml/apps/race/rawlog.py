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
PING, DNF_COMMAND, REINSTATE_COMMAND, EDGE_COUNT = 0, 1, 2, 3
#: an EDGE_COUNT row stands for pings the edge counted and did not store: ``source`` is the reason (e.g.
#: ``unknown_device``), ``hr`` how many, ``device`` empty (no bib is empty: never taken for a command's runner)
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
    usage.add(race, final.stat().st_size)
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


def count_rows(counts: dict[str, int], received: float) -> pl.DataFrame:
    """EDGE_COUNT rows: pings counted at the edge and not stored, by reason."""
    reasons = [k for k, v in counts.items() if v]
    n = len(reasons)
    return pl.DataFrame({"device": [""] * n, "t": [received] * n, "lat": [None] * n, "lon": [None] * n,
                         "ele": [None] * n, "hr": [float(counts[k]) for k in reasons], "received": [received] * n,
                         "source": reasons, "kind": [EDGE_COUNT] * n}, schema=RAW_SCHEMA)


def edge_counts(frame: pl.DataFrame) -> dict[str, int]:
    """What the EDGE_COUNT rows of raw rows say: pings counted at the edge and not stored, by reason (for the
    processor's rejected counters)."""
    rows = frame.filter(pl.col("kind") == EDGE_COUNT)
    if rows.is_empty():
        return {}
    summed = rows.group_by("source").agg(pl.col("hr").sum())
    return {str(k): int(v) for k, v in zip(summed["source"], summed["hr"], strict=True)}


class _Usage:
    """Bytes of a race's raw store, for its budget: a minute folder closed for 3 minutes is summed once, the
    others again every ``REFRESH_S`` (other processes' writes); this process's writes are added as they happen."""

    REFRESH_S = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed: dict[str, dict[str, int]] = {}
        self._at: dict[str, tuple[float, int]] = {}  # race → (when summed, bytes)

    def used(self, race: str) -> int:
        now = time.monotonic()
        with self._lock:
            at, total = self._at.get(race, (-1e18, 0))
        if now - at < self.REFRESH_S:
            return total
        base = raw_dir(race)
        folders = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
        open_after = minute_of(time.time_ns() // 1000 - 180_000_000)
        with self._lock:
            known = self._closed.get(race, {})
        closed = {name: known[name] for name in folders if name in known}  # a folder deleted is forgotten
        total = 0
        for name in folders:
            if name not in closed:
                try:
                    size = sum(e.stat().st_size for e in os.scandir(base / name) if e.is_file(follow_symlinks=False))
                except FileNotFoundError:  # removed meanwhile (a race reset)
                    continue
                if name < open_after:
                    closed[name] = size
                else:
                    total += size
        total += sum(closed.values())
        with self._lock:
            self._closed[race], self._at[race] = closed, (now, total)
        return total

    def add(self, race: str, size: int) -> None:
        with self._lock:
            at, total = self._at.get(race, (-1e18, 0))
            self._at[race] = (at, total + size)


usage = _Usage()


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
