"""The parking page's Altair charts, built apart from the page so that ``tests/ui/test_vega.py`` checks them with
every app's charts (valid Vega-Lite, the spec ``st.altair_chart`` would send, typed channels). The map is a
hand-written Vega-Lite spec in the page (its hour's values are a named dataset the browser swaps)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from shipml.apps.parking.schemas import Hour


def day_chart(hours: Sequence[Hour]) -> alt.LayerChart:
    """A neighbourhood's day: the chance of a free space per hour (line) inside its interval (band); hours without a
    number are left out."""
    rows = [{"hour": h.hour, "free": h.free_fraction, "lo": h.interval.free_fraction[0],
             "hi": h.interval.free_fraction[1]} for h in hours
            if h.free_fraction is not None and h.interval is not None]
    frame = pd.DataFrame(rows, columns=["hour", "free", "lo", "hi"])
    x = alt.X("hour:Q", title="hour (Madrid)", scale=alt.Scale(domain=[0, 23]))
    band = alt.Chart().mark_area(opacity=0.25).encode(x=x, y=alt.Y("lo:Q", title="chance of a free space",
                                                                    axis=alt.Axis(format="%"),
                                                                    scale=alt.Scale(domain=[0, 1])), y2=alt.Y2("hi:Q"))
    line = alt.Chart().mark_line(point=True).encode(x=x, y=alt.Y("free:Q"), tooltip=[alt.Tooltip("hour"), alt.Tooltip(
        "free:Q", format=".0%"), alt.Tooltip("lo:Q", format=".0%"), alt.Tooltip("hi:Q", format=".0%")])
    return alt.LayerChart(data=frame, layer=[band, line], height=260)  # one table for both
