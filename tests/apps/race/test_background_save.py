"""The processor service saves its state in the background, from the files of its last publication: the file saved
is the state as published, whatever the processor does while it is written; a forced save (shutdown) is the
current state, written before it returns."""

from __future__ import annotations

from typing import Any

import numpy as np

from apps.race import simrace
from shipml.apps.race import live, rawlog
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.processor import STATE_ARRAYS, RaceProcessor
from shipml.apps.race.snapshot import load_state
from shipml.apps.race.trail import TRAIL_ARRAYS


def _copy(p: RaceProcessor) -> dict[str, Any]:
    arrays = {name: np.array(getattr(p, name)) for name in [*STATE_ARRAYS, *TRAIL_ARRAYS, "splits_s"]}
    return {**arrays, "counts": (p.accepted, dict(p.rejected), dict(p.ignored), p.offset, p.clock, p.version)}


def _assert_state(saved: RaceProcessor, want: dict[str, Any]) -> None:
    for name, array in want.items():
        if name == "counts":
            assert (saved.accepted, saved.rejected, saved.ignored, saved.offset, saved.clock,
                    saved.version) == array
        else:
            np.testing.assert_array_equal(getattr(saved, name), array, err_msg=name)


def test_the_background_save_is_the_published_state_while_the_processor_goes_on(platform: Any) -> None:
    race = simrace.define("saved-aside", 80)
    frames = simrace.chunks(race, minutes=12)
    worker = RaceWorker(race)
    for frame in frames[:15]:
        rawlog.write_file(race.name, frame)
        worker.step(settle_s=0.0)
    worker.publish()
    published = _copy(worker.processor)
    worker.saved_at = -1e9  # a save is due
    worker.save()
    assert worker.saver.saves + worker.saver.busy == 1  # started in the background, not written here
    for frame in frames[15:30]:  # the processor moves on while (or after) the file is written
        rawlog.write_file(race.name, frame)
        worker.step(settle_s=0.0)
        worker.publish()
        worker.save()  # not due again: nothing started
    worker.saver.wait()
    assert worker.saver.error is None and worker.saver.saves == 1
    assert worker.processor.version > published["counts"][5]
    _assert_state(load_state(live.state_path(race)), published)


def test_a_forced_save_writes_the_current_state_even_unpublished(platform: Any) -> None:
    race = simrace.define("saved-now", 60)
    frames = simrace.chunks(race, minutes=6)
    worker = RaceWorker(race)
    for frame in frames[:6]:
        rawlog.write_file(race.name, frame)
        worker.step(settle_s=0.0)
    worker.publish()
    rawlog.write_file(race.name, frames[6])
    worker.step(settle_s=0.0)  # applied, not published
    worker.save(force=True)
    assert not worker.saver.busy
    _assert_state(load_state(live.state_path(race)), _copy(worker.processor))
