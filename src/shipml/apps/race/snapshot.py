"""Save and restore a processor's whole state (one ``.npz`` file, replaced atomically).

A restarted processor loads the last snapshot and re-applies the raw pings stored after ``processor.offset``;
since batches are applied per runner in arrival order, it ends in the same state as if it had never stopped.
"""

from __future__ import annotations

import json
import logging
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from shipml.core import files
from shipml.core.errors import RejectedData

from .course import Checkpoint, Course
from .processor import STATE_ARRAYS, RaceProcessor
from .rules import RaceRules
from .trail import TRAIL_ARRAYS

FORMAT = 1
log = logging.getLogger(__name__)


def save_state(processor: RaceProcessor, path: str | Path) -> Path:
    """Write the processor's state (course included) to ``path``; a crash mid-write leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    p = processor
    course = p.course
    meta = {
        "format": FORMAT,
        "runners": p.runners,
        "rules": p.rules.to_dict(),
        "category_names": list(p.category_names),
        "accepted": p.accepted,
        "rejected": p.rejected,
        "ignored": p.ignored,
        "offset": p.offset,
        "clock": p.clock,
        "version": p.version,
        "course": {"name": course.name, "spacing_m": course.spacing_m,
                   "checkpoints": [[c.name, c.distance_m] for c in course.checkpoints]},
    }
    arrays = {name: getattr(p, name) for name in [*STATE_ARRAYS, *TRAIL_ARRAYS]}
    with files.atomic_path(path, durable=True) as temporary, temporary.open("wb") as handle:
        np.savez(handle, meta=np.array(json.dumps(meta)), splits_s=p.splits_s, course_lat=course.lat,
                 course_lon=course.lon, **arrays)
    return path


class BackgroundSave:
    """State saves in a thread, one at a time, so that a processor's cycle does not wait ~1 s for a durable write
    of its whole state (at a million runners: 160 MB, fsynced). What is saved is made in the thread by a call that
    returns a processor nothing changes while it is written (:meth:`.publish.Publication.frozen`: over published
    files)."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self.saves = 0
        self.error: BaseException | None = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, make: Callable[[], RaceProcessor], path: str | Path) -> bool:
        """Save ``make()`` to ``path`` in the background; False (nothing started) while a save is running."""
        if self.busy:
            return False

        def run() -> None:
            try:
                save_state(make(), path)
                self.saves += 1
            except Exception as exc:  # the next save tries again; the last good file stays (atomic replace)
                self.error = exc
                log.exception("could not save the race state to %s", path)

        self._thread = threading.Thread(target=run, name="race-state-save", daemon=True)
        self._thread.start()
        return True

    def wait(self) -> None:
        """Until the running save, if any, is on disk."""
        if self._thread is not None:
            self._thread.join()


def saved_offset(path: str | Path) -> int:
    """The stream offset of a saved state, read without its arrays (-1 when unreadable)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return int(json.loads(str(data["meta"]))["offset"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return -1


def load_state(path: str | Path) -> RaceProcessor:
    """A processor exactly as it was saved."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT:
                raise RejectedData(f"{path.name}: unknown race state format {meta.get('format')!r}")
            info = meta["course"]
            course = Course(data["course_lat"], data["course_lon"], name=info["name"], spacing_m=info["spacing_m"],
                            checkpoints=[Checkpoint(n, d) for n, d in info["checkpoints"]])
            processor = RaceProcessor(course, meta["runners"], start_t=data["start_t"],
                                      rules=RaceRules.from_dict(meta["rules"]),
                                      category_names=tuple(meta["category_names"]))
            for name in STATE_ARRAYS:
                getattr(processor, name)[:] = data[name]
            processor.splits_s[:] = data["splits_s"]
            _put_trails(processor, data)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise RejectedData(f"{path.name}: not a readable race state ({exc})") from exc
    processor.accepted = meta["accepted"]
    processor.rejected = dict(meta["rejected"])
    processor.ignored = dict(meta["ignored"])
    processor.offset = meta["offset"]
    processor.clock = meta["clock"]
    processor.version = meta["version"]
    return processor


def _put_trails(processor: RaceProcessor, data: Any) -> None:
    """The runners' trails, when the saved state has them (a state saved before trails existed starts without)."""
    for name in TRAIL_ARRAYS:
        if name in data.files:
            getattr(processor, name)[:] = data[name]
