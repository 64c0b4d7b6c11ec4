"""Replay real track files through the race processor, in race time, as fast as it goes.

Every file is one runner, named by the file's stem; the gun goes at the earliest ping of all the files. Pings
are fed in time order, one batch per minute of race time, and the standings are taken after every minute and
once at the end::

    {"t": "2023-09-29T22:51:35.554000+00:00",
     "standings": [{"runner": "…", "rank": 1, "distance_m": 212.4, "status": "running"}, …]}
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from shipml.core.errors import InvalidInput

from .course import Course
from .pings import PingBatch
from .processor import RaceProcessor
from .rules import RaceRules
from .standings import Standings
from .tracks import read_track

log = logging.getLogger(__name__)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat()


class Replay:
    """Real tracks raced against each other on one course.

    Args:
        course: the course (e.g. ``Course.from_file(route)``).
        tracks: the track files (GPX, TCX, CSV); the runner is the file's stem.
        rules: the race's rules (default running).
        every_s: race time between two standings.
    """

    def __init__(self, course: Course, tracks: Sequence[str | Path], *, rules: RaceRules | None = None,
                 every_s: float = 60.0) -> None:
        if not tracks:
            raise InvalidInput("replay needs at least one track file")
        if every_s <= 0:
            raise InvalidInput(f"the standings interval must be positive, got {every_s}")
        self.runners = [Path(p).stem for p in tracks]
        if len(set(self.runners)) != len(self.runners):
            raise InvalidInput("two track files have the same name; the runner is the file's stem")
        frames = [read_track(p).with_columns(pl.lit(i, dtype=pl.Int64).alias("runner")) for i, p in
                  enumerate(tracks)]
        pings = pl.concat(frames).sort("t", maintain_order=True)
        self.pings = PingBatch.from_frame(pings)
        self.gun_t = float(self.pings.t.min())
        self.every_s = float(every_s)
        self.processor = RaceProcessor(course, len(tracks), start_t=self.gun_t, rules=rules)
        log.info("replaying %d pings of %d runner(s) from %s", len(self.pings), len(tracks), _iso(self.gun_t))

    def frames(self) -> Iterator[dict[str, Any]]:
        """Standings after every ``every_s`` of race time, then once at the last ping."""
        t = self.pings.t
        end = float(t.max())
        edges = self.gun_t + self.every_s * np.arange(1, int(np.floor((end - self.gun_t) / self.every_s)) + 1)
        cuts = np.searchsorted(t, edges, side="left")
        start = 0
        for edge, cut in zip(edges.tolist(), cuts.tolist(), strict=True):
            self._apply(start, cut)
            start = cut
            yield self.frame(edge)
        self._apply(start, len(self.pings))
        yield self.frame(end)

    def _apply(self, start: int, stop: int) -> None:
        if stop > start:
            self.processor.process(self.pings.take(np.arange(start, stop)), offset=stop)

    def frame(self, now: float) -> dict[str, Any]:
        """The standings of every runner at race time ``now`` (Unix seconds)."""
        lines = Standings(self.processor).page(limit=self.processor.runners, now=now)
        return {"t": _iso(now), "standings": [
            {"runner": self.runners[s.runner], "rank": s.rank, "distance_m": round(s.distance_m, 1),
             "status": s.status} for s in lines]}


def replay_tracks(course: Course, tracks: Sequence[str | Path], *, rules: RaceRules | None = None,
                  every_s: float = 60.0) -> Iterator[dict[str, Any]]:
    """Standings frames of a replay (see :class:`Replay`)."""
    return Replay(course, tracks, rules=rules, every_s=every_s).frames()
