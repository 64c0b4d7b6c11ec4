"""The race's stream processor: the state of every runner in numpy arrays, advanced one micro-batch at a time.

Each runner is one slot in a set of parallel arrays (progress along the course, last accepted ping, split times,
smoothed speed, status…), so a batch of pings is judged and applied with a handful of vectorised operations.
Pings of the same runner within a batch are applied in arrival order, in rounds (the k-th ping of every runner
in round k): the result is the same however the stream is cut into batches, which is what makes a restart from
a saved state plus the raw pings stored after it end with the same standings as an uninterrupted run.

A ping goes through, in order: unknown device, impossible coordinates or time, late (received more than
``max_delay_s`` after it was taken), before the runner's start / after their finish or DNF (ignored, not bad),
duplicate and out of order (against the runner's last accepted time), teleport (straight-line jump faster than
the sport allows), off course (see :mod:`.matching`). Only a ping that passes all of them moves its runner.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from shipml.core.errors import InvalidInput

from .course import Course
from .matching import match_to_course
from .pings import IGNORE_REASONS, OUTCOME_CODE, OUTCOMES, REJECT_REASONS, PingBatch, rounds
from .rules import RaceRules
from .trail import TRAIL_ARRAYS, new_trails, record

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NOT_STARTED, RUNNING, FINISHED, DNF = 0, 1, 2, 3
STATUS_NAMES = ("not_started", "running", "finished", "dnf")
DNF_BY_ADMIN, DNF_OFF_COURSE = 1, 2
EARLIEST_PING_BEFORE_START_S = 86_400.0
CHUNK = 65_536  # pings of distinct runners matched at once: keeps the matching matrices in cache

#: the per-runner arrays, their dtype and initial value; saved and restored as they are
STATE_ARRAYS: dict[str, tuple[type, float]] = {
    "start_t": (np.float64, np.nan),  # gun (or wave) time, Unix seconds
    "category": (np.int16, 0),
    "status": (np.int8, NOT_STARTED),
    "dnf_reason": (np.int8, 0),
    "progress_m": (np.float64, 0.0),  # distance along the course
    "progress_t": (np.float64, np.nan),  # when the current progress was reached (ties: first there ranks first)
    "last_t": (np.float64, np.nan),  # time of the last accepted ping
    "last_x": (np.float64, np.nan),
    "last_y": (np.float64, np.nan),
    "last_hr": (np.float32, np.nan),
    "speed_mps": (np.float32, np.nan),  # exponentially smoothed speed along the course
    "off_course_since": (np.float64, np.nan),  # first off-course ping since the last accepted one
}


@dataclass
class BatchReport:
    """What one ``process`` call did: counts, and each ping's outcome code (see :data:`pings.OUTCOMES`)."""

    accepted: int
    rejected: dict[str, int]
    ignored: dict[str, int]
    outcome: npt.NDArray[np.int8] = field(repr=False)


class RaceProcessor:
    """The live state of every runner of one race on one course.

    Args:
        course: the course.
        runners: how many runners (slots 0 … runners - 1).
        start_t: the gun time (Unix seconds) of everyone, or one per runner (waves).
        rules: thresholds; see :class:`RaceRules`.
        categories: a category index per runner (default: all 0), naming ``category_names``.
        category_names: names of the categories.
    """

    def __init__(
        self,
        course: Course,
        runners: int,
        *,
        start_t: float | npt.ArrayLike,
        rules: RaceRules | None = None,
        categories: npt.ArrayLike | None = None,
        category_names: tuple[str, ...] = ("all",),
    ) -> None:
        if runners < 0:
            raise InvalidInput(f"a race needs a non-negative number of runners, got {runners}")
        self.course = course
        self.rules = rules or RaceRules()
        self.runners = int(runners)
        self.category_names = tuple(category_names)
        for name, (dtype, initial) in STATE_ARRAYS.items():
            setattr(self, name, np.full(runners, initial, dtype=dtype))
        self.splits_s = np.full((runners, len(course.checkpoints)), np.nan, dtype=np.float32)
        for name, array in new_trails(runners).items():  # each runner's recent track (see .trail)
            setattr(self, name, array)
        start = np.broadcast_to(np.asarray(start_t, dtype=np.float64), (runners,))
        if not np.isfinite(start).all():
            raise InvalidInput("every runner needs a finite start time")
        self.start_t[:] = start
        if categories is not None:
            codes = np.asarray(categories, dtype=np.int64)
            if codes.shape != (runners,) or (codes < 0).any() or (codes >= len(self.category_names)).any():
                raise InvalidInput("one category index per runner, each naming a category")
            self.category[:] = codes
        self.accepted = 0
        self.rejected = dict.fromkeys(REJECT_REASONS, 0)
        self.ignored = dict.fromkeys(IGNORE_REASONS, 0)
        self.offset = 0  # stream position after the last batch applied (set by the caller through ``process``)
        self.clock = float(np.nanmin(start)) if runners else 0.0  # latest reception time seen
        self.version = 0  # bumped by every change; standings are cached per version
        # per runner, the version that last changed its state (see ``changed_since``); None: not tracked
        self.changed_at: IntArray | None = np.zeros(runners, dtype=np.int64)

    @classmethod
    def over_arrays(cls, course: Course, arrays: Mapping[str, np.ndarray], *, rules: RaceRules,
                    category_names: tuple[str, ...], clock: float, version: int, accepted: int,
                    rejected: Mapping[str, int], ignored: Mapping[str, int]) -> RaceProcessor:
        """A processor over given state arrays (published, memory-mapped: used as they are, not copied), e.g. to
        read standings from. A state or trail array missing from ``arrays`` (a publication older than it, or one
        that keeps it apart) reads as its initial value for every runner (read-only, no memory); ``splits_s`` must
        be there."""
        p = cls(course, 0, start_t=0.0, rules=rules, category_names=category_names)  # 0 runners: allocates nothing
        p.runners = int(arrays["start_t"].shape[0])
        fresh: dict[str, np.ndarray] = {name: np.broadcast_to(np.array(initial, dtype=dtype), (p.runners,))
                                        for name, (dtype, initial) in STATE_ARRAYS.items() if name not in arrays}
        fresh.update({name: np.broadcast_to(np.array(initial, dtype=dtype), (p.runners, *shape))
                      for name, (dtype, initial, shape) in TRAIL_ARRAYS.items() if name not in arrays})
        for name, array in {**fresh, **arrays}.items():
            setattr(p, name, array)
        p.clock, p.version, p.accepted = float(clock), int(version), int(accepted)
        p.rejected, p.ignored = dict(rejected), dict(ignored)
        p.changed_at = None  # a read-only view: changes are not tracked
        return p

    def changed_since(self, version: int) -> IntArray | None:
        """The runners whose state ``process`` or ``set_dnf`` changed after state ``version`` (ascending), or None
        when that is not known (a view over published arrays). Arrays written directly bypass this: call
        :meth:`touch` for them."""
        if self.changed_at is None or self.changed_at.shape != (self.runners,):
            return None
        return np.flatnonzero(self.changed_at > version)

    def touch(self, runners: npt.ArrayLike) -> None:
        """Note runners whose state is about to change in the next version (done by ``process`` and ``set_dnf``)."""
        if self.changed_at is not None and self.changed_at.shape == (self.runners,):
            self.changed_at[np.asarray(runners, dtype=np.int64)] = self.version + 1

    # declared for type checkers; created in __init__ from STATE_ARRAYS
    start_t: FloatArray
    category: npt.NDArray[np.int16]
    status: npt.NDArray[np.int8]
    dnf_reason: npt.NDArray[np.int8]
    progress_m: FloatArray
    progress_t: FloatArray
    last_t: FloatArray
    last_x: FloatArray
    last_y: FloatArray
    last_hr: npt.NDArray[np.float32]
    speed_mps: npt.NDArray[np.float32]
    off_course_since: FloatArray
    trail_t: npt.NDArray[np.float32]
    trail_m: npt.NDArray[np.float32]
    trail_head: npt.NDArray[np.int8]

    def process(self, batch: PingBatch, *, offset: int | None = None) -> BatchReport:
        """Judge and apply a batch of pings (in arrival order); returns the counts and every ping's outcome.

        Args:
            batch: the pings.
            offset: the stream position after this batch, remembered in the saved state so that a restarted
                processor knows where to resume.
        """
        n = len(batch)
        outcome = np.zeros(n, dtype=np.int8)
        rules = self.rules
        r, t = batch.runner, batch.t
        unknown = (r < 0) | (r >= self.runners)
        outcome[unknown] = OUTCOME_CODE["unknown_device"]
        earliest = (float(self.start_t.min()) if self.runners else 0.0) - EARLIEST_PING_BEFORE_START_S
        with np.errstate(invalid="ignore"):
            impossible = ~unknown & ~(
                np.isfinite(batch.lat) & np.isfinite(batch.lon) & np.isfinite(t) & np.isfinite(batch.received)
                & (np.abs(batch.lat) <= 90) & (np.abs(batch.lon) <= 180) & ((batch.lat != 0) | (batch.lon != 0))
                & (t <= batch.received + rules.max_clock_skew_s) & (t >= earliest))
            outcome[impossible] = OUTCOME_CODE["impossible"]
            late = (outcome == 0) & (batch.received - t > rules.max_delay_s)
            outcome[late] = OUTCOME_CODE["late"]
            safe_r = np.where(outcome == 0, r, 0)
            before = (outcome == 0) & (t < self.start_t[safe_r])
            outcome[before] = OUTCOME_CODE["before_start"]
        live = np.flatnonzero(outcome == 0)
        if live.size:
            x, y = self.course.project(batch.lat[live], batch.lon[live])
            for round_rows in rounds(r[live], self.runners):
                # a round holds distinct runners: cut into cache-sized chunks, the result is the same
                for rows in np.array_split(round_rows, -(-round_rows.size // CHUNK)):
                    picked = live[rows]
                    outcome[picked] = self._advance(r[picked], t[picked], x[rows], y[rows], batch.hr[picked])
        if n:
            self.clock = max(self.clock, float(np.nanmax(np.where(np.isfinite(batch.received), batch.received,
                                                                  -np.inf))))
        counts = np.bincount(outcome, minlength=len(OUTCOMES))
        report = BatchReport(int(counts[0]), {k: int(counts[OUTCOME_CODE[k]]) for k in REJECT_REASONS},
                             {k: int(counts[OUTCOME_CODE[k]]) for k in IGNORE_REASONS}, outcome)
        self.accepted += report.accepted
        for k, v in report.rejected.items():
            self.rejected[k] += v
        for k, v in report.ignored.items():
            self.ignored[k] += v
        if offset is not None:
            self.offset = int(offset)
        self.version += 1
        return report

    def _advance(self, r: IntArray, t: FloatArray, x: FloatArray, y: FloatArray,
                 hr: FloatArray) -> npt.NDArray[np.int8]:
        """Apply pings of distinct runners; returns their outcome codes."""
        rules, course = self.rules, self.course
        outcome = np.zeros(r.size, dtype=np.int8)
        status = self.status[r]
        outcome[status == FINISHED] = OUTCOME_CODE["after_finish"]
        outcome[status == DNF] = OUTCOME_CODE["after_dnf"]
        last_t = self.last_t[r]
        outcome[(outcome == 0) & (t == last_t)] = OUTCOME_CODE["duplicate"]
        outcome[(outcome == 0) & (t < last_t)] = OUTCOME_CODE["out_of_order"]
        moving = np.flatnonzero(outcome == 0)
        if not moving.size:
            return outcome
        r, t, x, y, hr, last_t = r[moving], t[moving], x[moving], y[moving], hr[moving], last_t[moving]
        first = np.isnan(last_t)
        start_x, start_y = course.start_xy
        prev_t = np.where(first, self.start_t[r], last_t)
        prev_x = np.where(first, start_x, self.last_x[r])
        prev_y = np.where(first, start_y, self.last_y[r])
        dt = t - prev_t
        reach = rules.sport.max_speed_mps * dt
        with np.errstate(invalid="ignore"):
            teleport = ~(np.hypot(x - prev_x, y - prev_y) <= reach + rules.teleport_allowance_m)
        outcome[moving[teleport]] = OUTCOME_CODE["teleport"]
        keep = np.flatnonzero(~teleport)
        r, moving = r[keep], moving[keep]
        t, x, y, hr, dt, prev_t, reach = t[keep], x[keep], y[keep], hr[keep], dt[keep], prev_t[keep], reach[keep]
        previous = self.progress_m[r]
        match = match_to_course(course, x, y, previous, reach, tolerance_m=rules.tolerance_m)
        self._note_off_course(r[~match.on_course], t[~match.on_course])
        outcome[moving[~match.on_course]] = OUTCOME_CODE["off_course"]
        on = np.flatnonzero(match.on_course)
        r, t, x, y, hr, dt, prev_t, previous = r[on], t[on], x[on], y[on], hr[on], dt[on], prev_t[on], previous[on]
        progress = match.distance_m[on]
        self.touch(r)
        finished = progress >= course.length_m - rules.finish_margin_m
        progress = np.where(finished, course.length_m, progress)
        self._record_splits(r, previous, progress, prev_t, dt)
        gained = progress - previous
        with np.errstate(invalid="ignore", divide="ignore"):
            instant = np.where(dt > 0, gained / dt, 0.0)
        smoothing = 1.0 - np.exp(-np.maximum(dt, 0.0) / rules.pace_tau_s)
        speed = self.speed_mps[r].astype(np.float64)
        self.speed_mps[r] = np.where(np.isnan(speed), instant, speed + smoothing * (instant - speed))
        self.progress_t[r] = np.where(gained > 0, t, np.where(np.isnan(self.progress_t[r]), t, self.progress_t[r]))
        self.progress_m[r] = progress
        self.last_t[r] = t
        self.last_x[r] = x
        self.last_y[r] = y
        self.last_hr[r] = hr
        self.status[r] = np.where(finished, FINISHED, RUNNING)
        self.off_course_since[r] = np.nan
        record(self.trail_t, self.trail_m, self.trail_head, r, t - self.start_t[r], progress)
        return outcome

    def _note_off_course(self, r: IntArray, t: FloatArray) -> None:
        if not r.size:
            return
        self.touch(r)
        since = self.off_course_since[r]
        since = np.where(np.isnan(since), t, since)
        self.off_course_since[r] = since
        too_long = np.flatnonzero(t - since >= self.rules.off_course_dnf_after_s)
        if too_long.size:
            self.status[r[too_long]] = DNF
            self.dnf_reason[r[too_long]] = DNF_OFF_COURSE
            log.info("%d runner(s) DNF: off course for %.0f s", too_long.size, self.rules.off_course_dnf_after_s)

    def _record_splits(self, r: IntArray, before: FloatArray, after: FloatArray, prev_t: FloatArray,
                       dt: FloatArray) -> None:
        """Time each checkpoint crossed between two pings, interpolated linearly in distance."""
        marks = self.course.checkpoint_m
        first = np.searchsorted(marks, before, side="right")
        beyond = np.searchsorted(marks, after, side="right")
        crossing = np.flatnonzero(beyond > first)
        step = 0
        while crossing.size:
            k = first[crossing] + step
            rows = r[crossing]
            fraction = (marks[k] - before[crossing]) / (after[crossing] - before[crossing])
            self.splits_s[rows, k] = prev_t[crossing] + fraction * dt[crossing] - self.start_t[rows]
            step += 1
            crossing = crossing[beyond[crossing] > first[crossing] + step]

    def set_dnf(self, runners: npt.ArrayLike, dnf: bool = True) -> None:
        """An admin marks runners DNF (or reinstates them: back to running, or not started if never seen)."""
        idx = np.asarray(runners, dtype=np.int64).ravel()
        if ((idx < 0) | (idx >= self.runners)).any():
            raise InvalidInput("no such runner")
        self.touch(idx)
        if dnf:
            self.status[idx] = DNF
            self.dnf_reason[idx] = DNF_BY_ADMIN
        else:
            seen = ~np.isnan(self.last_t[idx])
            done = self.progress_m[idx] >= self.course.length_m
            self.status[idx] = np.where(done, FINISHED, np.where(seen, RUNNING, NOT_STARTED))
            self.dnf_reason[idx] = 0
            self.off_course_since[idx] = np.nan
        self.version += 1

    def status_names(self, runners: IntArray, now: float | None = None) -> list[str]:
        """Status of each runner as shown: a running runner without a ping for ``stale_after_s`` is "stale"."""
        now = self.clock if now is None else now
        codes = self.status[runners]
        stale = (codes == RUNNING) & (now - self.last_t[runners] > self.rules.stale_after_s)
        return ["stale" if s else STATUS_NAMES[c] for c, s in zip(codes.tolist(), stale.tolist(), strict=True)]

    def last_seen_age_s(self, runners: IntArray, now: float | None = None) -> FloatArray:
        """Seconds since each runner's last accepted ping (NaN when never seen)."""
        now = self.clock if now is None else now
        return now - self.last_t[runners]
