"""Standings: ranks overall and per category, gaps to the leader, pace, predicted finish, leaderboard pages.

Order: finished runners by their finish time (net of their own start), ahead of everyone still out there
(running or stale) by distance along the course, the one who got there first ahead on a tie; runners not started
and DNF are listed last, unranked. One full sort per state version (under a second for a million runners on
one core) makes every page, category page and runner lookup after it a slice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from .processor import DNF, FINISHED, NOT_STARTED, RaceProcessor

IntArray = npt.NDArray[np.int64]
RIEGEL_EXPONENT = 1.06
MIN_DISTANCE_FOR_PREDICTION_M = 1000.0
_TIER_FINISHED, _TIER_OUT_THERE, _TIER_NOT_STARTED, _TIER_DNF = 0, 1, 2, 3


@dataclass(frozen=True)
class Standing:
    """One runner's line on the leaderboard (times in seconds since the runner's start)."""

    runner: int
    rank: int | None
    category: str
    category_rank: int | None
    status: str
    distance_m: float
    finish_s: float | None
    gap_m: float | None
    gap_s: float | None
    pace_s_per_km: float | None
    predicted_finish_s: float | None
    last_checkpoint: str | None
    last_seen_age_s: float | None


def _optional(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def ranking_order(tier: npt.NDArray[np.integer], primary: npt.NDArray[np.float64],
                  tie: npt.NDArray[np.float64]) -> IntArray:
    """Runners by tier, then ``primary``, then ``tie``, then index: ``np.lexsort((tie, primary, tier))``, in
    about a quarter of its time (one unstable sort per tier; only runs of equal keys sorted again)."""
    parts = []
    for t in np.unique(tier):
        members = np.flatnonzero(tier == t)
        if (primary[members] == primary[members[0]]).all() and (tie[members] == tie[members[0]]).all():
            parts.append(members)  # one key for all (the unranked tiers): by index
            continue
        order = members[np.argsort(primary[members])]
        key = primary[order]
        equal = np.flatnonzero(key[1:] == key[:-1])
        if equal.size:
            in_run = np.zeros(order.size, dtype=bool)
            in_run[equal] = in_run[equal + 1] = True
            at = np.flatnonzero(in_run)
            run = np.cumsum(np.concatenate([[True], (key[at][1:] != key[at][:-1]) | (np.diff(at) != 1)]))
            tied = order[at]
            order[at] = tied[np.lexsort((tied, tie[tied], run))]
        parts.append(order)
    return np.concatenate(parts).astype(np.int64)


@dataclass(frozen=True)
class Ranking:
    """The order of one state version: what :class:`Standings` computes once and the API reads back published."""

    order: IntArray  # every runner, best first (unranked last)
    ranked: int  # how many of ``order`` are ranked
    rank: IntArray  # per runner; 0: unranked
    category_rank: IntArray
    category_order: dict[int, IntArray]  # per category, its runners best first
    finish_s: npt.NDArray[np.floating]  # per runner, net finish time (nan while not finished)
    gap_s: npt.NDArray[np.floating] | None = None  # per runner, time behind the overall leader (:func:`time_gaps`)
    category_gap_s: npt.NDArray[np.floating] | None = None  # per runner, behind their category's leader


def leader_curve(p: RaceProcessor, leader: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The leader's net time at each point of the course they passed: their checkpoint times and last point."""
    passed = np.isfinite(p.splits_s[leader])
    at_m = np.concatenate([[0.0], p.course.checkpoint_m[passed], [p.progress_m[leader]]])
    at_s = np.concatenate([[0.0], p.splits_s[leader][passed].astype(np.float64),
                           [p.progress_t[leader] - p.start_t[leader]]])
    keep = np.concatenate([[True], np.diff(at_m) > 0])  # the finish is both a checkpoint and the last point
    return at_m[keep], np.fmax.accumulate(at_s[keep])


def _interpolate(x: npt.NDArray[np.float64], xp: npt.NDArray[np.float64],
                 fp: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``np.interp``, always on its path for as many points as ``xp`` or more (it computes the slopes ahead of time
    then, on the fly for fewer), so that a runner's value does not depend on how many are interpolated with it."""
    if x.size >= xp.size:
        return np.interp(x, xp, fp)
    return np.interp(np.concatenate([x, np.zeros(xp.size - x.size)]), xp, fp)[:x.size]


def behind_leader(p: RaceProcessor, finish_s: npt.NDArray[np.floating], leader: int,
                  runners: IntArray) -> npt.NDArray[np.float64]:
    """Each runner's own time behind a list's leader at the same point: a finisher's net finish time minus the
    leader's (the leader has finished too: finishers are ranked first); a runner still out there, their net time at
    their last point minus the leader's time at that point (:func:`leader_curve`, interpolated). Unknown: nan."""
    out = np.empty(runners.size)
    done = p.status[runners] == FINISHED
    there = runners[~done]
    at_m, at_s = leader_curve(p, leader)
    with np.errstate(invalid="ignore"):
        out[done] = finish_s[runners[done]] - finish_s[leader]
        out[~done] = (p.progress_t[there] - p.start_t[there]) - _interpolate(p.progress_m[there], at_m, at_s)
    return out


def rising_gaps(behind: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A list's gaps from its runners' own times behind the leader (in list order, the leader first; changed in
    place): pings come up to 10 s apart, so a runner ranked behind may have been seen a little earlier than the one
    ahead; a gap is never less than the one above it (a runner behind on the course is at least as far behind)."""
    if not behind.size:
        return behind
    behind[0] = 0.0
    unknown = np.isnan(behind)
    rising = np.fmax.accumulate(behind)  # nan ignored
    if unknown.any():
        rising[unknown] = np.nan
    return rising


def list_gaps(p: RaceProcessor, finish_s: npt.NDArray[np.floating], members: IntArray) -> npt.NDArray[np.float64]:
    """The time gaps of a list's ranked runners (``members``, best first: the leader, the finishers, then the
    runners out there), in its order: the time behind the list's leader at the same point
    (:func:`behind_leader`), rising down the list (:func:`rising_gaps`). Unknown: nan."""
    if not members.size:
        return np.zeros(0)
    return rising_gaps(behind_leader(p, finish_s, int(members[0]), members))


def time_gaps(p: RaceProcessor, finish_s: npt.NDArray[np.floating], order: IntArray, ranked: int,
              category_order: dict[int, IntArray], rank: IntArray) -> tuple[npt.NDArray[np.float64],
                                                                            npt.NDArray[np.float64]]:
    """Every runner's gap to the overall leader and to their category's leader (:func:`list_gaps`; nan unranked),
    computed once per state version."""
    overall = np.full(p.runners, np.nan)
    overall[order[:ranked]] = list_gaps(p, finish_s, order[:ranked])
    in_category = np.full(p.runners, np.nan)
    for members in category_order.values():
        counted = members[:int(np.count_nonzero(rank[members] > 0))]  # the ranked come first
        in_category[counted] = list_gaps(p, finish_s, counted)
    return overall, in_category


def ranking_keys(p: RaceProcessor, runners: IntArray | None = None) -> tuple[npt.NDArray[np.int8],
                                                                               npt.NDArray[np.float64],
                                                                               npt.NDArray[np.float64]]:
    """The sort keys of every runner (or of ``runners``): tier (finished, out there, not started, DNF), then
    ``primary`` (net finish time; minus the distance), then ``tie`` (when that distance was reached); the runner's
    index breaks what is left. The unranked tiers have one key for all: they are listed by index."""
    sel = slice(None) if runners is None else runners
    status = p.status[sel]
    tier = np.full(status.shape, _TIER_OUT_THERE, dtype=np.int8)
    tier[status == FINISHED] = _TIER_FINISHED
    tier[status == NOT_STARTED] = _TIER_NOT_STARTED
    tier[status == DNF] = _TIER_DNF
    finish = p.splits_s[sel, -1].astype(np.float64) if p.splits_s.shape[1] else np.full(tier.size, np.nan)
    primary = np.where(tier == _TIER_FINISHED, np.nan_to_num(finish), -p.progress_m[sel])
    primary = np.where(tier >= _TIER_NOT_STARTED, 0.0, primary)
    tie = np.where(tier == _TIER_OUT_THERE, np.nan_to_num(p.progress_t[sel], nan=np.inf), 0.0)
    return tier, primary, tie


def finish_times(p: RaceProcessor) -> npt.NDArray[np.float64]:
    """Every runner's net finish time (nan while not finished)."""
    return p.splits_s[:, -1].astype(np.float64) if p.splits_s.shape[1] else np.full(p.runners, np.nan)


def category_positions(in_order: npt.NDArray[np.integer], categories: int) -> tuple[IntArray, IntArray]:
    """Where each category's runners stand in the overall order (``in_order``: the category at each position),
    category after category, and each category's bounds in that."""
    positions = np.argsort(in_order, kind="stable").astype(np.int64)
    return positions, np.concatenate([[0], np.cumsum(np.bincount(in_order, minlength=categories))])


def ranking_of_order(p: RaceProcessor, order: IntArray, ranked: int, finish_s: npt.NDArray[np.floating],
                     in_order: npt.NDArray[np.integer] | None = None,
                     positions: tuple[IntArray, IntArray] | None = None) -> Ranking:
    """Ranks, category lists and ranks from the order of every runner (``ranked`` of them ranked; ``in_order``:
    the category at each position, and its :func:`category_positions`, when known); no gaps."""
    categories = len(p.category_names)
    in_order = p.category[order] if in_order is None else in_order
    ranks = np.zeros(p.runners, dtype=np.int64)  # 0: unranked
    ranks[order[:ranked]] = np.arange(1, ranked + 1)
    at, bounds = category_positions(in_order, categories) if positions is None else positions
    by_category = order[at]
    category_order = {c: by_category[bounds[c]:bounds[c + 1]] for c in range(categories)}
    counted = np.bincount(in_order[:ranked], minlength=categories)  # the ranked come first
    category_rank = np.zeros(p.runners, dtype=np.int64)
    for c, members in category_order.items():
        category_rank[members[:counted[c]]] = np.arange(1, counted[c] + 1)
    return Ranking(order, ranked, ranks, category_rank, category_order, finish_s)


def rank_runners(processor: RaceProcessor) -> Ranking:
    """Rank the runners of one state version (one full sort)."""
    tier, primary, tie = ranking_keys(processor)
    order = ranking_order(tier, primary, tie)
    r = ranking_of_order(processor, order, int(np.count_nonzero(tier <= _TIER_OUT_THERE)), finish_times(processor))
    gap_s, category_gap_s = time_gaps(processor, r.finish_s, r.order, r.ranked, r.category_order, r.rank)
    return replace(r, gap_s=gap_s, category_gap_s=category_gap_s)


class Standings:
    """The ranking of one state version of a processor: computed (:func:`rank_runners`), or as it was published."""

    def __init__(self, processor: RaceProcessor, ranking: Ranking | None = None) -> None:
        r = ranking if ranking is not None else rank_runners(processor)
        self.processor, self.version = processor, processor.version
        self.order, self.ranked, self.rank = r.order, r.ranked, r.rank
        self.category_rank, self.category_order = r.category_rank, r.category_order
        self._finish_s = r.finish_s
        self._gap_s, self._category_gap_s = r.gap_s, r.category_gap_s  # None: published before gaps were

    def leader(self, category: int | None = None) -> int | None:
        members = self.order if category is None else self.category_order[category]
        return int(members[0]) if members.size and self.rank[members[0]] > 0 else None

    def page(self, limit: int = 10, offset: int = 0, category: int | None = None,
             now: float | None = None) -> list[Standing]:
        """One page of the leaderboard, overall or in one category; gaps are to that list's leader."""
        members = self.order if category is None else self.category_order[category]
        chosen = members[max(offset, 0):max(offset, 0) + max(limit, 0)]
        return self.lines(chosen, category=category, now=now)

    def lines(self, runners: npt.ArrayLike, category: int | None = None, now: float | None = None) -> list[Standing]:
        """The standing of chosen runners (gaps to the overall leader, or the category's when given)."""
        p = self.processor
        idx = np.asarray(runners, dtype=np.int64).ravel()
        leader = self.leader(category)
        progress = p.progress_m[idx]
        gap_m = np.full(idx.size, np.nan)
        gap_s = np.full(idx.size, np.nan)
        passed = np.searchsorted(p.course.checkpoint_m, progress, side="right") - 1
        ranked = self.rank[idx] > 0
        if leader is not None:
            gap_m = p.progress_m[leader] - progress
            gap_s = self.gaps(overall=category is None)[idx]
        gap_m = np.where(ranked, gap_m, np.nan)
        gap_s = np.where(ranked, gap_s, np.nan)
        speed = p.speed_mps[idx].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            pace = np.where(speed > 0.1, 1000.0 / speed, np.nan)
            elapsed = p.last_t[idx] - p.start_t[idx]
            predicted = elapsed * (p.course.length_m / progress) ** RIEGEL_EXPONENT
        finish = self._finish_s[idx]
        status = p.status[idx]
        predicted = np.where(status == FINISHED, finish,
                             np.where((status != DNF) & (progress >= MIN_DISTANCE_FOR_PREDICTION_M), predicted, np.nan))
        names = p.status_names(idx, now)
        age = p.last_seen_age_s(idx, now)
        checkpoints = p.course.checkpoints
        rows = []
        for i, runner in enumerate(idx.tolist()):
            rows.append(Standing(
                runner=runner,
                rank=int(self.rank[runner]) or None,
                category=p.category_names[int(p.category[runner])],
                category_rank=int(self.category_rank[runner]) or None,
                status=names[i],
                distance_m=float(progress[i]),
                finish_s=_optional(finish[i]) if status[i] == FINISHED else None,
                gap_m=_optional(gap_m[i]),
                gap_s=_optional(gap_s[i]),
                pace_s_per_km=_optional(pace[i]),
                predicted_finish_s=_optional(predicted[i]),
                last_checkpoint=checkpoints[passed[i]].name if passed[i] >= 0 else None,
                last_seen_age_s=_optional(age[i]),
            ))
        return rows


    def gaps(self, overall: bool = True) -> npt.NDArray[np.floating]:
        """Every runner's time gap to the overall leader, or to their category's leader (nan unranked)."""
        if self._gap_s is None or self._category_gap_s is None:
            self._gap_s, self._category_gap_s = time_gaps(self.processor, self._finish_s, self.order, self.ranked,
                                                          self.category_order, self.rank)
        return self._gap_s if overall else self._category_gap_s


def standings(processor: RaceProcessor, cached: Standings | None = None) -> Standings:
    """The standings of the processor's current state, reusing ``cached`` when nothing changed since."""
    if cached is not None and cached.processor is processor and cached.version == processor.version:
        return cached
    return Standings(processor)


def leaderboard(processor: RaceProcessor, limit: int = 10, offset: int = 0, category: int | None = None,
                now: float | None = None) -> list[Standing]:
    """One leaderboard page, computed from scratch (keep a :class:`Standings` to serve many pages)."""
    return Standings(processor).page(limit, offset, category, now)
