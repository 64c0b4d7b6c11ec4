"""The ranking of each state version from the previous one: only the runners that changed are sorted again.

A full ranking sorts every runner (:func:`.standings.rank_runners`). Between two publications at 100,000 pings/s a
tenth of a million runners move; the others keep their keys, so their order among themselves holds. The keeper
holds the last order with its keys in that order; for a new version it takes the changed runners out
(:meth:`.RaceProcessor.changed_since`), sorts them alone, finds where each goes among the others by a binary search
on the composite key (tier, primary, tie, index) and merges. The order is a total order on that key, so the result
is the full sort's, ties included; ranks, category lists and gaps are then made from it by the same code as a full
build (:func:`.standings.ranking_of_order`). A full build is made the first time, for another processor, when the
processor does not track changes, or when too many runners changed for the merge to be worth it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from .processor import RaceProcessor
from .standings import (
    Ranking,
    behind_leader,
    category_positions,
    finish_times,
    ranking_keys,
    ranking_of_order,
    ranking_order,
    rising_gaps,
)

IntArray = npt.NDArray[np.int64]
FULL_BUILD_ABOVE = 0.3  # share of runners changed above which a full sort is cheaper than the merge
TIERS = 4
RANKED_TIERS = 2  # finished, out there


def search_within(keys: npt.NDArray[np.generic], lo: IntArray, hi: IntArray, query: npt.NDArray[np.generic],
                  right: bool = False) -> IntArray:
    """For each query, the first position in ``keys[lo:hi]`` (sorted within that range) whose key is not less than
    the query (greater than it with ``right``): ``np.searchsorted`` over a range of its own for each query."""
    lo, hi = lo.copy(), hi.copy()
    active = np.flatnonzero(lo < hi)
    while active.size:
        low, high = lo[active], hi[active]
        mid = (low + high) // 2
        at = keys[mid]
        after = at <= query[active] if right else at < query[active]
        lo[active] = np.where(after, mid + 1, low)
        hi[active] = np.where(after, high, mid)
        active = active[lo[active] < hi[active]]
    return lo


def insertion_points(tier: npt.NDArray[np.int8], primary: npt.NDArray[np.float64], tie: npt.NDArray[np.float64],
                     runner: IntArray, new_tier: npt.NDArray[np.int8], new_primary: npt.NDArray[np.float64],
                     new_tie: npt.NDArray[np.float64], new_runner: IntArray) -> IntArray:
    """How many of the sorted (``tier``, ``primary``, ``tie``, ``runner``) come before each new key (no new runner
    is among ``runner``)."""
    bounds = np.searchsorted(tier, np.arange(TIERS + 1))
    lo = np.empty(new_runner.size, dtype=np.int64)
    hi = np.empty(new_runner.size, dtype=np.int64)
    for t in range(TIERS):
        mine = np.flatnonzero(new_tier == t)
        segment = primary[bounds[t]:bounds[t + 1]]
        lo[mine] = bounds[t] + np.searchsorted(segment, new_primary[mine], side="left")
        hi[mine] = bounds[t] + np.searchsorted(segment, new_primary[mine], side="right")
    tied = np.flatnonzero(hi > lo)  # equal primary: by tie, then by index
    if tied.size:
        tie_lo = search_within(tie, lo[tied], hi[tied], new_tie[tied])
        tie_hi = search_within(tie, lo[tied], hi[tied], new_tie[tied], right=True)
        lo[tied] = search_within(runner, tie_lo, tie_hi, new_runner[tied])
    return lo


COLUMNS = ("order", "tier", "primary", "tie", "category", "behind", "behind_in_category")


@dataclass
class _Sorted:
    """One version's order with, at each position, the runner's keys, category, and own times behind the overall
    leader and behind their category's leader (:func:`.standings.behind_leader`; nan where not computed)."""

    version: int
    order: IntArray
    tier: npt.NDArray[np.int8]
    primary: npt.NDArray[np.float64]
    tie: npt.NDArray[np.float64]
    category: npt.NDArray[np.int16]
    behind: npt.NDArray[np.float64]
    behind_in_category: npt.NDArray[np.float64]


class RankingKeeper:
    """The ranking of a processor's successive versions, each made from the previous one (see the module).

    Gaps too: a runner's own time behind a list's leader (:func:`.standings.behind_leader`) changes only when the
    runner or the leader does, so it is kept for each runner and list, computed again for the changed runners, or
    for the whole list when its leader changed; the rise down the list (:func:`.standings.rising_gaps`) is redone.
    Everything is kept in the order of the ranking, so that the work per version reads memory in sequence."""

    def __init__(self, full_build_above: float = FULL_BUILD_ABOVE) -> None:
        self.full_build_above = full_build_above
        self.processor: RaceProcessor | None = None
        self.last: _Sorted | None = None
        self.ranking: Ranking | None = None
        self.leaders: dict[int | None, int] = {}  # per list (overall: None, or a category), its leader's index
        self.full_builds = self.updates = 0  # how each ranking was made (for the benchmark and the tests)

    def rank(self, p: RaceProcessor) -> Ranking:
        """The ranking of the processor's current version, equal to :func:`.standings.rank_runners`'s."""
        last = self.last if p is self.processor else None
        changed = p.changed_since(last.version) if last is not None else None
        if last is None or changed is None or last.order.size != p.runners \
                or changed.size > self.full_build_above * p.runners:
            return self._full(p)
        if self.ranking is not None and not changed.size:
            last.version = p.version
            return self.ranking
        self.updates += 1
        moved = np.zeros(p.runners, dtype=bool)
        moved[changed] = True
        self.last, at = _merge(last, p, changed, moved)
        return self._rank_sorted(p, self.last, at, moved)

    def _full(self, p: RaceProcessor) -> Ranking:
        self.full_builds += 1
        tier, primary, tie = ranking_keys(p)
        order = ranking_order(tier, primary, tie)  # as rank_runners does, keeping the keys
        self.processor, self.leaders = p, {}
        self.last = _Sorted(p.version, order, tier[order], primary[order], tie[order], p.category[order],
                            np.full(p.runners, np.nan), np.full(p.runners, np.nan))
        return self._rank_sorted(p, self.last, np.zeros(0, dtype=np.int64), np.zeros(p.runners, dtype=bool))

    def _rank_sorted(self, p: RaceProcessor, s: _Sorted, at: IntArray, moved: npt.NDArray[np.bool_]) -> Ranking:
        """The ranking of a sorted version, with its gaps; ``at``: the positions of the changed runners."""
        ranked = int(np.searchsorted(s.tier, RANKED_TIERS))
        positions, bounds = category_positions(s.category, len(p.category_names))
        r = ranking_of_order(p, s.order, ranked, finish_times(p), s.category, (positions, bounds))
        overall, in_category = np.full(p.runners, np.nan), np.full(p.runners, np.nan)
        self._gaps(None, p, r, s.behind, slice(0, ranked), at, moved, overall)
        if len(p.category_names) > 1:
            counted = np.bincount(s.category[:ranked], minlength=len(p.category_names))
            at_category = s.category[at]
            for c in range(len(p.category_names)):
                self._gaps(c, p, r, s.behind_in_category, positions[bounds[c]:bounds[c] + counted[c]],
                           at[at_category == c], moved, in_category)
        else:  # one category: its list is the overall one
            in_category[:] = overall
        self.ranking = replace(r, gap_s=overall, category_gap_s=in_category)
        return self.ranking

    def _gaps(self, key: int | None, p: RaceProcessor, r: Ranking, behind: npt.NDArray[np.float64],
              members: IntArray | slice, changed: IntArray, moved: npt.NDArray[np.bool_],
              out: npt.NDArray[np.float64]) -> None:
        """One list's gaps into ``out`` (per runner); ``members``, ``changed``: positions in the order, the list's
        ranked runners and its changed runners; ``behind`` (by position) is brought up to date."""
        first = r.order[members][:1] if isinstance(members, slice) else r.order[members[:1]]
        if not first.size:
            self.leaders.pop(key, None)
            return
        leader = int(first[0])
        redo = changed if self.leaders.get(key) == leader and not moved[leader] else members
        behind[redo] = behind_leader(p, r.finish_s, leader, r.order[redo])
        self.leaders[key] = leader
        out[r.order[members]] = rising_gaps(behind[members])


def _merge(last: _Sorted, p: RaceProcessor, changed: IntArray,
           moved: npt.NDArray[np.bool_]) -> tuple[_Sorted, IntArray]:
    """The sorted columns of the new version, and where the changed runners went: the runners that did not move
    keep their order; the changed ones, sorted among themselves, go in where their keys fall."""
    stay = ~moved[last.order]
    kept = {name: getattr(last, name)[stay] for name in COLUMNS}
    tier, primary, tie = ranking_keys(p, changed)
    by_key = ranking_order(tier, primary, tie)  # ``changed`` is ascending: ties by runner index
    runner = changed[by_key]
    tier, primary, tie = tier[by_key], primary[by_key], tie[by_key]
    new: dict[str, np.ndarray] = {"order": runner, "tier": tier, "primary": primary, "tie": tie,
                                  "category": p.category[runner], "behind": np.full(runner.size, np.nan),
                                  "behind_in_category": np.full(runner.size, np.nan)}
    at = insertion_points(kept["tier"], kept["primary"], kept["tie"], kept["order"], tier, primary, tie, runner)
    at += np.arange(at.size)  # the new runners before each one shift it down
    old = np.ones(p.runners, dtype=bool)
    old[at] = False
    columns = {}
    for name in COLUMNS:
        column = np.empty(p.runners, dtype=kept[name].dtype)
        column[at] = new[name]
        column[old] = kept[name]
        columns[name] = column
    return _Sorted(p.version, **columns), at
