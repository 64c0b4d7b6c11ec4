"""The leaderboard's one gap: time behind the leader at the same point, rising down the list (overall and in each
category), on a race built by hand and on a simulated field of a thousand runners pinging out of step."""

from __future__ import annotations

import pytest

from apps.race.handmade import GUN, batch, ping_rows
from apps.race.simrace import simulated_field
from shipml.apps.race.course import Course
from shipml.apps.race.processor import RaceProcessor
from shipml.apps.race.standings import Standing, Standings

LEAD, CHASER, PACK, FINISHER = range(4)


def test_a_runner_seen_earlier_is_never_shown_less_behind_than_the_runner_ahead(course: Course) -> None:
    """Lead runs 4 m/s (finish 1500 s); Finisher 3.75 m/s (1600 s): 100 s behind. Chaser is at 2000 m at 620 s
    (the lead was there at 500 s: 120 s behind). Pack is at 1990 m, seen at 560 s: the lead was at 1990 m at
    497.5 s, so Pack's own gap is 62.5 s; but Pack is behind Chaser on the course, so the board says 120 s."""
    p = RaceProcessor(course, 4, start_t=GUN, categories=(0, 0, 0, 1), category_names=("A", "B"))
    lead = [(t, 4.0 * t) for t in range(50, 1501, 50)]  # 6000 m at 1500 s
    rows = ping_rows(LEAD, lead) + ping_rows(CHASER, [(155, 500), (310, 1000), (465, 1500), (620, 2000)])
    rows += ping_rows(PACK, [(140, 500), (280, 1000), (420, 1500), (560, 1990)])
    rows += ping_rows(FINISHER, [(t, 3.75 * t) for t in range(50, 1601, 50)])
    p.process(batch(sorted(rows, key=lambda r: (r[1], r[0]))))
    table = Standings(p)
    page = table.page(10)
    assert [s.runner for s in page] == [LEAD, FINISHER, CHASER, PACK]
    gaps = {s.runner: s.gap_s for s in page}
    assert gaps[LEAD] == 0.0
    assert gaps[FINISHER] == pytest.approx(100, abs=0.01)
    assert gaps[CHASER] == pytest.approx(120, abs=0.01)
    assert gaps[PACK] == pytest.approx(gaps[CHASER], abs=0.01)  # its own 62.5 s would break the order
    assert [s.gap_s for s in table.lines([PACK, CHASER])] == [gaps[PACK], gaps[CHASER]]  # alone, the same answer
    category_a = table.page(10, category=0)
    assert [s.runner for s in category_a] == [LEAD, CHASER, PACK]
    assert category_a[1].gap_s == pytest.approx(120, abs=0.01)
    assert table.page(10, category=1)[0].gap_s == 0.0  # the category's own leader


Boards = dict[int | None, list[Standing]]  # every line of each list (overall: None, or a category), in order


@pytest.fixture(scope="module")
def boards() -> list[Boards]:
    """A thousand simulated runners on the demo course (GPS noise, dropouts, clock skew, ping phases), processed
    every 30 s of race time for 40 min; the boards (overall and per category) after every 2 min."""
    out = []
    for step, p in simulated_field(GUN):
        if step % 4 == 0:  # a board is read before the next batch changes the processor under it
            table = Standings(p)
            out.append({c: table.page(limit=p.runners, category=c)
                        for c in [None, *range(len(p.category_names))]})
    return out


def test_gaps_rise_down_every_list_of_a_simulated_field(boards: list[Boards]) -> None:
    checked = 0
    for board in boards:
        for category, lines in board.items():
            ranked = [s.gap_s for s in lines if s.rank is not None and s.gap_s is not None]
            if not ranked:
                continue
            assert ranked[0] == 0.0
            assert all(b >= a for a, b in zip(ranked, ranked[1:], strict=False)), category
            checked += len(ranked)
    assert checked > 20_000  # the property held over many lines, not a handful


def test_a_gap_is_a_time_behind_not_a_distance(boards: list[Boards]) -> None:
    """After 20 min (nobody has finished), a runner 1 km behind the leader is about the leader's time for a km
    behind (2 to 8 min)."""
    lines = boards[9][None]  # one every 2 min
    assert "finished" not in {s.status for s in lines}
    km_behind = [s for s in lines if s.gap_m is not None and 950 <= s.gap_m <= 1050 and s.status == "running"]
    assert km_behind, "nobody about a kilometre behind the leader"
    assert all(120 <= (s.gap_s or 0) <= 480 for s in km_behind), [(s.gap_m, s.gap_s) for s in km_behind]
