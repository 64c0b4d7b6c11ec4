"""The parking map: every SER neighbourhood coloured by the chance of a free space at the chosen day and hour,
an hour slider, hover and click for details, and an address search that highlights the neighbourhood and shows
its curve for the day. Everything comes from the API under ``/api/parking``; the map is drawn without tiles
(altair geoshape), so it needs no token and no network.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import altair as alt
import pandas as pd
import streamlit as st

from shipml.apps.parking.calendar import regulated_window
from shipml.apps.parking.schemas import AddressHit, AvailabilityMap, DayCurve, FeatureProperties, Place, Point
from shipml.ui import client

API = "/api/parking"
NO_NUMBER = "#c8c8c8"
HOURS = (9, 20)
T = TypeVar("T")


def fetch(path: str, model: type[T], **params: Any) -> T:
    return client.get_or_stop(f"{API}{path}", model=model, **params)


def colour(free: float | None) -> str:
    """Red (no free space) → yellow → green (all free); grey when there is no number."""
    if free is None:
        return NO_NUMBER
    f = min(max(float(free), 0.0), 1.0)
    red, green = (int(215 + (254 - 215) * f * 2), int(48 + (224 - 48) * f * 2)) if f < 0.5 else \
        (int(254 - (254 - 26) * (f - 0.5) * 2), int(224 - (224 - 150) * (f - 0.5) * 2))
    blue = int(39 + (139 - 39) * f) if f < 0.5 else int(139 - (139 - 65) * (f - 0.5) * 2)
    return f"#{red:02x}{green:02x}{blue:02x}"


def _label(props: FeatureProperties) -> str:
    free, interval = props.free_fraction, props.interval
    if free is None or interval is None:
        return props.message or "not regulated: free parking"
    lo, hi = interval.free_fraction
    return f"{free:.0%} free (80 % interval {lo:.0%}–{hi:.0%}), ~{props.free_spaces or 0:,} spaces"


def map_chart(geo: AvailabilityMap, highlight: int | None, point: Point | None) -> Any:
    features = [{"type": "Feature", "geometry": f.geometry.model_dump(), "id": f.properties.id,
                 "name": f.properties.name, "code": f.properties.code, "district": f.properties.district,
                 "fill": colour(f.properties.free_fraction), "availability": _label(f.properties)}
                for f in geo.features]
    pick = alt.selection_point(name="pick", fields=["id"], on="click")
    base = alt.Chart(alt.Data(values=features)).mark_geoshape(stroke="white", strokeWidth=0.7).encode(
        color=alt.Color("fill:N", scale=None),
        tooltip=[alt.Tooltip("name:N", title="Neighbourhood"), alt.Tooltip("code:N", title="Code"),
                 alt.Tooltip("district:N", title="District"), alt.Tooltip("availability:N", title="Availability")],
    ).add_params(pick)
    layers: list[Any] = [base]
    chosen = [f for f in features if f["id"] == highlight]
    if chosen:
        layers.append(alt.Chart(alt.Data(values=chosen)).mark_geoshape(
            fill=None, stroke="#1f3b99", strokeWidth=4))
    if point:
        layers.append(alt.Chart(pd.DataFrame([point.model_dump()])).mark_circle(size=120, color="#1f3b99").encode(
            longitude="lon:Q", latitude="lat:Q"))
    return alt.layer(*layers).project("mercator").properties(height=620)


def day_chart(curve: DayCurve) -> Any:
    rows = [{"hour": h.hour, "free": h.free_fraction, "lo": h.interval.free_fraction[0],
             "hi": h.interval.free_fraction[1]} for h in curve.hours
            if h.free_fraction is not None and h.interval is not None]
    frame = pd.DataFrame(rows, columns=["hour", "free", "lo", "hi"])
    x = alt.X("hour:Q", title="hour (Madrid)", scale=alt.Scale(domain=[0, 23]))
    band = alt.Chart(frame).mark_area(opacity=0.25).encode(x=x, y=alt.Y("lo:Q", title="chance of a free space",
                                                                         axis=alt.Axis(format="%"),
                                                                         scale=alt.Scale(domain=[0, 1])), y2="hi:Q")
    line = alt.Chart(frame).mark_line(point=True).encode(x=x, y="free:Q", tooltip=["hour", alt.Tooltip(
        "free:Q", format=".0%"), alt.Tooltip("lo:Q", format=".0%"), alt.Tooltip("hi:Q", format=".0%")])
    return alt.layer(band, line).properties(height=260)


def next_full_day(day: date) -> date:
    """The first day from ``day`` with parking regulated until 21:00 (a weekday, not a holiday, not August)."""
    while (window := regulated_window(day)) is None or window[1].hour < 21:
        day += timedelta(days=1)
    return day


def controls() -> tuple[date, int, str]:
    c = st.columns([1.2, 3, 3], vertical_alignment="bottom")
    day = c[0].date_input("Day", value=next_full_day(date.today()), key="parking_day", format="DD.MM.YYYY")
    hour = c[1].slider("Hour", 0, 23, 11, key="parking_hour", format="%d:00",
                       help="Parking is regulated 09–21 on weekdays, 09–15 on Saturdays and in August.")
    query = c[2].text_input("Address", key="parking_address", placeholder="e.g. Calle de Fuencarral 98",
                            help="A street (and number) in the SER zone; typos are forgiven.")
    return day, hour, query


def main() -> None:
    st.title("Parking in Madrid: the chance of a free space")
    day, hour, query = controls()
    at = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
    geo = fetch("/map", AvailabilityMap, at=at.isoformat(timespec="minutes"))
    if geo.synthetic:
        st.warning("**SYNTHETIC data (offline demo)**: these forecasts are trained on simulated tickets in the "
                   "real format, not on the city's records.\n\n**Use real data**: download the quarterly SER ticket "
                   "files from datos.madrid.es and run `shipml ingest parking --source FOLDER` (or set "
                   "`SHIPML_PARKING_SOURCE=FOLDER`); the models retrain and are served by themselves.",
                   icon=":material/science:")
    highlight: int | None = None
    point: Point | None = None
    if query.strip():
        try:
            hit = client.get(f"{API}/addresses", model=list[AddressHit], q=query, limit=1)[0]
            highlight, point, place = hit.neighbourhood.id, Point(lat=hit.lat, lon=hit.lon), hit.neighbourhood
            where = f"**{place.name}** ({place.code})" if isinstance(place, Place) else f"neighbourhood {place.id}"
            st.success(f"**{hit.label}** is in {where}", icon=":material/location_on:")
        except client.ApiError as exc:
            st.info(exc.message, icon=":material/search_off:")
    clicked = (st.session_state.get("parking_map") or {}).get("selection", {}).get("pick") or []
    if highlight is None and clicked:
        highlight = clicked[0].get("id")
    left, right = st.columns([3, 2], gap="large")
    with left, st.container(key="parking_map_box"):
        st.altair_chart(map_chart(geo, highlight, point), key="parking_map", on_select="rerun",
                        selection_mode="pick", width="stretch")
        model = geo.model
        state = "regulated" if geo.regulated else "NOT regulated (free parking; no forecast)"
        st.caption(f"{at:%A %d %B %Y, %H:00} — parking {state}. Colour: chance of a free space, red 0 % → green "
                   f"100 %; grey: no number. Model `{model.name}` v{model.version} ({model.candidate}).")
        outlined = next((f.properties for f in geo.features if f.properties.id == highlight), None)
        if outlined is not None:
            with st.container(key="parking_highlight"):
                st.caption(f"Outlined in blue: **{outlined.name} ({outlined.code})**")
    with right:
        if highlight is None:
            st.info("Search an address or click a neighbourhood to see its day.", icon=":material/touch_app:")
            return
        curve = fetch("/day", DayCurve, neighbourhood=str(highlight), date=day.isoformat())
        st.subheader(f"{curve.neighbourhood.name} ({curve.neighbourhood.code})")
        now = next(h for h in curve.hours if h.hour == hour)
        if now.free_fraction is None or now.interval is None:
            st.metric(f"At {hour}:00", "free parking", help=now.message)
        else:
            lo, hi = now.interval.free_fraction
            st.metric(f"Chance of a free space at {hour}:00", f"{now.free_fraction:.0%}",
                      help=f"80 % interval {lo:.0%}–{hi:.0%}; about {now.free_spaces or 0:,} of "
                           f"{curve.spaces:,} spaces free")
        with st.container(key="parking_day_curve"):
            st.altair_chart(day_chart(curve), width="stretch")
        st.caption("The line is the forecast, the band its 80 % interval; hours without a point are not regulated.")


main()
