"""A processor's publications hard-link the files of arrays unchanged since its last one; each folder still reads
back exactly as a folder written in full, and a reader's folder stays whole while later ones are published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from apps.race import simrace
from shipml.apps.race import publish, rawlog
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.publish import current
from shipml.apps.race.side import SIDE, SideStore
from shipml.apps.race.standings import Standings


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    """A folder's arrays: its files, but the side records as the arrays they stand for (how they are cut into
    shards and changed rows depends on the folders before)."""
    side = SideStore.open(folder)
    assert side is not None
    return {**{p.stem: np.load(p) for p in sorted(folder.glob("*.npy")) if not p.stem.startswith("side")},
            **side.arrays()}


def test_unchanged_arrays_are_linked_and_every_folder_reads_as_a_full_one(platform: Any) -> None:
    race = simrace.define("relinked", 120)
    frames = simrace.chunks(race, minutes=20)
    worker = RaceWorker(race)
    first_view = None
    linked_somewhere = set()
    for i, frame in enumerate(frames[:40]):
        rawlog.write_file(race.name, frame)
        worker.step(settle_s=0.0)
        if i % 5 == 0:  # admin commands change a few runners between publications
            worker.processor.set_dnf([i % race.runners], dnf=i % 10 == 0)
        worker.publish()
        view = current(race)
        assert view is not None
        folder = publish.live_dir(race) / (publish.live_dir(race) / "CURRENT").read_text().strip()
        first_view = first_view or (view, _arrays(folder))
        # the same version written in full, elsewhere: every array equal
        p = worker.processor
        full_race = simrace.define(f"full{i}", 120)
        written = publish.publish(full_race, p, Standings(p), {})
        got, want = _arrays(folder), _arrays(written)
        assert got.keys() == want.keys()
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
        linked_somewhere.update(worker.publication.linked)
        for key in worker.publication.linked:
            assert (folder / f"{key}.npy").stat().st_nlink >= 2
    assert {"start_t", "category", "category_bounds"} <= linked_somewhere  # never change in a race
    assert "progress_m" not in linked_somewhere  # runners move between any two publications
    # the first folder a reader mapped is still whole (it is deleted since): its maps read what was published then
    assert first_view is not None
    view, arrays = first_view
    for key in publish.ARRAYS:
        np.testing.assert_array_equal(getattr(view.processor, key), arrays[key], err_msg=key)
    for i in range(race.runners):
        for key, value in view.runner_side(i).items():
            np.testing.assert_array_equal(value, arrays[key][i], err_msg=key)
    assert len(arrays) == len(publish.ARRAYS) + len(SIDE) + 7  # and the ranking's 7
    np.testing.assert_array_equal(view.standings.order, arrays["order"])


def test_a_publication_of_another_processor_links_nothing(platform: Any) -> None:
    race = simrace.define("unlinked", 40)
    frames = simrace.chunks(race, minutes=5)
    worker = RaceWorker(race)
    rawlog.write_file(race.name, frames[0])
    worker.step(settle_s=0.0)
    worker.publish()
    other = race.new_processor()  # e.g. restored from a save: its arrays are not those published
    publication = worker.publication
    publish.publish(race, other, Standings(other), {}, previous=publication)
    assert publication.linked == []
