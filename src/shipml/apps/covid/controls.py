"""The controls of the covid page's time series: the metric picker and the date range.

The dates are two inputs, "From" and "To". A date outside the data is moved to the data's first or last day,
and the page says so; a reversed range is shown the right way round, and the page says so too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import streamlit as st

from shipml.apps.covid import charts
from shipml.apps.covid.schemas import Metric

DEFAULT_METRICS = ("cases", "recovered")
FROM, TO, NOTE = "covid_from", "covid_to", "covid_dates_note"
DAY = "%d.%m.%Y"


@dataclass(frozen=True)
class Choice:
    """What the controls ask for: metric ids, the (ordered) date range, smoothing, scale."""

    metrics: list[str]
    start: date
    end: date
    rolling: int
    log_scale: bool


def _clamp(key: str, first: date, last: date) -> None:
    """on_change of a date input: move a date outside the data to its nearest end, and leave a note."""
    name = "From" if key == FROM else "To"
    value = st.session_state.get(key)
    note = None
    if value is None:
        st.session_state[key] = first if key == FROM else last
        note = f"'{name}' was empty: set to {st.session_state[key]:{DAY}}."
    elif value < first:
        st.session_state[key] = first
        note = (f"There is no data before {first:{DAY}}, the first day in the data: '{name}' {value:{DAY}} "
                f"was set to {first:{DAY}}.")
    elif value > last:
        st.session_state[key] = last
        note = (f"There is no data after {last:{DAY}}, the last day in the data: '{name}' {value:{DAY}} "
                f"was set to {last:{DAY}}.")
    st.session_state[NOTE] = note


def _date_range(columns: list[Any], first: date, last: date) -> tuple[date, date]:
    """Two date inputs kept within the data; returns (start, end) in order, saying so when reversed."""
    for key, default in ((FROM, first), (TO, last)):  # new page, or new data that no longer covers the value
        value = st.session_state.get(key)
        if value is None or not first <= value <= last:
            st.session_state[key] = default
    covers = f"The data covers {first:{DAY}} – {last:{DAY}}; a date outside is moved to the nearest end."
    bounds = {"min_value": date(first.year - 10, 1, 1), "max_value": date(last.year + 10, 12, 31),
              "format": "DD.MM.YYYY", "help": covers}
    start = columns[0].date_input("From", key=FROM, on_change=_clamp, args=(FROM, first, last), **bounds)
    end = columns[1].date_input("To", key=TO, on_change=_clamp, args=(TO, first, last), **bounds)
    start = min(max(start or first, first), last)
    end = min(max(end or last, first), last)
    return start, end


def date_notes(start: date, end: date) -> tuple[date, date]:
    """Say what was changed about the dates; a reversed range is shown in order. Returns (start, end)."""
    with st.container(key="covid_dates_notes"):
        note = st.session_state.get(NOTE)
        if note:
            st.info(note, icon=":material/event_busy:")
        if start > end:
            st.warning(f"The range is reversed: 'From' ({start:{DAY}}) is after 'To' ({end:{DAY}}). "
                       f"Showing {end:{DAY}} – {start:{DAY}}.", icon=":material/swap_horiz:")
            start, end = end, start
    return start, end


def controls(catalog: list[Metric], first: date, last: date) -> Choice:
    """The metric picker (at most :data:`charts.MAX_LINES`), the dates, the rolling window and the scale."""
    by_id = {m.id: m for m in catalog}
    options = [m.id for m in charts.sort_catalog(catalog)]
    default = [m for m in DEFAULT_METRICS if m in by_id] or options[:1]
    chosen = st.multiselect(
        "Metrics", options, default=default, key="covid_metrics", max_selections=charts.MAX_LINES,
        placeholder=f"Pick up to {charts.MAX_LINES} metrics", format_func=lambda i: charts.option_label(by_id[i]),
        filter_mode="contains", select_all=False,  # Enter adds the first match, never every match
        help=f"Up to {charts.MAX_LINES} metrics at a time, so that every line keeps its own colour. English "
             "name, with the original Russian column header in brackets. Type part of either to search; "
             "Enter adds the first match.")
    c = st.columns([1.2, 1.2, 2, 1], vertical_alignment="bottom")
    start, end = _date_range(c, first, last)
    rolling = c[2].slider("Rolling average (days)", 1, 28, 7, key="covid_rolling",
                          help="Mean over this many days ending on each date; 1 = the reported values.")
    log_scale = c[3].toggle("Log scale", key="covid_log")
    start, end = date_notes(start, end)
    return Choice(list(chosen)[:charts.MAX_LINES], start, end, rolling, log_scale)
