"""A processor restarted over the same home (as after a SIGKILL: its saved state older than what it published)
resumes from its last publication (it holds the whole state), publishes versions above every version it
published before, and never a state behind what readers already saw; its standings equal an uninterrupted run's."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from apps.race import simrace
from shipml.apps.race import definition, publish, rawlog
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.processor import STATE_ARRAYS
from shipml.apps.race.publish import current
from shipml.apps.race.side import SIDE
from shipml.apps.race.standings import Standings
from shipml.apps.race.trail import TRAIL_ARRAYS


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


def _published(name: str) -> tuple[int, int]:
    view = current(definition.load(name))
    assert view is not None
    return int(view.meta["version"]), int(view.meta["offset"])


def _killed_mid_race(name: str) -> tuple[definition.Race, list[Any], int, int]:
    """A race processed, published and saved once, then processed and published further without a save, as a
    processor killed with SIGKILL leaves it; returns the race, the frames not yet stored, the last version and
    offset published."""
    race = simrace.define(name, 150)
    frames = simrace.chunks(race, minutes=24)
    first = RaceWorker(race)
    for frame in frames[:20]:
        rawlog.write_file(race.name, frame)
    first.step(settle_s=0.0)
    first.publish()
    first.save(force=True)  # the last save before the kill
    versions = [_published(name)[0]]
    for frame in frames[20:50]:  # applied and published, never saved
        rawlog.write_file(race.name, frame)
        first.step(settle_s=0.0)
        first.publish()
        versions.append(_published(name)[0])
    assert versions == sorted(set(versions))
    return race, frames[50:], *_published(name)


def _assert_uninterrupted(race: definition.Race) -> None:
    view = current(definition.load(race.name))
    assert view is not None
    expected = _uninterrupted(race, int(view.meta["offset"]))
    p = view.processor
    assert (p.accepted, p.rejected, p.ignored) == (expected.accepted, expected.rejected, expected.ignored)
    np.testing.assert_array_equal(p.progress_m, expected.progress_m)
    np.testing.assert_array_equal(p.splits_s, expected.splits_s)
    np.testing.assert_array_equal(view.standings.order, Standings(expected).order)
    restored = publish.published_state(definition.load(race.name))  # every array, side records put together
    assert restored is not None
    for name in (*STATE_ARRAYS, *TRAIL_ARRAYS, "splits_s"):
        np.testing.assert_array_equal(getattr(restored, name), getattr(expected, name), err_msg=name)
    assert expected.accepted > 1000 and (expected.status == 1).sum() > 0  # a race under way, not an empty one


def test_a_restarted_processor_resumes_from_its_last_publication_above_its_last_version(platform: Any) -> None:
    race, later, last_version, last_offset = _killed_mid_race("restart")
    second = RaceWorker(definition.load(race.name))  # a new instance over the same home, as after a SIGKILL
    assert second.processor.offset == last_offset  # the publication holds the whole state: nothing to replay
    assert second.processor.version >= last_version
    for frame in later:
        rawlog.write_file(race.name, frame)
    second.step(settle_s=0.0)
    second.publish()
    version, offset = _published("restart")
    assert version > last_version and offset > last_offset
    _assert_uninterrupted(race)


def test_after_a_reboot_it_replays_from_its_saved_state_and_never_publishes_an_older_board(platform: Any) -> None:
    race, later, last_version, last_offset = _killed_mid_race("rebooted")
    current_meta = publish.live_dir(race) / (publish.live_dir(race) / "CURRENT").read_text().strip() / "meta.json"
    meta = json.loads(current_meta.read_text())
    current_meta.write_text(json.dumps({**meta, "boot_id": "a-previous-boot"}))  # unsynced files: not trusted
    keys = [rawlog.key_of(f) for f in rawlog.new_files(race.name, 0, 2**62)]

    second = RaceWorker(definition.load(race.name))
    assert second.processor.offset < last_offset  # from the saved state
    second.step(now_us=keys[30], settle_s=0.0)  # part of the way back: behind what readers saw
    second.publish()
    assert _published("rebooted") == (last_version, last_offset)  # not published: the board does not go back
    for frame in later:
        rawlog.write_file(race.name, frame)
    second.step(settle_s=0.0)
    second.publish()
    version, offset = _published("rebooted")
    assert version > last_version and offset > last_offset  # versions continue above, never reused
    _assert_uninterrupted(race)


def test_a_publication_of_the_spark_path_is_not_taken_for_the_embedded_state(platform: Any) -> None:
    race = simrace.define("fromspark", 40)
    for frame in simrace.chunks(race, minutes=6):
        rawlog.write_file(race.name, frame)
    spark_like = _uninterrupted(race, 2**62)
    spark_like.offset = 0  # the Spark path keeps its place in its own checkpoint, not in the processor
    publish.publish(race, spark_like, Standings(spark_like), {"engine": "spark"})
    worker = RaceWorker(definition.load(race.name))
    assert worker.processor.accepted == 0 and worker.processor.offset == 0  # from the first raw ping
    worker.step(settle_s=0.0)
    assert worker.processor.accepted == spark_like.accepted and worker.processor.rejected == spark_like.rejected


def test_a_publication_from_before_trails_and_restore_arrays_is_still_read(platform: Any) -> None:
    """The API's view is built by RaceProcessor.over_arrays and Standings(processor, Ranking): a folder written
    before side records (every array a file of its own) is read, and arrays it lacks (written before trails and
    the restore-only arrays existed) read as their initial values."""
    race = simrace.define("older", 40)
    for frame in simrace.chunks(race, minutes=6):
        rawlog.write_file(race.name, frame)
    processed = _uninterrupted(race, 2**62)
    folder = publish.publish(race, processed, Standings(processed), {})
    for side_file in folder.glob("side*.npy"):  # as a folder of then: last position as files, no trail
        side_file.unlink()
    for name in ("last_x", "last_y"):
        np.save(folder / f"{name}.npy", getattr(processed, name))
    view = current(definition.load(race.name))
    assert view is not None
    p = view.processor
    assert p.runners == processed.runners and p.version == processed.version and p.accepted == processed.accepted
    np.testing.assert_array_equal(p.progress_m, processed.progress_m)
    assert (p.trail_head == -1).all() and p.trail_t.shape == processed.trail_t.shape
    assert (p.dnf_reason == 0).all() and np.isnan(p.off_course_since).all()
    np.testing.assert_array_equal(p.last_x, processed.last_x)
    i = int(np.argmax(processed.progress_m))
    side = view.runner_side(i)
    assert set(side) == set(SIDE) and side["last_x"] == processed.last_x[i] and side["trail_head"] == -1
    fresh = Standings(processed)
    np.testing.assert_array_equal(view.standings.order, fresh.order)
    line = lambda s: (s.runner, s.rank, s.category_rank, s.distance_m, s.finish_s)  # noqa: E731
    assert [line(s) for s in view.standings.page(10)] == [line(s) for s in fresh.page(10)]
