"""Pure helpers of the covid page: API answers (the models of :mod:`shipml.apps.covid.schemas`) → tables and Altair
charts, and number formatting.

Nothing here talks to the API or to Streamlit; :mod:`shipml.apps.covid.page` does.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

import altair as alt
import pandas as pd

from shipml.apps.covid.schemas import ForecastPoint, Metric, MetricValue, RefreshRecord, Series

# Order of metric groups in the picker: what most people look for first.
GROUP_ORDER = ("cases", "deaths", "derived", "tests", "hospital", "vaccination", "districts", "age", "sex",
               "occupation", "status", "other")
# For these, a rise is bad news: st.metric shows the rise in red.
RISE_IS_BAD = frozenset({"cases", "deaths", "active", "cases_7d", "deaths_7d", "hospitalized",
                         "cases_per_100k", "cases_7d_per_100k"})
# One clearly different colour per metric (Tableau 10), instead of the theme's shades of blue.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
ACTUAL_COLOUR, FORECAST_COLOUR = PALETTE[0], PALETTE[1]
# At most this many lines on the time-series chart: one distinct colour each and a legend that stays readable.
MAX_LINES = len(PALETTE)
# Listed first in their group (the picker's Enter takes the first match: "death" → the daily deaths).
PRIMARY = ("cases", "deaths", "recovered", "active", "cases_7d", "deaths_7d")
# Headline tiles are narrow: short names there, the full label in the tooltip.
SHORT_LABELS = {"cases": "New cases", "deaths": "Deaths", "recovered": "Recovered", "tests": "Tests",
                "active": "Active cases", "cases_7d": "Cases, 7d avg", "cases_per_100k": "Per 100k",
                "cases_7d_per_100k": "7d per 100k"}


def short_label(metric_id: str, label: str) -> str:
    """A name that fits a headline tile: from :data:`SHORT_LABELS`, else the label before any bracket."""
    return SHORT_LABELS.get(metric_id) or label.split(" (", 1)[0]


def option_label(meta: Metric) -> str:
    """A metric as the picker shows it: English label, with the Russian header in brackets."""
    return f"{meta.label} ({meta.name_ru})" if meta.name_ru else meta.label


def sort_catalog(catalog: Iterable[Metric]) -> list[Metric]:
    """Metrics grouped in :data:`GROUP_ORDER`, :data:`PRIMARY` first, else the export's order inside a group."""
    rank = {group: i for i, group in enumerate(GROUP_ORDER)}
    return sorted(catalog, key=lambda m: (rank.get(m.group, len(rank)), m.id not in PRIMARY))


def fmt_number(value: float | None, signed: bool = False) -> str:
    """``12345.0`` → ``"12,345"``; ``0.7143`` → ``"0.71"``; None → ``"—"``."""
    if value is None:
        return "—"
    sign = "+" if signed and value > 0 else ""
    if float(value).is_integer() or abs(value) >= 100:
        return f"{sign}{value:,.0f}"
    return f"{sign}{value:,.2f}" if abs(value) < 10 else f"{sign}{value:,.1f}"


def sparkline(values: Sequence[float | None], label: str, colour: str = ACTUAL_COLOUR) -> str:
    """A headline tile's line of its last days as a small SVG image (``<img>`` markup; empty without two values).

    Drawn by the browser as plain markup: one Vega chart per tile cost a first visit about 60 ms of the browser's
    script time each (benchmarks/page_load). Missing days leave a gap; the line spans the tile's width."""
    points = [(i, float(v)) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return ""
    low, high = min(v for _, v in points), max(v for _, v in points)
    span, last = (high - low) or 1.0, len(values) - 1
    runs: list[list[str]] = [[]]
    for (i, v), previous in zip(points, [None, *points[:-1]], strict=True):
        if previous is not None and i != previous[0] + 1:
            runs.append([])
        runs[-1].append(f"{100 * i / last:.2f},{38 - 36 * (v - low) / span:.2f}")
    lines = "".join(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2" '
                    'vector-effect="non-scaling-stroke" stroke-linejoin="round"/>' for run in runs if len(run) > 1)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 40" preserveAspectRatio="none">{lines}</svg>')
    title = escape(f"{label}, last {len(values)} days: {fmt_number(low)} to {fmt_number(high)}")
    # an image of the markup: st.html sanitises inline SVG away, an <img> with a data URI it keeps
    source = base64.b64encode(svg.encode()).decode()
    return f'<img src="data:image/svg+xml;base64,{source}" alt="{title}" title="{title}" width="100%" height="40">'


def series_table(series: Series) -> pd.DataFrame:
    """A ``/series`` answer as a wide table: ``date`` + one column per metric, named by its label."""
    table = pd.DataFrame({"date": pd.to_datetime(series.dates)})
    for meta in series.metrics:
        table[meta.label] = pd.array(series.values[meta.id], dtype="Float64")
    return table


def long_table(table: pd.DataFrame) -> pd.DataFrame:
    """Wide → long (``date``, ``metric``, ``value``), dropping missing values so lines show real gaps."""
    long = table.melt(id_vars="date", var_name="metric", value_name="value")
    return long.dropna(subset=["value"]).astype({"value": float})


def log_ticks(top: float) -> list[float]:
    """0, 1, 10, … up to the first power of ten at or above ``top``: the log axis ends there, above every line."""
    ticks = [0.0, 1.0]
    while ticks[-1] < top:
        ticks.append(ticks[-1] * 10)
    return ticks


def series_chart(table: pd.DataFrame, log_scale: bool = False, height: int = 380) -> alt.Chart:
    """One line per metric (at most :data:`MAX_LINES`), one colour each, legend below in columns, tooltip with
    the exact value. In log scale the axis runs from 0 to the power of ten above the highest value."""
    metrics = [c for c in table.columns if c != "date"][:MAX_LINES]
    table = table[["date", *metrics]]
    long = long_table(table)
    days = (table["date"].max() - table["date"].min()).days if len(table) else 0
    date_axis = alt.Axis(format="%b %Y" if days > 180 else "%d %b", labelOverlap=True)
    low = float(long["value"].min()) if len(long) else 0.0
    top = float(long["value"].max()) if len(long) else 1.0
    if log_scale:
        ticks = log_ticks(top)
        scale = alt.Scale(type="symlog", domain=[min(low, 0.0), ticks[-1]], nice=False)
        value_axis = alt.Axis(values=ticks, format=",.0f", labelOverlap="greedy")
    else:
        scale, value_axis = alt.Scale(zero=True), alt.Axis()
    colours = alt.Scale(domain=metrics, range=[PALETTE[i % len(PALETTE)] for i in range(len(metrics))])
    return (
        alt.Chart(long)
        .mark_line(strokeWidth=2, interpolate="monotone",  # a point per day on short ranges: one day shows
                   point=alt.OverlayMarkDef(size=40, filled=True) if len(table) <= 31 else False)
        .encode(
            x=alt.X("date:T", title=None, axis=date_axis),
            y=alt.Y("value:Q", title=None, scale=scale, axis=value_axis),
            color=alt.Color("metric:N", title=None, scale=colours, sort=metrics,
                            legend=alt.Legend(orient="bottom", columns=min(len(metrics), 2),
                                              labelLimit=520, symbolStrokeWidth=3)),
            tooltip=[alt.Tooltip("date:T", format="%d %b %Y"), alt.Tooltip("metric:N"),
                     alt.Tooltip("value:Q", format=",.1f")],
        )
        .properties(height=height)
        .interactive(bind_y=False)
    )


def forecast_chart(actual: Series, forecast: Sequence[ForecastPoint], model_version: int,
                   height: int = 300) -> alt.Chart:
    """Recent new cases (solid, from a ``/series`` answer with ``cases``) and the champion's forecast (dashed)."""
    history = pd.DataFrame({"date": pd.to_datetime(actual.dates),
                            "value": pd.array(actual.values["cases"], dtype="Float64")})
    history = history.dropna().astype({"value": float}).assign(series="New cases (reported)")
    ahead = pd.DataFrame({"date": pd.to_datetime([p.date for p in forecast]), "value": [p.cases for p in forecast]})
    ahead = ahead.assign(series=f"Forecast (model v{model_version})")
    if not history.empty:  # join the two lines at the last reported day
        ahead = pd.concat([history.tail(1).assign(series=ahead["series"].iloc[0]), ahead])
    frame = pd.concat([history, ahead], ignore_index=True)
    colours = alt.Scale(domain=[history["series"].iloc[0] if not history.empty else "New cases (reported)",
                                ahead["series"].iloc[0]], range=[ACTUAL_COLOUR, FORECAST_COLOUR])
    return (
        alt.Chart(frame)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("date:T", title=None),
            y=alt.Y("value:Q", title="new cases per day"),
            color=alt.Color("series:N", title=None, scale=colours, legend=alt.Legend(orient="bottom")),
            strokeDash=alt.StrokeDashValue([1, 0], condition={"test": alt.datum.series == ahead["series"].iloc[0],
                                                                  "value": [6, 4]}),
            tooltip=[alt.Tooltip("date:T", format="%d %b %Y"), alt.Tooltip("series:N"),
                     alt.Tooltip("value:Q", format=",.1f")],
        )
        .properties(height=height)
    )


def bar_chart(items: Sequence[MetricValue], value_title: str, keep_order: bool = False,
              strip: str = "", height: int | None = None) -> alt.LayerChart:
    """Horizontal bars, one per item (``label``, ``value``); sorted by value unless ``keep_order``.

    ``strip`` removes a common prefix from the labels (``"Cases aged "`` → ``"18–29"``).
    """
    frame = pd.DataFrame({
        "label": [i.label.removeprefix(strip) for i in items],
        "value": [float(i.value or 0.0) for i in items],
        "name_ru": [i.name_ru for i in items],
    })
    order: Any = list(frame["label"]) if keep_order else "-x"
    bars = (  # the table on the layer, not on each part: Altair hashes a part's table (its repr) when layering
        alt.Chart()
        .mark_bar(cornerRadiusEnd=3)
        .encode(
            y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=220, labelOverlap=False)),
            x=alt.X("value:Q", title=value_title),
            tooltip=[alt.Tooltip("label:N", title="group"), alt.Tooltip("name_ru:N", title="original"),
                     alt.Tooltip("value:Q", format=",.0f")],
        )
    )
    labels = bars.mark_text(align="left", dx=3, fontSize=11).encode(text=alt.Text("value:Q", format=",.0f"))
    return alt.LayerChart(data=frame, layer=[bars, labels], height=height or 50 + 30 * max(len(frame), 3))


def range_totals(series: Series) -> list[MetricValue]:
    """A ``/series`` answer summed per metric over its dates (``value`` None when no day of the range reports
    the metric)."""
    totals = []
    for meta in series.metrics:
        values = [v for v in series.values[meta.id] if v is not None]
        totals.append(MetricValue(**meta.model_dump(), value=sum(values) if values else None))
    return totals


def has_values(items: Sequence[MetricValue]) -> bool:
    return any((i.value or 0) != 0 for i in items)


def status_css(status: object) -> str:
    """CSS for a refresh status cell: green when the data was kept fresh, red when a refresh was refused."""
    return {"stored": "color: #1a7f37", "unchanged": "color: #1a7f37", "rejected": "color: #cf222e",
            "failed": "color: #cf222e"}.get(str(status), "")


def refresh_table(refreshes: Sequence[RefreshRecord]) -> pd.DataFrame:
    """``/refreshes`` as a table a person reads: newest first, status with a symbol, reason in full."""
    table = pd.DataFrame([{
        "when (UTC)": _utc(r.at).strftime("%Y-%m-%d %H:%M:%S"),
        "status": r.status,
        "version": "—" if r.version is None else f"v{r.version}",
        "rows": "—" if r.rows is None else f"{r.rows:,}",
        "reason": r.reason or "",
        "source": r.source or "—",
    } for r in refreshes])
    return table


def _utc(iso: str) -> pd.Timestamp:
    moment = pd.Timestamp(iso)
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
