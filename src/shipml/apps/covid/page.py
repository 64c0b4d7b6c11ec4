"""The covid dashboard: headline numbers, metrics over time, the case forecast, districts, age and sex,
and the refresh history. Everything comes from the API under ``/api/covid`` (see ``api.py``), parsed into the
models of ``schemas.py``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, TypeVar
from urllib.parse import urlparse

import streamlit as st
from pydantic import BaseModel

from shipml.apps.covid import FORECAST_DAYS, charts, controls
from shipml.apps.covid.schemas import (
    DateRange,
    Demographics,
    Districts,
    Forecast,
    Metric,
    RefreshRecord,
    Series,
    SeriesQuery,
    Summary,
)
from shipml.ui import client, vega

API = "/api/covid"
FORECAST_HISTORY_DAYS = 56
SPARKLINE_DAYS = 30
BAD_REFRESH = ("rejected", "failed")
T = TypeVar("T")


def fetch(path: str, model: type[T], *, fresh: bool = False, query: BaseModel | None = None, **params: Any) -> T:
    """GET from the covid API as ``model``, or show the error on the page and stop drawing it.

    ``query`` is the request's model (:class:`SeriesQuery`, :class:`DateRange`): sent by its parameter names
    (``from``, ``to``), leaving out what is not set."""
    asked = query.model_dump(mode="json", by_alias=True, exclude_none=True) if query else {}
    return client.get_or_stop(f"{API}{path}", model=model, fresh=fresh, **asked, **params)


def ahead(path: str, *, query: BaseModel | None = None, **params: Any) -> None:
    """Start asking for what ``fetch(path, …)`` with the same ``query`` and params will get (in the background:
    :func:`client.prefetch`), so that answers the page needs later come in beside the ones it waits for now."""
    asked = query.model_dump(mode="json", by_alias=True, exclude_none=True) if query else {}
    client.prefetch(f"{API}{path}", **asked, **params)


def series(metric: list[str], start: date | None = None, end: date | None = None, rolling: int = 1) -> Series:
    """``/series`` of these metrics over these days."""
    return fetch("/series", Series, query=SeriesQuery(metric=metric, start=start, end=end, rolling=rolling))


def series_ahead(metric: list[str], start: date | None = None) -> None:
    """:func:`ahead` for ``series(metric, start)``."""
    ahead("/series", query=SeriesQuery(metric=metric, start=start, end=None, rolling=1))


def source_line(summary: Summary, refreshes: list[RefreshRecord]) -> None:
    last_day = summary.date
    if summary.synthetic:
        st.warning("**SYNTHETIC data (offline demo)**: the real source could not be fetched, so these "
                   "numbers are generated with the same shape as the real export. Do not read them as facts.\n\n"
                   "**Use real data**: once online, the next scheduled refresh (every 15 min) fetches the published "
                   "export by itself; or run `shipml ingest covid --source URL|FILE` now.",
                   icon=":material/science:")
        source = "generated offline"
    else:
        raw = summary.source
        parsed = urlparse(raw)
        is_url = parsed.scheme in ("http", "https")
        source = f"[{parsed.netloc}{parsed.path}]({raw})" if is_url else f"`{raw}`"
    refreshed = summary.refreshed_at
    st.caption(f"Source: {source} · data version **v{summary.version}** · refreshed "
               f"{client.ago(refreshed)} ({client.timestamp(refreshed)}) · "
               f"last day in data: **{last_day:%d %B %Y}**")
    latest = refreshes[0] if refreshes else None
    if latest and latest.status == "offline" and not summary.synthetic:  # the synthetic banner already says it
        st.info(f"**Offline** since {client.ago(latest.at)}: {latest.reason or 'the source does not answer'}. "
                f"Showing the last good data (v{summary.version}, up to {last_day:%d %B %Y}); the scheduled "
                "refresh tries again by itself.", icon=":material/cloud_off:")
    elif latest and latest.status in BAD_REFRESH:
        st.warning(f"The latest refresh ({client.ago(latest.at)}) was **{latest.status}**: "
                   f"{latest.reason or 'no reason given'}. Still showing the last good data "
                   f"(version v{summary.version}).", icon=":material/report:")


def headline(summary: Summary) -> None:
    items = summary.headline
    if not items:
        st.info("No headline numbers in this data.")
        return
    last_day = summary.date
    spark = series([i.id for i in items], start=last_day - timedelta(days=SPARKLINE_DAYS - 1))
    st.caption(f"On **{last_day:%d %B %Y}**; the arrow is the change vs the previous day, "
               f"the line the last {SPARKLINE_DAYS} days.")
    for column, item in zip(st.columns(len(items)), items, strict=True):
        with column.container(border=True, key=f"covid_headline_{item.id}"):
            week = charts.fmt_number(item.change_week, signed=True)
            day = item.change_day
            origin = f" (original column: {item.name_ru})" if item.name_ru else ""
            st.metric(
                charts.short_label(item.id, item.label), charts.fmt_number(item.value),
                delta=None if day is None else charts.fmt_number(day, signed=True),
                delta_color="inverse" if item.id in charts.RISE_IS_BAD else "normal",
                help=f"{item.label}{origin}. Change vs a week before: {week}.",
            )
            line = charts.sparkline(spark.values.get(item.id, []), charts.short_label(item.id, item.label))
            if line:
                st.html(line)
            st.caption(f"week: {week}")


def time_series(catalog: list[Metric], first: date, last: date) -> tuple[date, date]:
    st.subheader("Over time")
    choice = controls.controls(catalog, first, last)
    start, end, rolling = choice.start, choice.end, choice.rolling
    if not choice.metrics:
        st.info("Pick at least one metric to draw.", icon=":material/touch_app:")
        return start, end
    answer = series(choice.metrics, start, end, rolling)
    table = charts.series_table(answer)
    labels = ", ".join(m.label for m in answer.metrics)
    smoothing = "reported values" if rolling == 1 else f"{rolling}-day average"
    with st.container(key="covid_series"):
        if charts.long_table(table).empty:
            note = f" ({answer.note})" if answer.note else ""
            st.info(f"No values for {labels} between {start:%d.%m.%Y} and {end:%d.%m.%Y}{note}.")
        else:
            vega.altair_chart(charts.series_chart(table, choice.log_scale), key="covid_series_chart",
                              alt=f"Line chart of {labels}, {smoothing}, {start:%d %b %Y} to {end:%d %b %Y}")
    left, right = st.columns([4, 1], vertical_alignment="center")
    count = len(choice.metrics)
    days = f"{len(table):,} day{'s' if len(table) != 1 else ''}"
    left.caption(f"{days} ({start:%d.%m.%Y} – {end:%d.%m.%Y}) × {count} "
                 f"metric{'s' if count > 1 else ''}, {smoothing}. At most {charts.MAX_LINES} metrics at a time.")
    right.download_button(
        "Download CSV", table.to_csv(index=False, date_format="%Y-%m-%d"), key="covid_csv", mime="text/csv",
        file_name=f"covid_{start:%Y%m%d}_{end:%Y%m%d}_{rolling}d.csv", on_click="ignore",
        icon=":material/download:", width="stretch", help="Exactly the data drawn above.")
    return start, end


def forecast_section(last_day: date) -> None:
    st.subheader(f"New cases: the {FORECAST_DAYS} days after the data ends")
    try:
        answer = client.get(f"{API}/forecast", model=Forecast, days=FORECAST_DAYS)
    except client.ApiError as exc:
        if exc.status == 404:
            st.info(f"No forecast yet: {exc.message}", icon=":material/model_training:")
        else:
            st.error(exc.message, icon=":material/error:")
        return
    since = last_day - timedelta(days=FORECAST_HISTORY_DAYS - 1)
    actual = series(["cases"], start=since)
    points = answer.forecast
    with st.container(key="covid_forecast"):
        vega.altair_chart(charts.forecast_chart(actual, points, answer.version), key="covid_forecast_chart",
                          alt=f"New cases over the last {FORECAST_HISTORY_DAYS} days and the forecast")
    total = sum(p.cases for p in points)
    kind = answer.params.kind.replace("_", " ")
    st.caption(f"Champion model `{answer.model}` v{answer.version} ({kind}): about "
               f"{charts.fmt_number(round(total))} new cases in total from {points[0].date} to "
               f"{points[-1].date}. The data ends on **{last_day:%d %B %Y}**: the forecast starts the day after, "
               "whatever today's date.")


def districts_section(start: date, end: date) -> None:
    period = f"{start:%d.%m.%Y}" if start == end else f"{start:%d.%m.%Y} – {end:%d.%m.%Y}"
    st.subheader("By district")
    districts = fetch("/districts", Districts).districts
    if not districts:
        st.info("No district figures in this data.", icon=":material/map:")
        return
    totals = charts.range_totals(series([d.id for d in districts], start, end))
    with_cases = [t for t in totals if t.value]
    quiet = [t.label.removeprefix("Cases in ") for t in totals if not t.value]
    st.caption(f"New cases per municipal district, summed over the selected dates: **{period}**.")
    if not with_cases:
        st.info(f"No new cases reported in any of the {len(totals)} districts on {period}.", icon=":material/map:")
        return
    with st.container(key="covid_districts"):
        vega.altair_chart(charts.bar_chart(with_cases, "new cases", strip="Cases in "), key="covid_districts_chart",
                          alt=f"New cases per municipal district, {period}")
    if quiet:
        st.caption(f"No new cases in {len(quiet)} other district{'s' if len(quiet) > 1 else ''}: "
                   f"{', '.join(quiet)}.")


def demographics_section(start: date, end: date) -> None:
    answer = fetch("/demographics", Demographics, query=DateRange(start=start, end=end))
    period = f"{start:%d.%m.%Y} – {end:%d.%m.%Y}"
    st.subheader("Age and sex of new cases")
    st.caption(f"Sum over the selected dates, {period}.")
    left, right = st.columns(2)
    for column, group, items, title, strip in ((left, "age", answer.age, "By age", "Cases aged "),
                                               (right, "sex", answer.sex, "By sex", "Cases among ")):
        with column:
            st.markdown(f"**{title}**")
            if not charts.has_values(items):
                st.info(f"No {group} breakdown in the data for {period}.", icon=":material/info:")
                continue
            with st.container(key=f"covid_{group}"):
                vega.altair_chart(charts.bar_chart(items, "cases", keep_order=group == "age", strip=strip),
                                  key=f"covid_{group}_chart", alt=f"Cases by {group}, {period}")


def refresh_history(refreshes: list[RefreshRecord]) -> None:
    history = st.expander("Refresh history", icon=":material/history:", key="covid_refresh_history",
                          on_change="rerun")
    with history:
        if not history.open:  # drawn once opened: its table grid is 1.3 MiB of a first visit's JavaScript
            return
        if not refreshes:
            st.caption("No refresh recorded yet.")
            return
        st.caption("Every attempt to refresh the data, newest first. A rejected or failed refresh never "
                   "replaces the data being served.")
        table = charts.refresh_table(refreshes).style.map(charts.status_css, subset=["status"])
        with st.container(key="covid_refreshes"):
            st.dataframe(table, hide_index=True,
                         column_config={"reason": st.column_config.TextColumn(width="large")})


def main() -> None:
    st.title("Covid-19 in the Kaliningrad region")
    ahead("/metrics")  # what does not depend on the answers below: asked now, side by side with them
    ahead("/districts")
    ahead("/forecast", days=FORECAST_DAYS)
    summary = fetch("/summary", Summary, fresh=True)
    if summary.headline:
        series_ahead([i.id for i in summary.headline], start=summary.date - timedelta(days=SPARKLINE_DAYS - 1))
    refreshes = fetch("/refreshes", list[RefreshRecord], fresh=True, limit=50)
    catalog = fetch("/metrics", list[Metric])
    first, last = summary.date, summary.date
    if catalog:  # the days the data covers (one day of one metric is enough to be told)
        covers = series([catalog[0].id], start=summary.date).covers
        first, last = covers.start, covers.end
    series_ahead(["cases"], start=last - timedelta(days=FORECAST_HISTORY_DAYS - 1))  # the forecast's history
    source_line(summary, refreshes)
    headline(summary)
    start, end = time_series(catalog, first, last)
    left, right = st.columns([3, 2], gap="large")
    with left:
        forecast_section(last)
    with right:
        districts_section(start, end)
    demographics_section(start, end)
    refresh_history(refreshes)


main()
