"""Side records (position, trail, restore-only arrays) are published as shards rewritten now and then plus the rows
changed since: every version reads back as the processor's arrays of that version, one runner or all at once; a
folder a reader opened keeps reading the same while later ones are published; and the bytes written per version
follow the runners changed, not the field."""

from __future__ import annotations

from typing import Any

import numpy as np

from apps.race import simrace
from shipml.apps.race import publish, rawlog
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.side import SHARDS, SIDE, SideStore, shard_size


def _side(p: Any) -> dict[str, np.ndarray]:
    return {name: np.array(getattr(p, name)) for name in SIDE}


def _assert_reads_as(store: SideStore, want: dict[str, np.ndarray]) -> None:
    got = store.arrays()
    for name in SIDE:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    for i in range(want["last_x"].size):
        row = store.row(i)
        for name in SIDE:
            np.testing.assert_array_equal(row[name], want[name][i], err_msg=f"{name}[{i}]")


def test_every_version_reads_back_whole_while_few_runners_change(platform: Any) -> None:
    race = simrace.define("sided", 90)
    frames = simrace.chunks(race, minutes=10)
    worker = RaceWorker(race)
    for frame in frames[:12]:  # the field out on the course
        rawlog.write_file(race.name, frame)
        worker.step(settle_s=0.0)
    worker.publish()
    opened: list[tuple[SideStore, dict[str, np.ndarray]]] = []
    overlays, linked_shards, rewritten = [], 0, 0
    rng = np.random.default_rng(5)
    for k in range(30):
        if k % 7 == 6:  # now and then pings of many runners
            rawlog.write_file(race.name, frames[12 + k // 7])
            worker.step(settle_s=0.0)
        else:  # else an admin marks a few runners DNF or reinstates them
            worker.processor.set_dnf(rng.choice(race.runners, 2, replace=False), dnf=bool(k % 2))
        worker.publish()
        folder = worker.publication.folder
        store = SideStore.open(folder)
        assert store is not None
        want = _side(worker.processor)
        _assert_reads_as(store, want)
        opened.append((store, want))
        side = worker.publication.side
        overlays.append(side.overlay)
        rewritten += len(side.written)
        linked_shards += sum((folder / f"side{s}.npy").stat().st_nlink > 1 for s in range(SHARDS))
        assert side.overlay <= race.runners
    assert max(overlays) > 0 and linked_shards > 0 and rewritten > 0  # all three ways were taken
    assert rewritten < 30 * SHARDS / 2  # most shards were linked, not written
    for store, want in opened[:-1]:  # a reader's folders, deleted since (KEEP), read as they did
        _assert_reads_as(store, want)


def test_a_field_changing_a_little_writes_a_little(platform: Any) -> None:
    race = simrace.define("sidebytes", 400)
    frames = simrace.chunks(race, minutes=6)
    worker = RaceWorker(race)
    for frame in frames[:10]:
        rawlog.write_file(race.name, frame)
        worker.step(settle_s=0.0)
    worker.publish()
    full = sum((worker.publication.folder / f"side{s}.npy").stat().st_size for s in range(SHARDS))
    worker.processor.set_dnf([3, 250])  # two runners change
    worker.publish()
    folder = worker.publication.folder
    written = sum(f.stat().st_size for f in folder.glob("side*.npy") if f.stat().st_nlink == 1)
    assert worker.publication.side.written == [] and worker.publication.side.overlay == 2
    assert written < full / 10
    store = SideStore.open(folder)
    assert store is not None and store.size == shard_size(race.runners)
    _assert_reads_as(store, _side(worker.processor))
    restored = publish.published_state(race)
    assert restored is not None
    for name, array in _side(worker.processor).items():
        np.testing.assert_array_equal(getattr(restored, name), array, err_msg=name)
