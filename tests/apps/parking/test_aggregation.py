"""Known answers, by hand, for the hourly count of active tickets."""

from datetime import datetime as D

import polars as pl

from shipml.apps.parking.aggregation import active_tickets_by_hour, tickets_as_kinds


def count(tickets, **kw):
    frame = pl.DataFrame({"neighbourhood_id": [101] * len(tickets), "zone": ["AZUL"] * len(tickets),
                          "start": [t[0] for t in tickets], "end": [t[1] for t in tickets]})
    active = active_tickets_by_hour(tickets_as_kinds(frame), **kw)
    return {row["hour"]: row["active"] for row in active.iter_rows(named=True) if row["active"]}


def test_tickets_crossing_hours_count_in_every_hour_they_overlap():
    # Tue 5 Mar 2024: 10:30-12:05 overlaps 10, 11, 12; 10:00-11:00 overlaps only 10; 11:59-12:01 overlaps 11, 12
    got = count([(D(2024, 3, 5, 10, 30), D(2024, 3, 5, 12, 5)), (D(2024, 3, 5, 10), D(2024, 3, 5, 11)),
                 (D(2024, 3, 5, 11, 59), D(2024, 3, 5, 12, 1))])
    assert got == {D(2024, 3, 5, 10): 2, D(2024, 3, 5, 11): 2, D(2024, 3, 5, 12): 2}


def test_evening_ticket_runs_on_next_morning_and_not_at_night():
    # bought Tue 20:30, ends Wed 09:30: paid 20:30-21:00 and 09:00-09:30
    got = count([(D(2024, 3, 5, 20, 30), D(2024, 3, 6, 9, 30))])
    assert got == {D(2024, 3, 5, 20): 1, D(2024, 3, 6, 9): 1}


def test_saturday_ticket_resumes_on_monday():
    got = count([(D(2024, 3, 9, 14, 30), D(2024, 3, 11, 9, 30))])
    assert got == {D(2024, 3, 9, 14): 1, D(2024, 3, 11, 9): 1}


def test_without_clipping_a_ticket_counts_across_midnight():
    got = count([(D(2024, 3, 5, 23, 30), D(2024, 3, 6, 1, 10))], clip_to_regulated=False)
    assert got == {D(2024, 3, 5, 23): 1, D(2024, 3, 6, 0): 1, D(2024, 3, 6, 1): 1}


def test_spring_forward_day_has_no_two_oclock():
    # 31 Mar 2024, clocks jump 02:00 → 03:00: 01:30-03:30 local is one real hour, over local hours 01 and 03
    frame = pl.DataFrame({"neighbourhood_id": [101], "zone": ["AZUL"], "start": [D(2024, 3, 31, 1, 30)],
                          "end": [D(2024, 3, 31, 3, 30)]})
    active = active_tickets_by_hour(tickets_as_kinds(frame), clip_to_regulated=False)
    assert active["hour"].to_list() == [D(2024, 3, 31, 1), D(2024, 3, 31, 3)]
    assert active["active"].to_list() == [1, 1]


def test_fall_back_day_counts_the_repeated_hour_twice():
    # 27 Oct 2024, 03:00 → 02:00: 01:30 (summer time) to 03:30 (winter time) overlaps four real hours
    frame = pl.DataFrame({"neighbourhood_id": [101], "zone": ["AZUL"], "start": [D(2024, 10, 27, 1, 30)],
                          "end": [D(2024, 10, 27, 3, 30)]})
    active = active_tickets_by_hour(tickets_as_kinds(frame), clip_to_regulated=False)
    assert active["hour"].to_list() == [D(2024, 10, 27, 1), D(2024, 10, 27, 2), D(2024, 10, 27, 2),
                                        D(2024, 10, 27, 3)]
    assert active["hour_utc"].dt.hour().to_list() == [23, 0, 1, 2]
    assert active["active"].to_list() == [1, 1, 1, 1]


def test_grid_is_complete_with_zeros_between_tickets():
    frame = pl.DataFrame({"neighbourhood_id": [101, 101], "zone": ["AZUL", "AZUL"],
                          "start": [D(2024, 3, 5, 10), D(2024, 3, 5, 14)], "end": [D(2024, 3, 5, 10, 30),
                                                                                  D(2024, 3, 5, 14, 30)]})
    active = active_tickets_by_hour(tickets_as_kinds(frame))
    assert active["active"].to_list() == [1, 0, 0, 0, 1]


def test_same_count_whatever_the_split_into_files_or_kinds():
    starts = [D(2024, 3, 5, 9) + (D(2024, 3, 5, 10) - D(2024, 3, 5, 9)) * i / 7 for i in range(40)]
    tickets = [(s, s + (D(2024, 3, 5, 10) - D(2024, 3, 5, 9)) * (1 + i % 3) / 2) for i, s in enumerate(starts)]
    whole = count(tickets)
    halves = {}
    for part in (tickets[:20], tickets[20:]):
        for hour, n in count(part).items():
            halves[hour] = halves.get(hour, 0) + n
    assert whole == halves
