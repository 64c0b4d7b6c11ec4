"""The race page's Altair charts, built apart from the page so that ``tests/ui/test_vega.py`` checks them with
every app's charts (valid Vega-Lite, the spec ``st.altair_chart`` would send, typed channels)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from shipml.apps.race.schemas import LeaderSeries, Position


def progress_chart(series: Sequence[LeaderSeries]) -> alt.Chart | None:
    """The leaders' distance over race time, one line each; ``None`` before any leader has a point."""
    points = [{"runner": f"{s.bib} {s.name}", "time": p.t, "km": p.distance_m / 1000} for s in series for p in s.points]
    if not points:
        return None
    return alt.Chart(pd.DataFrame(points)).mark_line(point=True).encode(
        x=alt.X("time:T", title="race time"), y=alt.Y("km:Q", title="km"), color=alt.Color("runner:N"))


def course_chart(lat: Sequence[float], lon: Sequence[float], at: Mapping[str, Position]) -> alt.LayerChart:
    """The course as a line, and each followed runner (by label) as a dot where they are matched onto it."""
    shape = pd.DataFrame({"lon": lon, "lat": lat, "order": range(len(lat))})
    layers = [alt.Chart(shape).mark_line(color="#999").encode(
        x=alt.X("lon:Q", scale=alt.Scale(zero=False), axis=None),
        y=alt.Y("lat:Q", scale=alt.Scale(zero=False), axis=None), order=alt.Order("order:Q"))]
    dots = [{"lon": p.course_lon, "lat": p.course_lat, "runner": label} for label, p in at.items()]
    if dots:
        layers.append(alt.Chart(pd.DataFrame(dots)).mark_circle(size=140).encode(
            x=alt.X("lon:Q"), y=alt.Y("lat:Q"), color=alt.Color("runner:N"), tooltip=[alt.Tooltip("runner")]))
    return alt.LayerChart(layer=layers, height=380)
