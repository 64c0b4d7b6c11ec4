"""A processor restarted over the same home (as after a SIGKILL: its saved state older than what it published)
publishes versions above every version it published before, and only a state at least as far in the stream as
what readers already saw, equal to an uninterrupted run's."""

from __future__ import annotations

from typing import Any

import numpy as np

from apps.race import simrace
from shipml.apps.race import definition, rawlog
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.publish import current
from shipml.apps.race.standings import Standings


class _Bare:
    """RaceWorker.apply/batch over a bare processor (no files, no service): the uninterrupted run."""

    def __init__(self, race: definition.Race) -> None:
        self.race, self.processor = race, race.new_processor()

    batch = RaceWorker.batch
    apply = RaceWorker.apply


def _uninterrupted(race: definition.Race, until_key: int) -> Any:
    bare = _Bare(race)
    bare.apply(rawlog.read_files(rawlog.new_files(race.name, 0, until_key)), offset=until_key)
    return bare.processor


def _published() -> tuple[int, int]:
    view = current(definition.load("restart"))
    assert view is not None
    return int(view.meta["version"]), int(view.meta["offset"])


def test_a_restarted_processor_publishes_above_the_last_version_and_never_an_older_board(platform: Any) -> None:
    race = simrace.define("restart", 150)
    frames = simrace.chunks(race, minutes=24)
    first = RaceWorker(race)
    for frame in frames[:20]:
        rawlog.write_file(race.name, frame)
    first.step(settle_s=0.0)
    first.publish()
    first.save(force=True)  # the last save before the kill
    versions = [_published()[0]]
    for frame in frames[20:50]:  # applied and published, never saved: lost with the process
        rawlog.write_file(race.name, frame)
        first.step(settle_s=0.0)
        first.publish()
        versions.append(_published()[0])
    assert versions == sorted(set(versions))
    last_version, last_offset = _published()
    keys = [rawlog.key_of(f) for f in rawlog.new_files(race.name, 0, 2**62)]

    second = RaceWorker(definition.load(race.name))  # a new instance over the same home, as after a SIGKILL
    assert second.processor.offset < last_offset
    second.step(now_us=keys[30], settle_s=0.0)  # part of the way back: behind what readers saw
    second.publish()
    assert _published() == (last_version, last_offset)  # not published: the board does not go back
    for frame in frames[50:]:
        rawlog.write_file(race.name, frame)
    second.step(settle_s=0.0)
    second.publish()
    version, offset = _published()
    assert version > last_version and offset > last_offset

    view = current(definition.load(race.name))
    assert view is not None
    expected = _uninterrupted(race, offset)
    p = view.processor
    assert (p.accepted, p.rejected, p.ignored) == (expected.accepted, expected.rejected, expected.ignored)
    np.testing.assert_array_equal(p.progress_m, expected.progress_m)
    np.testing.assert_array_equal(p.splits_s, expected.splits_s)
    np.testing.assert_array_equal(view.standings.order, Standings(expected).order)
    assert expected.accepted > 1000 and (expected.status == 1).sum() > 0  # a race under way, not an empty one

