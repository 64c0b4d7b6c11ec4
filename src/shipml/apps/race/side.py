"""The per-runner arrays that only a one-runner lookup or a restart reads, published apart from the standings.

A runner's last position, recent trail (:mod:`.trail`) and the restore-only arrays take 110 of the 170 bytes a
runner costs a publication (110 MB at a million runners), and the API reads them for one runner at a time. So
they are not rewritten whole for every version: each version folder holds

    side<k>.npy        ``SHARDS`` files of runner ranges, one record (:data:`SIDE` as fields) per runner; a shard's
                       file is hard-linked from the last folder until it is written again
    side_runners.npy   the runners whose record differs from their shard's file (changed since it was written),
    side_rows.npy      ascending, and their records as of this version

A runner's record in a version is its row in ``side_rows`` if it is there, else its shard's. The writer rewrites a
shard when half of its runners changed since it was written, or the shard with the most changes when the changed
rows reach 1/(2 × SHARDS) of all runners: at 120,000 pings a cycle (a runner in eight) about a quarter of the
bytes of writing everything each version. Every file is written once and never changed, so a reader's memory maps
always show one version.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .processor import RaceProcessor

SIDE = ("last_x", "last_y", "trail_t", "trail_m", "trail_head", "dnf_reason", "last_hr", "off_course_since")
SHARDS = 4
IntArray = npt.NDArray[np.int64]


def shard_size(runners: int) -> int:
    return max(1, -(-runners // SHARDS))


def row_dtype(p: RaceProcessor) -> np.dtype[np.void]:
    return np.dtype([(name, getattr(p, name).dtype, getattr(p, name).shape[1:]) for name in SIDE])


def rows_of(p: RaceProcessor, runners: IntArray | slice) -> npt.NDArray[np.void]:
    """The records of chosen runners, from the processor's arrays."""
    count = runners.size if isinstance(runners, np.ndarray) else len(range(p.runners)[runners])
    out = np.empty(count, dtype=row_dtype(p))
    for name in SIDE:
        out[name] = getattr(p, name)[runners]
    return out


def _link(source: Path, target: Path) -> bool:
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


class SideWriter:
    """What a processor's last publication wrote of its side records: each shard's version, so that the next one
    writes only the rows changed since (or the shard again). What :meth:`write` did counts once :meth:`commit`
    names the folder it became (a publication that failed half-way is forgotten)."""

    def __init__(self) -> None:
        self.processor: RaceProcessor | None = None
        self.folder: Path | None = None  # the last folder committed
        self._pending: tuple[RaceProcessor, list[int]] | None = None
        self.written_at: list[int] = []  # per shard, the version its file holds
        self.written: list[int] = []  # the shards the last publication wrote (the others were linked)
        self.overlay = 0  # rows in the last publication's overlay

    def write(self, folder: Path, p: RaceProcessor) -> None:
        """The side records of ``p`` into ``folder``, linking the shard files of the last folder committed (when it
        was ``p``'s) that still hold."""
        last, written_at = self.folder, list(self.written_at)
        size = shard_size(p.runners)
        bounds = [(k * size, min((k + 1) * size, p.runners)) for k in range(SHARDS)]
        usable = (last is not None and p is self.processor and len(written_at) == SHARDS
                  and p.changed_since(p.version) is not None
                  and all((last / f"side{k}.npy").is_file() for k in range(SHARDS)))
        if usable:
            pending = [self._changed(p, *bounds[k], written_at[k]) for k in range(SHARDS)]
            counts = [c.size for c in pending]
            rewrite = {k for k in range(SHARDS) if counts[k] * 2 >= max(1, bounds[k][1] - bounds[k][0])}
            rest = [k for k in range(SHARDS) if k not in rewrite]
            if rest and sum(counts[k] for k in rest) * 2 * SHARDS >= p.runners:
                rewrite.add(max(rest, key=lambda k: counts[k]))
        else:
            pending, rewrite = [np.zeros(0, dtype=np.int64)] * SHARDS, set(range(SHARDS))
            written_at = [-1] * SHARDS
        for k, (lo, hi) in enumerate(bounds):
            if k not in rewrite and (last is None or not _link(last / f"side{k}.npy", folder / f"side{k}.npy")):
                rewrite.add(k)
            if k in rewrite:
                np.save(folder / f"side{k}.npy", rows_of(p, slice(lo, hi)))
                written_at[k] = p.version
        runners = np.concatenate([pending[k] for k in range(SHARDS) if k not in rewrite] or [np.zeros(0, np.int64)])
        np.save(folder / "side_runners.npy", runners.astype(np.int64))
        np.save(folder / "side_rows.npy", rows_of(p, runners))
        self.written, self.overlay = sorted(rewrite), runners.size
        self._pending = (p, written_at)

    def commit(self, folder: Path) -> None:
        """The folder the last :meth:`write` went into is published as ``folder``."""
        if self._pending is not None:
            (self.processor, self.written_at), self.folder, self._pending = self._pending, folder, None

    @staticmethod
    def _changed(p: RaceProcessor, lo: int, hi: int, since: int) -> IntArray:
        assert p.changed_at is not None
        return np.flatnonzero(p.changed_at[lo:hi] > since) + lo


class SideStore:
    """The side records of one published version (memory-mapped), read one runner at a time or all at once."""

    def __init__(self, folder: Path) -> None:
        self.shards = [np.load(folder / f"side{k}.npy", mmap_mode="r").view(np.ndarray) for k in range(SHARDS)]
        self.runners = np.load(folder / "side_runners.npy", mmap_mode="r").view(np.ndarray)
        self.rows = np.load(folder / "side_rows.npy", mmap_mode="r").view(np.ndarray)
        self.count = sum(s.shape[0] for s in self.shards)
        self.size = shard_size(self.count)

    @classmethod
    def open(cls, folder: Path) -> SideStore | None:
        """The folder's side records; None when it has none (published before they were kept apart)."""
        return cls(folder) if (folder / "side0.npy").is_file() else None

    def row(self, runner: int) -> np.void:
        """One runner's record as of this version."""
        j = int(np.searchsorted(self.runners, runner))
        if j < self.runners.size and int(self.runners[j]) == runner:
            return self.rows[j]  # type: ignore[no-any-return]
        return self.shards[runner // self.size][runner % self.size]  # type: ignore[no-any-return]

    def arrays(self) -> dict[str, np.ndarray]:
        """Every runner's side arrays as of this version (copied; for a restart or a state save)."""
        every: npt.NDArray[np.void] = np.concatenate(self.shards)
        every[self.runners] = self.rows
        return {name: np.ascontiguousarray(every[name]) for name in SIDE}
