"""The processor service: killed with SIGKILL mid-race and restarted, it ends with the standings of an
uninterrupted run; the raw store acknowledges only what is on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from apps.race import simrace
from platform_fixtures import wait_for
from shipml.apps.race import definition, rawlog
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.publish import current
from shipml.apps.race.standings import Standings


def _service(log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SHIPML_RACE_SAVE_EVERY_SECONDS": "0.3", "SHIPML_RACE_BATCH_SECONDS": "0.1",
           "SHIPML_RACE_SETTLE_SECONDS": "0.2"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "shipml.cli", "service", "race", "processor"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _published_offset(race: definition.Race) -> int:
    view = current(race)
    return -1 if view is None else int(view.meta.get("offset", -1))


def test_sigkill_mid_race_then_restart_gives_the_uninterrupted_standings(platform: Any, tmp_path: Path) -> None:
    race = simrace.define("killme", 400)
    frames = simrace.chunks(race, minutes=50)
    log = tmp_path / "processor.log"
    proc = _service(log)
    try:
        half = len(frames) // 2
        for frame in frames[:half]:
            rawlog.write_file(race.name, frame)
            time.sleep(0.02)
        wait_for(lambda: race.folder.glob("state-*.npz") and _published_offset(race) > 0, timeout=60,
                 what="a first saved state")
        proc.send_signal(signal.SIGKILL)  # mid-race: some files applied, some not, state saved a while ago
        proc.wait()
        for frame in frames[half:(3 * len(frames)) // 4]:
            rawlog.write_file(race.name, frame)
        proc = _service(log)
        for frame in frames[(3 * len(frames)) // 4:]:
            rawlog.write_file(race.name, frame)
            time.sleep(0.01)
        last = rawlog.key_of(rawlog.new_files(race.name, 0, 2**62)[-1])
        wait_for(lambda: _published_offset(race) == last, timeout=120, what="the processor to catch up")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert "Traceback" not in log.read_text()

    uninterrupted = definition.load(race.name).new_processor()
    all_pings = rawlog.read_race(race.name)
    RaceWorker.apply(_Adapter(race, uninterrupted), all_pings, offset=last)  # type: ignore[arg-type]
    expected = Standings(uninterrupted)
    view = current(race)
    assert view is not None
    p = view.processor
    assert p.accepted == uninterrupted.accepted and p.rejected == uninterrupted.rejected
    np.testing.assert_array_equal(p.progress_m, uninterrupted.progress_m)
    np.testing.assert_array_equal(p.status, uninterrupted.status)
    np.testing.assert_array_equal(p.splits_s, uninterrupted.splits_s)
    np.testing.assert_array_equal(view.standings.order, expected.order)
    assert uninterrupted.accepted > 10_000 and (uninterrupted.status == 2).sum() > 0  # a real race, some finished


class _Adapter:
    """Borrow RaceWorker.apply/batch for a bare processor (no files, no service)."""

    def __init__(self, race: definition.Race, processor: Any) -> None:
        self.race, self.processor = race, processor

    batch = RaceWorker.batch


def test_the_raw_store_is_on_disk_when_store_returns(platform: Any) -> None:
    race = simrace.define("durable", 10)
    frame = simrace.chunks(race, minutes=2)[-1]
    rawlog.store(race.name, frame)
    files = rawlog.new_files(race.name, 0, 2**62)
    assert len(files) == 1 and not list(rawlog.raw_dir(race.name).glob(".*.partial"))
    stored = pl.read_ipc(files[0])
    assert stored.select(frame.columns).equals(frame)
    assert files[0].parent.name == rawlog.minute_of(rawlog.key_of(files[0]))
