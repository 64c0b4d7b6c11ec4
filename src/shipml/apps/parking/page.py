"""The parking map: every SER neighbourhood coloured by the chance of a free space at the chosen day and hour, over
the SER streets drawn from the street index we ship (no tiles, no token, no network), with a legend; an hour slider,
hover and click for details, and an address search that says what it found, highlights the neighbourhood and shows
its curve for the day. Everything comes from the API under ``/api/parking``.

A slider move redraws fast: the day's 24 hours of every neighbourhood come in one answer (``/map/day``, computed
once per model version and day, kept here for the client's cache period), and the chart's spec never changes with
the hour: the hour's values are a named dataset, so the browser updates the data of the drawn chart instead of
building a new one. Polygons and streets are fetched once an hour.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from shipml.apps.parking.calendar import next_full_day
from shipml.apps.parking.charts import day_chart
from shipml.apps.parking.schemas import AddressHit, AvailabilityMap, DayCurve, DayMap, Place, StreetMap
from shipml.ui import client, vega

API = "/api/parking"
NO_NUMBER = "#c8c8c8"
HIGHLIGHT = "#1f3b99"
T = TypeVar("T")
INTERVAL_WORDS = ("the {level} % interval is the range the share of free spaces falls in, in {level} of 100 hours "
                  "like this one; a wide range (up to 0–100 %) means the data say little about that hour, as on "
                  "simulated tickets or where few tickets are sold")


def fetch(path: str, model: type[T], **params: Any) -> T:
    return client.get_or_stop(f"{API}{path}", model=model, **params)


@st.cache_data(ttl=3600, show_spinner=False)
def polygons(day: str) -> list[dict[str, Any]]:
    """The neighbourhood polygons as GeoJSON features (id, name, code, district), from one ``/map`` answer."""
    geo = fetch("/map", AvailabilityMap, at=f"{day}T12:00")
    return [{"type": "Feature", "id": f.id, "geometry": f.geometry.model_dump(),
             "properties": {"name": f.properties.name, "code": f.properties.code,
                            "district": f.properties.district}} for f in geo.features]


@st.cache_data(ttl=3600, show_spinner=False)
def streets() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The base layer: street segments and the longest streets' labels."""
    base = fetch("/streets", StreetMap)
    segments = pd.DataFrame(base.segments, columns=["lon", "lat", "lon2", "lat2"], dtype="float32")
    labels = pd.DataFrame([{"name": label.short, "lon": label.lon, "lat": label.lat} for label in base.labels],
                          columns=["name", "lon", "lat"])
    return segments, labels


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def hour_values(day: DayMap, hour: int) -> pd.DataFrame:
    """One row per neighbourhood at ``hour``: its colour value and what the tooltip says."""
    rows = []
    for n in day.neighbourhoods:
        free, low, high = n.free_fraction[hour], n.low[hour], n.high[hour]
        if free is None:
            text = ("no SER spaces in the spaces file" if n.spaces == 0 else
                    "not regulated at this hour: free parking, no forecast")
        else:
            text = (f"{free:.0%} free (about {n.free_spaces[hour] or 0:,} of {n.spaces:,} spaces); {day.level} % "
                    f"interval {_percent(low)}–{_percent(high)}")
        rows.append({"id": n.id, "free": free, "availability": text})
    return pd.DataFrame(rows, columns=["id", "free", "availability"])


def map_spec(features: list[dict[str, Any]], level: int) -> dict[str, Any]:
    """The map's Vega-Lite spec: the same for every hour and search (what changes are the named datasets)."""
    lonlat = {"longitude": {"field": "lon", "type": "quantitative"},
              "latitude": {"field": "lat", "type": "quantitative"}}
    return {
        "height": 620,
        "projection": {"type": "mercator"},
        "layer": [
            {"data": {"name": "streets"}, "mark": {"type": "rule", "color": "#6f6f6f", "strokeWidth": 0.7},
             "encoding": {**lonlat, "longitude2": {"field": "lon2"}, "latitude2": {"field": "lat2"}}},
            {"data": {"name": "polygons"},
             "transform": [{"lookup": "id", "from": {"data": {"name": "hour"}, "key": "id",
                                                     "fields": ["free", "availability"]}}],
             "params": [{"name": "pick", "select": {"type": "point", "fields": ["id"], "on": "click"}}],
             "mark": {"type": "geoshape", "stroke": "white", "strokeWidth": 1.2, "fillOpacity": 0.6,
                      "cursor": "pointer"},
             "encoding": {
                 "color": {"condition": {"test": "!isValid(datum.free)", "value": NO_NUMBER},
                           "field": "free", "type": "quantitative",
                           "scale": {"domain": [0, 1], "scheme": "redyellowgreen"},
                           "legend": {"title": "chance of a free space", "format": ".0%", "orient": "top",
                                      "direction": "horizontal", "gradientLength": 160}},  # above, not on a label
                 "tooltip": [{"field": "properties.name", "title": "Neighbourhood"},
                             {"field": "properties.code", "title": "Code"},
                             {"field": "properties.district", "title": "District"},
                             {"field": "availability", "title": "Availability"}]}},
            {"data": {"name": "labels"},
             "mark": {"type": "text", "fontSize": 10, "fontStyle": "italic", "color": "#111", "opacity": 0.8},
             "encoding": {**lonlat, "text": {"field": "name"}}},
            {"data": {"name": "polygons"},
             "transform": [{"lookup": "id", "from": {"data": {"name": "chosen"}, "key": "id", "fields": ["chosen"]}},
                           {"filter": "datum.chosen === true"}],
             "mark": {"type": "geoshape", "filled": False, "stroke": HIGHLIGHT, "strokeWidth": 4}},
            {"data": {"name": "street"}, "mark": {"type": "circle", "size": 14, "color": HIGHLIGHT, "opacity": 0.9},
             "encoding": lonlat},
            {"data": {"name": "point"},
             "mark": {"type": "circle", "size": 140, "color": HIGHLIGHT, "stroke": "white", "strokeWidth": 2,
                      "opacity": 1}, "encoding": lonlat},
        ],
        "datasets": {"polygons": features},
        "config": {"view": {"stroke": None}},
        "usermeta": {"level": level},
    }


def _suggest(text: str) -> None:
    st.session_state["parking_address"] = text


def controls() -> tuple[date, int, str]:
    c = st.columns([1.2, 3, 3], vertical_alignment="bottom")
    day = c[0].date_input("Day", value=next_full_day(date.today()), key="parking_day", format="DD.MM.YYYY")
    hour = c[1].slider("Hour", 0, 23, 11, key="parking_hour", format="%d:00",
                       help="Parking is regulated 09–21 on weekdays, 09–15 on Saturdays and in August.")
    query = c[2].text_input("Address", key="parking_address", placeholder="e.g. Calle de Fuencarral 98",
                            help="A street (and number) with SER spaces; typos are forgiven. Streets without "
                                 "regulated spaces are not in the list.")
    return day, hour, query


def _where(place: Any) -> str:
    return f"**{place.name}** ({place.code})" if isinstance(place, Place) else f"neighbourhood {place.id}"


def search(query: str) -> AddressHit | None:
    """The address search's answer, said as what it is: found (green), found something else (yellow), the whole
    street (blue), or not found with suggestions to click."""
    try:
        hit = client.get(f"{API}/addresses", model=list[AddressHit], q=query, limit=1)[0]
    except client.ApiError as exc:
        st.warning(exc.message if exc.status != 404 else exc.message.split(";")[0] + ".", icon=":material/search_off:")
        suggestions = (exc.details or {}).get("suggestions", []) if isinstance(exc.details, dict) else []
        if suggestions:
            cols = st.columns(min(len(suggestions), 3))
            for i, name in enumerate(suggestions[:3]):
                cols[i].button(name.title(), key=f"parking_suggestion_{i}", on_click=_suggest, args=(name,),
                               width="stretch")
        return None
    where = _where(hit.neighbourhood)
    if hit.match == "exact":
        st.success(f"**{hit.label}** is in {where}", icon=":material/location_on:")
    elif hit.match == "street":
        crossed = ", ".join(p.name for p in hit.extent.neighbourhoods if isinstance(p, Place))
        st.info(f"**{hit.label}** — {hit.note[:1].lower()}{hit.note[1:]}. It crosses {crossed}; the "
                f"neighbourhood shown is {where}.",
                icon=":material/route:")
    else:
        st.warning(f"{hit.note}. Shown: **{hit.label}** in {where}.", icon=":material/wrong_location:")
    return hit


def _frames(hit: AddressHit | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    street = pd.DataFrame(hit.extent.positions if hit else [], columns=["lon", "lat"], dtype="float64")
    point = pd.DataFrame([{"lon": hit.lon, "lat": hit.lat}] if hit else [], columns=["lon", "lat"], dtype="float64")
    return street, point


def main() -> None:
    st.title("Parking in Madrid: the chance of a free space")
    day, hour, query = controls()
    at = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
    values = fetch("/map/day", DayMap, date=day.isoformat())
    if values.synthetic:
        st.warning("**SYNTHETIC data (offline demo)**: these forecasts are trained on simulated tickets in the "
                   "real format, not on the city's records.\n\n**Use real data**: download the quarterly SER ticket "
                   "files from datos.madrid.es and run `shipml ingest parking --source FOLDER` (or set "
                   "`SHIPML_PARKING_SOURCE=FOLDER`); the models retrain and are served by themselves.",
                   icon=":material/science:")
    hit = search(query) if query.strip() else None
    highlight: int | None = hit.neighbourhood.id if hit else None
    clicked = (st.session_state.get("parking_map") or {}).get("selection", {}).get("pick") or []
    if highlight is None and clicked:
        highlight = clicked[0].get("id")
    segments, labels = streets()
    street, point = _frames(hit)
    left, right = st.columns([3, 2], gap="large")
    with left, st.container(key="parking_map_box"):
        spec = map_spec(polygons(day.isoformat()), values.level)
        spec["datasets"].update(streets=segments, labels=labels, hour=hour_values(values, hour), street=street,
                                point=point, chosen=pd.DataFrame({"id": [highlight] if highlight else [],
                                                                  "chosen": [True] if highlight else []}))
        st.vega_lite_chart(spec, key="parking_map", on_select="rerun", selection_mode="pick", width="stretch")
        model = values.model
        state = "regulated" if values.regulated[hour] else "NOT regulated (free parking; no forecast)"
        st.caption(f"{at:%A %d %B %Y, %H:00} — parking {state}. Colour: the chance of a free space, red 0 % → "
                   f"green 100 %; grey: no number (not regulated at this hour, or no SER spaces). Lines: the SER "
                   f"streets of the bundled street list; hover a neighbourhood for its {values.level} % interval: "
                   f"{INTERVAL_WORDS.format(level=values.level)}. Model `{model.name}` v{model.version} "
                   f"({model.candidate}).")
        outlined = next((f for f in polygons(day.isoformat()) if f["id"] == highlight), None)
        if outlined is not None:
            with st.container(key="parking_highlight"):
                st.caption(f"Outlined in blue: **{outlined['properties']['name']} ({outlined['properties']['code']})**")
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
            level = now.interval.level
            st.metric(f"Chance of a free space at {hour}:00", f"{now.free_fraction:.0%}",
                      help=f"about {now.free_spaces or 0:,} of {curve.spaces:,} spaces free")
            st.caption(f"Likely between **{lo:.0%} and {hi:.0%}** free: {INTERVAL_WORDS.format(level=level)}.")
        with st.container(key="parking_day_curve"):
            vega.altair_chart(day_chart(curve.hours), width="stretch")
        st.caption("The line is the forecast, the shaded band its interval; hours without a point are not "
                   "regulated.")


main()
