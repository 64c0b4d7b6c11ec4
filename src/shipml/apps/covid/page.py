"""The covid dashboard: headline numbers, metrics over time, the case forecast, districts, age and sex,
and the refresh history. Everything comes from the API under ``/api/covid`` (see ``api.py``).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlparse

import streamlit as st

from shipml.apps.covid import charts, controls
from shipml.ui import client

API = "/api/covid"
FORECAST_DAYS = 14
FORECAST_HISTORY_DAYS = 56
SPARKLINE_DAYS = 30
BAD_REFRESH = ("rejected", "failed")


def fetch(path: str, *, fresh: bool = False, query: dict[str, Any] | None = None, **params: Any) -> Any:
    """GET from the covid API, or show the error on the page and stop drawing it.

    ``query`` takes parameters whose names are not Python identifiers (``from``)."""
    return client.get_or_stop(f"{API}{path}", fresh=fresh, **(query or {}), **params)


def source_line(summary: dict[str, Any], refreshes: list[dict[str, Any]]) -> None:
    last_day = date.fromisoformat(summary["date"])
    if summary.get("synthetic"):
        st.warning("**SYNTHETIC data (offline demo)**: the real source could not be fetched, so these "
                   "numbers are generated with the same shape as the real export. Do not read them as facts.\n\n"
                   "**Use real data**: once online, the next scheduled refresh (every 15 min) fetches the published "
                   "export by itself; or run `shipml ingest covid --source URL|FILE` now.",
                   icon=":material/science:")
        source = "generated offline"
    else:
        raw = str(summary.get("source") or "")
        parsed = urlparse(raw)
        is_url = parsed.scheme in ("http", "https")
        source = f"[{parsed.netloc}{parsed.path}]({raw})" if is_url else f"`{raw}`"
    refreshed = summary.get("refreshed_at")
    st.caption(f"Source: {source} · data version **v{summary['version']}** · refreshed "
               f"{client.ago(refreshed)} ({client.timestamp(refreshed)}) · "
               f"last day in data: **{last_day:%d %B %Y}**")
    latest = refreshes[0] if refreshes else None
    if latest and latest.get("status") in BAD_REFRESH:
        st.warning(f"The latest refresh ({client.ago(latest.get('at'))}) was **{latest['status']}**: "
                   f"{latest.get('reason') or 'no reason given'}. Still showing the last good data "
                   f"(version v{summary['version']}).", icon=":material/report:")


def headline(summary: dict[str, Any]) -> None:
    items = summary.get("headline") or []
    if not items:
        st.info("No headline numbers in this data.")
        return
    last_day = date.fromisoformat(summary["date"])
    spark = fetch("/series", metric=[i["id"] for i in items],
                  query={"from": (last_day - timedelta(days=SPARKLINE_DAYS - 1)).isoformat()})
    st.caption(f"On **{last_day:%d %B %Y}**; the arrow is the change vs the previous day, "
               f"the line the last {SPARKLINE_DAYS} days.")
    for column, item in zip(st.columns(len(items)), items, strict=True):
        with column.container(border=True, key=f"covid_headline_{item['id']}"):
            week = charts.fmt_number(item.get("change_week"), signed=True)
            day = item.get("change_day")
            origin = f" (original column: {item['name_ru']})" if item.get("name_ru") else ""
            st.metric(
                charts.short_label(item["id"], item["label"]), charts.fmt_number(item.get("value")),
                delta=None if day is None else charts.fmt_number(day, signed=True),
                delta_color="inverse" if item["id"] in charts.RISE_IS_BAD else "normal",
                help=f"{item['label']}{origin}. Change vs a week before: {week}.",
                chart_data=[v for v in spark["values"].get(item["id"], []) if v is not None] or None,
            )
            st.caption(f"week: {week}")


def time_series(catalog: list[dict[str, Any]], first: date, last: date) -> tuple[date, date]:
    st.subheader("Over time")
    choice = controls.controls(catalog, first, last)
    start, end, rolling = choice.start, choice.end, choice.rolling
    if not choice.metrics:
        st.info("Pick at least one metric to draw.", icon=":material/touch_app:")
        return start, end
    series = fetch("/series", metric=choice.metrics, rolling=rolling,
                   query={"from": start.isoformat(), "to": end.isoformat()})
    table = charts.series_table(series)
    labels = ", ".join(m["label"] for m in series["metrics"])
    smoothing = "reported values" if rolling == 1 else f"{rolling}-day average"
    with st.container(key="covid_series"):
        if charts.long_table(table).empty:
            note = f" ({series['note']})" if series.get("note") else ""
            st.info(f"No values for {labels} between {start:%d.%m.%Y} and {end:%d.%m.%Y}{note}.")
        else:
            st.altair_chart(charts.series_chart(table, choice.log_scale), key="covid_series_chart",
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
    st.subheader(f"New cases: next {FORECAST_DAYS} days")
    try:
        answer = client.get(f"{API}/forecast", days=FORECAST_DAYS)
    except client.ApiError as exc:
        if exc.status == 404:
            st.info(f"No forecast yet: {exc.message}", icon=":material/model_training:")
        else:
            st.error(exc.message, icon=":material/error:")
        return
    since = last_day - timedelta(days=FORECAST_HISTORY_DAYS - 1)
    actual = fetch("/series", metric="cases", query={"from": since.isoformat()})
    points = answer["forecast"]
    with st.container(key="covid_forecast"):
        st.altair_chart(charts.forecast_chart(actual, points, answer["version"]), key="covid_forecast_chart",
                        alt=f"New cases over the last {FORECAST_HISTORY_DAYS} days and the forecast")
    total = sum(float(p["cases"]) for p in points)
    kind = str((answer.get("params") or {}).get("kind", "")).replace("_", " ")
    st.caption(f"Champion model `{answer['model']}` v{answer['version']} ({kind}): about "
               f"{charts.fmt_number(round(total))} new cases in total from {points[0]['date']} to "
               f"{points[-1]['date']}.")


def districts_section(start: date, end: date) -> None:
    period = f"{start:%d.%m.%Y}" if start == end else f"{start:%d.%m.%Y} – {end:%d.%m.%Y}"
    st.subheader("By district")
    districts = fetch("/districts").get("districts") or []
    if not districts:
        st.info("No district figures in this data.", icon=":material/map:")
        return
    answer = fetch("/series", metric=[d["id"] for d in districts],
                   query={"from": start.isoformat(), "to": end.isoformat()})
    totals = charts.range_totals(answer)
    with_cases = [t for t in totals if t["value"]]
    quiet = [str(t["label"]).removeprefix("Cases in ") for t in totals if not t["value"]]
    st.caption(f"New cases per municipal district, summed over the selected dates: **{period}**.")
    if not with_cases:
        st.info(f"No new cases reported in any of the {len(totals)} districts on {period}.", icon=":material/map:")
        return
    with st.container(key="covid_districts"):
        st.altair_chart(charts.bar_chart(with_cases, "new cases", strip="Cases in "), key="covid_districts_chart",
                        alt=f"New cases per municipal district, {period}")
    if quiet:
        st.caption(f"No new cases in {len(quiet)} other district{'s' if len(quiet) > 1 else ''}: "
                   f"{', '.join(quiet)}.")


def demographics_section(start: date, end: date) -> None:
    answer = fetch("/demographics", query={"from": start.isoformat(), "to": end.isoformat()})
    period = f"{start:%d.%m.%Y} – {end:%d.%m.%Y}"
    st.subheader("Age and sex of new cases")
    st.caption(f"Sum over the selected dates, {period}.")
    left, right = st.columns(2)
    for column, group, title, strip in ((left, "age", "By age", "Cases aged "),
                                        (right, "sex", "By sex", "Cases among ")):
        items = answer.get(group) or []
        with column:
            st.markdown(f"**{title}**")
            if not charts.has_values(items):
                st.info(f"No {group} breakdown in the data for {period}.", icon=":material/info:")
                continue
            with st.container(key=f"covid_{group}"):
                st.altair_chart(charts.bar_chart(items, "cases", keep_order=group == "age", strip=strip),
                                key=f"covid_{group}_chart", alt=f"Cases by {group}, {period}")


def refresh_history(refreshes: list[dict[str, Any]]) -> None:
    with st.expander("Refresh history", icon=":material/history:"):
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
    summary = fetch("/summary", fresh=True)
    refreshes = fetch("/refreshes", fresh=True, limit=50)
    catalog = fetch("/metrics")
    covers = {"from": summary["date"], "to": summary["date"]}
    if catalog:  # the days the data covers (one day of one metric is enough to be told)
        covers = fetch("/series", metric=catalog[0]["id"], query={"from": summary["date"]})["covers"]
    first, last = date.fromisoformat(covers["from"]), date.fromisoformat(covers["to"])
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
