"""The standings the processor publishes and the API reads: one folder of ``.npy`` arrays per state version.

    live/v<ns>-<version>-<pid>/  order, rank, category ranks, every runner's progress, times, speed, splits; and
                             their position, recent trail (see :mod:`.trail`) and restore-only arrays as side
                             records (:mod:`.side`: shards rewritten now and then, plus the rows changed since)
    live/CURRENT             the name of the newest complete folder (replaced atomically)

The API memory-maps the arrays of the current folder once per version (:func:`current`) and answers every page
and runner lookup with slices of them, through the same :class:`~.standings.Standings` code the processor uses.
Files never change once written: an array (or side shard) unchanged since the last folder is hard-linked from it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .definition import Race
from .processor import STATE_ARRAYS, RaceProcessor
from .side import SIDE, SideStore, SideWriter
from .standings import Ranking, Standings
from .trail import TRAIL_ARRAYS

#: the per-runner arrays of the standings, one file each (the others are side records, :mod:`.side`)
ARRAYS = ("start_t", "category", "status", "progress_m", "progress_t", "last_t", "speed_mps", "splits_s")
KEEP = 3


def live_dir(race: Race) -> Path:
    return race.folder / "live"


def publish(race: Race, processor: RaceProcessor, standings: Standings, meta: dict[str, Any],
            previous: Publication | None = None) -> Path:
    """Write the current standings as a new version folder and point ``CURRENT`` at it; with the ``previous``
    publication of the same processor, its files of the arrays unchanged since are hard-linked, not written."""
    base = live_dir(race)
    base.mkdir(parents=True, exist_ok=True)
    name = f"v{time.time_ns()}-{processor.version}-{os.getpid()}"
    folder = base / f".{name}.partial"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    arrays: dict[str, np.ndarray] = {n: getattr(processor, n) for n in ARRAYS}
    by_category = np.concatenate([standings.category_order[c] for c in range(len(processor.category_names))]
                                 or [np.zeros(0, np.int64)])
    bounds = np.cumsum([0] + [standings.category_order[c].size for c in range(len(processor.category_names))])
    ranking = {"order": standings.order, "rank": standings.rank, "category_rank": standings.category_rank,
               "by_category": by_category, "gap_s": standings.gaps(overall=True),
               "category_gap_s": standings.gaps(overall=False), "category_bounds": np.asarray(bounds, dtype=np.int64)}
    unchanged = previous.unchanged(processor, ranking) if previous is not None else set()
    arrays.update(order=standings.order.astype(np.int32), rank=standings.rank.astype(np.int32),
                  category_rank=standings.category_rank.astype(np.int32), by_category=by_category.astype(np.int32),
                  category_bounds=ranking["category_bounds"],
                  gap_s=standings.gaps(overall=True).astype(np.float32),
                  category_gap_s=standings.gaps(overall=False).astype(np.float32))
    linked = []
    for key, array in arrays.items():
        if key in unchanged and previous is not None and _link(previous.folder / f"{key}.npy", folder / f"{key}.npy"):
            linked.append(key)
        else:
            np.save(folder / f"{key}.npy", array)
    side = previous.side if previous is not None else SideWriter()
    side.write(folder, processor)
    full = {**meta, "version": processor.version, "clock": processor.clock, "ranked": standings.ranked,
            "accepted": processor.accepted, "rejected": processor.rejected, "ignored": processor.ignored,
            "published_at": time.time(), "offset": processor.offset, "digest": race.definition.digest,
            "boot_id": boot_id()}
    (folder / "meta.json").write_text(json.dumps(full))
    final = base / name
    shutil.rmtree(final, ignore_errors=True)
    folder.rename(final)
    side.commit(final)
    pointer = base / "CURRENT.partial"
    pointer.write_text(name)
    pointer.replace(base / "CURRENT")
    for old in sorted((p for p in base.glob("v*") if p.is_dir()), key=lambda p: p.name)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)  # a reader's memory maps stay valid after unlink
    if previous is not None:
        previous.record(final, processor, ranking, linked)
    return final


def _link(source: Path, target: Path) -> bool:
    try:
        os.link(source, target)
    except OSError:  # gone, or a file system without hard links: written instead
        return False
    return True


class Publication:
    """What a processor's last publication wrote, so that the next one hard-links the files of the arrays that did
    not change since (a reader still maps one complete folder: a file is never written again once published).

    A state array is unchanged when the runners the processor changed since (:meth:`.RaceProcessor.changed_since`)
    hold the values the previous folder has for them; the ranking's arrays, when they are the same arrays."""

    def __init__(self) -> None:
        self.folder = Path()
        self.processor: RaceProcessor | None = None
        self.version = -1
        self.ranking: dict[str, np.ndarray] = {}
        self.linked: list[str] = []  # what the last publication linked rather than wrote
        self.side = SideWriter()  # its side records

    def unchanged(self, processor: RaceProcessor, ranking: dict[str, np.ndarray]) -> set[str]:
        changed = processor.changed_since(self.version) if processor is self.processor else None
        if changed is None or not self.folder.is_dir():
            return set()
        same = {key for key, array in ranking.items() if self.ranking.get(key) is array}  # the same ranking
        if np.array_equal(ranking["category_bounds"], self.ranking.get("category_bounds", [])):
            same.add("category_bounds")
        for key in ARRAYS:
            array = getattr(processor, key)
            try:
                old = np.load(self.folder / f"{key}.npy", mmap_mode="r")
            except (OSError, ValueError):
                continue
            if old.shape == array.shape and old.dtype == array.dtype and (
                    not changed.size or np.array_equal(array[changed], old[changed], equal_nan=True)):
                same.add(key)
        return same

    def record(self, folder: Path, processor: RaceProcessor, ranking: dict[str, np.ndarray],
               linked: list[str]) -> None:
        self.folder, self.processor, self.version, self.ranking, self.linked = (folder, processor, processor.version,
                                                                                ranking, linked)

    def frozen(self, processor: RaceProcessor) -> Callable[[], RaceProcessor] | None:
        """The state of ``processor`` as this publication holds it, when the processor has not changed since it
        was published (else None): the folder's files are opened now (memory-mapped; a map stays valid when the
        folder is deleted later, and the files never change), and the returned call makes the state from them
        (the side records put together: a copy), e.g. in the background while the processor goes on."""
        if processor is not self.processor or processor.version != self.version:
            return None
        try:
            arrays = {key: np.load(self.folder / f"{key}.npy", mmap_mode="r") for key in ARRAYS}
            side = SideStore.open(self.folder)
        except (OSError, ValueError):
            return None
        if side is None:
            return None
        p = RaceProcessor.over_arrays(processor.course, arrays, rules=processor.rules,
                                      category_names=processor.category_names, clock=processor.clock,
                                      version=processor.version, accepted=processor.accepted,
                                      rejected=processor.rejected, ignored=processor.ignored)
        p.offset = processor.offset

        def make() -> RaceProcessor:
            for name, array in side.arrays().items():
                setattr(p, name, array)
            return p

        return make


@dataclass
class LiveView:
    """The published standings of one version, ready to serve (arrays memory-mapped). Its processor has the
    standings' arrays; a runner's side record (position, trail) is :meth:`runner_side`."""

    race: Race
    meta: dict[str, Any]
    standings: Standings
    side: SideStore | None = None

    @property
    def processor(self) -> RaceProcessor:
        return self.standings.processor

    def runner_side(self, runner: int) -> dict[str, Any]:
        """One runner's side arrays (:data:`.side.SIDE`) as of this version."""
        if self.side is None:  # a folder from before side records: every array is in the processor
            return {name: getattr(self.processor, name)[runner] for name in SIDE}
        row = self.side.row(runner)
        return {name: row[name] for name in SIDE}


def _view(race: Race, folder: Path) -> LiveView:
    meta = json.loads((folder / "meta.json").read_text())
    # plain arrays over the maps (a memmap indexes through Python: a third of a leaderboard page's time)
    arrays = {p.stem: np.load(p, mmap_mode="r").view(np.ndarray) for p in folder.glob("*.npy")
              if not p.stem.startswith("side")}
    side = SideStore.open(folder)
    wanted = ARRAYS if side is not None else (*ARRAYS, *SIDE)  # an older folder has every array as a file
    p = RaceProcessor.over_arrays(  # a read-only processor over the published arrays
        race.course, {key: arrays[key] for key in wanted if key in arrays}, rules=race.definition.rules(),
        category_names=race.category_names, clock=meta["clock"], version=meta["version"],
        accepted=meta["accepted"], rejected=meta["rejected"], ignored=meta["ignored"])
    bounds = arrays["category_bounds"]
    s = Standings(p, Ranking(
        order=arrays["order"], ranked=int(meta["ranked"]), rank=arrays["rank"], category_rank=arrays["category_rank"],
        category_order={c: arrays["by_category"][bounds[c]:bounds[c + 1]] for c in range(len(race.category_names))},
        finish_s=arrays["splits_s"][:, -1], gap_s=arrays.get("gap_s"), category_gap_s=arrays.get("category_gap_s")))
    return LiveView(race, meta, s, side)


def boot_id() -> str:
    """This boot of the machine (Linux), "" elsewhere: published files are not fsynced, so a restarted processor
    takes its state from them only within the same boot (the page cache holds what was written)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def published_state(race: Race) -> RaceProcessor | None:
    """The processor state of the current publication (every per-runner array is published, with the counts,
    clock and stream offset), when the embedded processor published it (``restorable`` in its meta) for this
    definition in this boot and it reads back whole; else None. A restart taking it replays only the pings stored
    after the last publication, not all of those since the last save."""
    base = live_dir(race)
    try:
        folder = base / (base / "CURRENT").read_text().strip()
        meta = json.loads((folder / "meta.json").read_text())
        if (meta.get("digest") != race.definition.digest or not meta.get("restorable")  # the Spark path's is not
                or not meta.get("boot_id") or meta["boot_id"] != boot_id()):
            return None
        p = race.new_processor()
        side = SideStore.open(folder)
        arrays = side.arrays() if side is not None else {}
        for key in (*STATE_ARRAYS, "splits_s", *TRAIL_ARRAYS):
            array = arrays[key] if key in arrays else np.load(folder / f"{key}.npy")
            target = getattr(p, key)
            if array.shape != target.shape:
                return None
            target[:] = array
        p.accepted, p.rejected, p.ignored = int(meta["accepted"]), dict(meta["rejected"]), dict(meta["ignored"])
        p.clock, p.offset, p.version = float(meta["clock"]), int(meta["offset"]), int(meta["version"])
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return p


def last_published(race: Race) -> tuple[int, int]:
    """The highest version ever published for the race still on disk, and the stream offset of the current one
    ((-1, 0) when nothing is published). A restarted processor continues above that version, and publishes again
    only once it has caught up with that offset, so readers never see the board go back."""
    base = live_dir(race)
    versions = [-1]
    for folder in base.glob("v*-*-*"):
        try:
            versions.append(int(folder.name.split("-")[1]))
        except (IndexError, ValueError):
            continue
    offset = 0
    try:
        meta = json.loads((base / (base / "CURRENT").read_text().strip() / "meta.json").read_text())
        versions.append(int(meta["version"]))
        offset = int(meta.get("offset", 0))
    except (OSError, KeyError, ValueError):
        pass
    return max(versions), offset


_CACHE: dict[str, tuple[str, LiveView]] = {}


def current(race: Race) -> LiveView | None:
    """The newest published view of a race (None before the processor's first publication)."""
    base = live_dir(race)
    try:
        name = (base / "CURRENT").read_text().strip()
    except OSError:
        return None
    cached = _CACHE.get(race.name)
    if cached and cached[0] == name and cached[1].race is race:
        return cached[1]
    try:
        view = _view(race, base / name)
    except (OSError, KeyError, ValueError):
        return cached[1] if cached else None  # being replaced: the previous one is still good
    if view.meta.get("digest") != race.definition.digest or view.processor.runners != view.standings.rank.size:
        return None  # published for a previous definition of the race
    _CACHE[race.name] = (name, view)
    return view
