"""The processor service: every race's stored raw pings, in micro-batches of at most a second, into its state.

Each step reads the raw files stored since the last one (once ``settle_seconds`` old), applies them to the race's
:class:`~.processor.RaceProcessor` (admin DNF commands in their place in the stream), publishes the standings
(:mod:`.publish`) and, every ``save_every_seconds``, saves the state with the key of the last file applied. Killed
at any point, it restarts from its last publication (which holds the whole state; within the same boot) or else
from the saved state, and re-applies the files after that key: batches do not change the result, so the final
standings are those of an uninterrupted run. Published versions only increase across restarts, and a restart
publishes nothing behind what readers already saw.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from shipml.core.errors import ShipmlError

from . import definition, publish, rawlog
from .definition import Race
from .pings import PingBatch
from .processor import RaceProcessor
from .ranking_update import RankingKeeper
from .settings import settings
from .snapshot import BackgroundSave, load_state, save_state, saved_offset
from .standings import Standings

log = logging.getLogger(__name__)
MAX_FILES_PER_STEP = 400
HISTORY_LEADERS = 10


def state_path(race: Race) -> Path:
    return race.folder / f"state-{race.definition.digest}.npz"


class RaceWorker:
    """One race's processor: restore, step, publish, save."""

    def __init__(self, race: Race) -> None:
        self.race = race
        self.started = time.monotonic()
        path = state_path(race)
        # the saved state, or the last publication when it is further on (it holds the whole state): a restart
        # then replays only the pings stored after it
        published = publish.published_state(race)
        if published is not None and (not path.is_file() or saved_offset(path) <= published.offset):
            self.processor: RaceProcessor = published
        elif path.is_file():
            self.processor = load_state(path)
        else:  # a new race, or a new definition of it: from its first raw ping
            self.processor = race.new_processor()
            for stale in race.folder.glob("state-*.npz"):
                stale.unlink()
            (race.folder / "history.jsonl").unlink(missing_ok=True)
            shutil.rmtree(publish.live_dir(race), ignore_errors=True)
        self.saved_at = time.monotonic()
        self.history_at = 0.0
        self.lags: deque[float] = deque(maxlen=2000)
        self.rates: deque[tuple[float, int]] = deque(maxlen=64)
        self.published_version = -1
        self.standings: Standings | None = None
        self.keeper = RankingKeeper()  # each version's ranking from the last one's
        self.publication = publish.Publication()  # files of unchanged arrays linked from the last folder
        self.saver = BackgroundSave()  # saves written from the last publication's files, off the cycle
        # a restart may resume from a state older than the board (the saved one, after a reboot): versions continue
        # above the last one published (never reused with other content), and nothing is published until the state
        # has caught up with what readers saw
        last_version, self.catch_up_to = publish.last_published(race)
        self.processor.version = max(self.processor.version, last_version)
        log.info("race %s: %d runners, resuming after key %d (published: version %d, key %d); state restored in "
                 "%.2f s", race.name, race.runners, self.processor.offset, last_version, self.catch_up_to,
                 time.monotonic() - self.started)

    def step(self, now_us: int | None = None, settle_s: float | None = None) -> int:
        """Apply the files stored since the last step; returns how many pings."""
        s = settings()
        now_us = time.time_ns() // 1000 if now_us is None else now_us
        settle = s.settle_seconds if settle_s is None else settle_s
        files = rawlog.new_files(self.race.name, self.processor.offset, now_us - int(settle * 1e6))
        files = files[:MAX_FILES_PER_STEP]
        if not files:
            self.catch_up_to = min(self.catch_up_to, self.processor.offset)  # what was published is gone
            return 0
        try:
            frame = rawlog.read_files(files)
        except (OSError, pl.exceptions.PolarsError):
            log.warning("race %s: a raw file could not be read yet; retrying", self.race.name, exc_info=True)
            return 0
        self.apply(frame, offset=rawlog.key_of(files[-1]))
        self.lags.append(time.time() - rawlog.key_of(files[0]) / 1e6)
        self.rates.append((time.monotonic(), frame.height))
        return frame.height

    def apply(self, frame: pl.DataFrame, offset: int) -> None:
        """Apply raw rows in order: pings in batches, admin commands in their place, and the edge's counts of
        pings it did not store (unknown devices, over a device's rate, over the budget) into the rejected counts."""
        commands = np.flatnonzero(frame["kind"].to_numpy() != rawlog.PING)
        start = 0
        for row in [*commands.tolist(), frame.height]:
            if row > start:
                self.processor.process(self.batch(frame.slice(start, row - start)))
            if row < frame.height:
                command = frame.row(row, named=True)
                if command["kind"] == rawlog.EDGE_COUNT:  # pings the edge counted and did not store, by reason
                    rejected = self.processor.rejected
                    rejected[command["source"]] = rejected.get(command["source"], 0) + int(command["hr"] or 0)
                else:
                    runner = self.race.bib_index.get(command["device"])
                    if runner is not None:
                        self.processor.set_dnf([runner], dnf=command["kind"] == rawlog.DNF_COMMAND)
            start = row + 1
        self.processor.offset = offset
        self.processor.version += 1

    def batch(self, frame: pl.DataFrame) -> PingBatch:
        runner = self.race.devices.indices(frame["device"])
        received = np.asarray(self.race.race_time(frame["received"].to_numpy()), dtype=np.float64)
        return PingBatch.of(runner, frame["t"].to_numpy(), frame["lat"].to_numpy(), frame["lon"].to_numpy(),
                            frame["hr"].fill_null(np.nan).to_numpy(), received)

    def now(self) -> float:
        return float(self.race.race_time(time.time()))

    def publish(self) -> None:
        p = self.processor
        if p.version == self.published_version or p.offset < self.catch_up_to:
            return
        self.standings = Standings(p, self.keeper.rank(p))
        publish.publish(self.race, p, self.standings, {"pings_per_s": self.rate(), "lag_p99_s": self.lag_p99(),
                                                       "restorable": True}, previous=self.publication)
        if self.published_version < 0:
            log.info("race %s: first publication %.2f s after the worker started, %.2f s after the process did "
                     "(version %d, key %d)", self.race.name, time.monotonic() - self.started, _process_age_s(),
                     p.version, p.offset)
        self.published_version = p.version
        if time.monotonic() - self.history_at >= settings().keep_history_every_seconds:
            self.history_at = time.monotonic()
            leaders = self.standings.order[:HISTORY_LEADERS]
            leaders = leaders[self.standings.rank[leaders] > 0]
            line = {"t": p.clock, "leaders": [{"runner": int(r), "distance_m": round(float(p.progress_m[r]), 1)}
                                              for r in leaders]}
            with (self.race.folder / "history.jsonl").open("a") as out:
                out.write(json.dumps(line) + "\n")

    def save(self, force: bool = False) -> None:
        """Every ``save_every_seconds`` (or now, ``force``, and then in full before returning): the state as last
        published is saved in the background from the publication's files; a state not published is saved here."""
        if not force and (time.monotonic() - self.saved_at < settings().save_every_seconds or self.saver.busy):
            return
        self.saver.wait()
        frozen = None if force else self.publication.frozen(self.processor)
        if frozen is None:
            save_state(self.processor, state_path(self.race))
        else:
            self.saver.start(frozen, state_path(self.race))
        self.saved_at = time.monotonic()

    def rate(self) -> float:
        now = time.monotonic()
        recent = [(t, n) for t, n in self.rates if now - t <= 10]
        return round(sum(n for _, n in recent) / 10.0, 1) if recent else 0.0

    def lag_p99(self) -> float | None:
        return round(float(np.percentile(list(self.lags), 99)), 3) if self.lags else None


class ProcessorService:
    """Every defined race's worker; a race redefined (new digest) starts over from its raw pings."""

    def __init__(self) -> None:
        self.workers: dict[str, RaceWorker] = {}

    def refresh(self) -> None:
        for name in definition.race_names():
            try:
                race = definition.load(name)
            except (ShipmlError, OSError, ValueError):
                log.warning("race %s: definition unreadable; skipped", name, exc_info=True)
                continue
            worker = self.workers.get(name)
            if worker is None or worker.race.definition.digest != race.definition.digest:
                log.info("race %s: definition loaded %.2f s after the process started", name, _process_age_s())
                self.workers[name] = RaceWorker(race)

    def step(self) -> dict[str, Any]:
        totals: dict[str, Any] = {"pings": 0, "rejected": 0, "lag": 0.0}
        for worker in list(self.workers.values()):
            totals["pings"] += worker.step()
            worker.publish()
            worker.save()
            totals["rejected"] += sum(worker.processor.rejected.values())
            totals["lag"] = max(totals["lag"], worker.lag_p99() or 0.0)
        return totals

    def save_all(self) -> None:
        for worker in self.workers.values():
            worker.save(force=True)


def _process_age_s() -> float:
    """Seconds since this process started (Linux; NaN elsewhere), for the restart timings in the log."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return float("nan")


def _running(max_seconds: float | None) -> Iterator[float]:
    """The service loop's ticks (monotonic time) until SIGTERM/SIGINT or ``max_seconds``."""
    stopping = {"now": False}

    def stop(*_: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started = time.monotonic()
    while not stopping["now"] and (max_seconds is None or time.monotonic() - started < max_seconds):
        yield time.monotonic()


def _beat(**details: Any) -> None:
    from shipml.core import services

    try:
        services.beat("race", "processor", **details)
    except Exception:
        log.warning("could not record the processor's heartbeat", exc_info=True)


def run_processor(max_seconds: float | None = None) -> None:
    """The ``processor`` service: step every ``batch_seconds``, beat every 2 s; saves on SIGTERM/SIGINT.
    With ``SHIPML_RACE_ENGINE=spark`` it runs the Spark streaming job instead (:func:`run_spark_processor`)."""
    s = settings()
    if s.engine == "spark":
        run_spark_processor(max_seconds)
        return
    service = ProcessorService()
    beat_at = refresh_at = time.monotonic() - 10
    for tick in _running(max_seconds):
        if tick - refresh_at >= 2:
            service.refresh()
            refresh_at = tick
        totals = service.step()
        if tick - beat_at >= 2:
            _beat(lag_seconds=totals["lag"], pings_per_s=sum(w.rate() for w in service.workers.values()),
                  rejected=totals["rejected"], races=len(service.workers))
            beat_at = tick
        time.sleep(max(0.0, s.batch_seconds - (time.monotonic() - tick)))
    service.save_all()


def run_spark_processor(max_seconds: float | None = None) -> None:
    """One followed Spark query per defined race (restarted when the race is redefined), beating every 2 s."""
    from .spark_path import follow

    queries: dict[str, tuple[str, Any, Any]] = {}  # race → (definition digest, query, gathered)
    for _ in _running(max_seconds):
        for name in definition.race_names():
            try:
                race = definition.load(name)
            except (ShipmlError, OSError, ValueError):
                log.warning("race %s: definition unreadable; skipped", name, exc_info=True)
                continue
            running = queries.get(name)
            if running is None or running[0] != race.definition.digest:
                if running is not None:
                    running[1].stop()
                queries[name] = (race.definition.digest, *follow(race))
        failed = [name for name, (_, q, _) in queries.items() if q.exception() is not None]
        if failed:
            raise RuntimeError(f"the Spark query of race(s) {', '.join(failed)} failed")
        _beat(engine="spark", races=len(queries), batches=sum(g.batches for _, _, g in queries.values()))
        time.sleep(2.0)
    for _, query, _ in queries.values():
        query.stop()
