"""A processor killed mid-race and restarted from its last saved state ends with the uninterrupted standings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from apps.race.handmade import batch, new_processor, race_rows
from shipml.apps.race.course import Course
from shipml.apps.race.processor import STATE_ARRAYS, RaceProcessor
from shipml.apps.race.snapshot import load_state, save_state
from shipml.apps.race.standings import Standings
from shipml.apps.race.trail import TRAIL_ARRAYS
from shipml.core.errors import RejectedData


def assert_same(a: RaceProcessor, b: RaceProcessor) -> None:
    for name in STATE_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.splits_s, b.splits_s)
    for name in TRAIL_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.accepted, a.rejected, a.ignored) == (b.accepted, b.rejected, b.ignored)
    assert [(s.runner, s.rank) for s in Standings(a).page(100)] == [(s.runner, s.rank) for s in Standings(b).page(100)]


def test_restore_then_replay_the_stored_pings_equals_an_uninterrupted_run(course: Course, tmp_path: Path) -> None:
    stream = batch(race_rows())
    whole = new_processor(course)
    for start in range(0, len(stream), 4):
        whole.process(stream.take(np.arange(start, min(start + 4, len(stream)))), offset=start + 4)
    whole.set_dnf([2])

    crashed = new_processor(course)
    for start in range(0, 16, 4):
        crashed.process(stream.take(np.arange(start, start + 4)), offset=start + 4)
    save_state(crashed, tmp_path / "race.npz")
    crashed.process(stream.take(np.arange(16, 23)), offset=23)  # applied, then the process died before saving

    resumed = load_state(tmp_path / "race.npz")
    assert resumed.offset == 16
    resumed.process(stream.take(np.arange(resumed.offset, len(stream))), offset=len(stream))  # other batch cuts
    resumed.set_dnf([2])
    assert_same(whole, resumed)


def test_a_broken_state_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "race.npz").write_bytes(b"not a state")
    with pytest.raises(RejectedData, match="race.npz"):
        load_state(tmp_path / "race.npz")


WORKER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from apps.race.handmade import make_course, new_processor
    from shipml.apps.race.pings import PingBatch
    from shipml.apps.race.snapshot import load_state, save_state
    state, pings = sys.argv[1], np.load(sys.argv[2])
    stream = PingBatch(*(pings[k] for k in ("runner", "t", "lat", "lon", "hr", "received")))
    try:
        processor = load_state(state)
    except Exception:
        processor = new_processor(make_course())
    for start in range(processor.offset, len(stream), 3):
        stop = min(start + 3, len(stream))
        processor.process(stream.take(np.arange(start, stop)), offset=stop)
        save_state(processor, state)
        print(stop, flush=True)
        time.sleep(float(sys.argv[3]))
""")


def test_sigkill_mid_race_then_restart(course: Course, tmp_path: Path) -> None:
    stream = batch(race_rows())
    np.savez(tmp_path / "pings.npz", **{k: getattr(stream, k) for k in ("runner", "t", "lat", "lon", "hr",
                                                                        "received")})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]),
                                                        os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-c", WORKER, str(tmp_path / "state.npz"), str(tmp_path / "pings.npz")]
    worker = subprocess.Popen([*command, "3600"], stdout=subprocess.PIPE, text=True, env=env)
    assert worker.stdout is not None
    first_save = int(worker.stdout.readline())  # the worker now sleeps an hour after its first batch
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=60)
    worker.stdout.close()
    assert worker.returncode == -signal.SIGKILL and 0 < first_save < len(stream)
    subprocess.run([*command, "0"], check=True, env=env, capture_output=True, timeout=300)

    whole = new_processor(course)
    whole.process(stream)
    assert_same(whole, load_state(tmp_path / "state.npz"))
