"""Cycling: pick a pro rider, find the most similar riders (filtered by age and nationality) on a map of the
embedding; similar races and similar teams. Everything comes from the API under ``/api/cycling``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import streamlit as st
from pydantic import ValidationError

from shipml.apps.cycling import charts
from shipml.apps.cycling.schemas import (
    ChosenRider,
    LastUpdate,
    Neighbour,
    Rider,
    RiderList,
    RiderMap,
    SimilarRaces,
    SimilarRequest,
    SimilarRiders,
    SimilarTeams,
)
from shipml.ui import client, vega

API = "/api/cycling"
AGES = (18, 45)  # the age slider's bounds (widened to the data); the full range means "any age"
HOW_MANY = (1, 50, 10)
ANSWER, ERROR = "cycling_answer", "cycling_error"  # session state: the last search, kept across reruns
SEARCH_AGAIN = "cycling_search_again"  # set when a dot on the map was clicked: search for that rider
T = TypeVar("T")


@dataclass(frozen=True)
class Search:
    """A search and the API's answer to it."""

    request: SimilarRequest
    answer: SimilarRiders


def fetch(path: str, model: type[T], **params: Any) -> T:
    """GET from the cycling API as ``model``, or show the error on the page and stop drawing it."""
    return client.get_or_stop(f"{API}{path}", model=model, **params)


def source_line(update: LastUpdate) -> None:
    if update.synthetic:
        st.warning("**SYNTHETIC data (offline demo)**: procyclingstats.com could not be reached, so these "
                   "riders, teams and races are generated with the shape of real results. They are not real "
                   "people.\n\n**Use real data**: online, `shipml ingest cycling --source scrape` scrapes "
                   "procyclingstats.com (about 35 min the first time, with progress); or import a folder of saved "
                   "results with `shipml ingest cycling --source FOLDER` (laid out like `shared/data/cycling`). "
                   "The model retrains and is served by itself.", icon=":material/science:")
        source = "generated offline"
    else:
        raw = update.source or "unknown"
        source = f"[{raw}]({raw})" if raw.startswith(("http://", "https://")) else f"`{raw}`"
    latest, champion = update.latest_result, update.model.champion
    last_day = f"**{latest:%d %B %Y}**" if latest else "—"
    st.caption(f"Source: {source} · data version **v{update.version}** "
               f"({update.rows:,} results, updated {client.ago(update.created_at)}) · "
               f"latest result: {last_day}")
    st.caption(f"Model `{update.model.name}` **v{champion if champion is not None else '—'}** "
               "(the registry's champion).")


def search_controls(riders: list[Rider]) -> dict[str, Any] | None:
    """The original app's controls; returns the request body when "Find 'em" is pressed."""
    by_slug = {r.rider: r for r in riders}
    ages = [r.age for r in riders if r.age is not None]
    low, high = min([AGES[0], *ages]), max([AGES[1], *ages])
    nations = sorted({r.nationality for r in riders if r.nationality}, key=lambda c: charts.country(c))
    with st.container(border=True, key="cycling_controls"):
        top = st.columns([3, 2], vertical_alignment="bottom")
        slug = top[0].selectbox(
            "Rider", list(by_slug), key="cycling_rider", format_func=lambda s: charts.rider_label(by_slug[s]),
            placeholder="Type a name", help="Name (nationality, age). Type to search; riders with the most "
                                            "results come first.")
        n = top[1].slider("How many", *HOW_MANY, key="cycling_n", help="How many similar riders to show.")
        bottom = st.columns([2, 3, 1], vertical_alignment="bottom")
        age_min, age_max = bottom[0].slider("Age", low, high, (low, high), key="cycling_ages",
                                            help=f"Only riders in this age range; {low}–{high} = any age.")
        countries = bottom[1].multiselect(
            "Nationality", nations, key="cycling_countries", format_func=charts.country,
            placeholder="All nationalities", help="Only riders of these nations; empty = all.")
        pressed = bottom[2].button("Find 'em", key="cycling_find", type="primary", icon=":material/search:",
                                   width="stretch")
    pressed = st.session_state.pop(SEARCH_AGAIN, False) or pressed
    if not pressed or slug is None:
        return None
    return {"rider": slug, "n": n, "age_min": age_min if age_min > low else None,
            "age_max": age_max if age_max < high else None, "countries": countries}


def search(body: dict[str, Any]) -> None:
    """Ask the API and keep the answer (or its error) in the session, so it survives other widgets' reruns."""
    try:
        request = SimilarRequest.model_validate(body)
        with st.spinner("Finding similar riders…"):
            answer = client.post(f"{API}/similar", request.model_dump(), model=SimilarRiders)
        st.session_state[ANSWER] = Search(request, answer)
        st.session_state.pop(ERROR, None)
    except ValidationError as exc:  # the API would refuse it the same way (422)
        st.session_state[ERROR] = "; ".join(e["msg"] for e in exc.errors())
        st.session_state.pop(ANSWER, None)
    except client.ApiError as exc:
        st.session_state[ERROR] = exc.message
        st.session_state.pop(ANSWER, None)


def filters_text(request: SimilarRequest) -> str:
    """The filters of a search in words: ``"aged 20–30, from France (FR) or Italy (IT)"``."""
    low, high = request.age_min, request.age_max
    parts = []
    if low is not None and high is not None:
        parts.append(f"aged {low}–{high}")
    elif low is not None or high is not None:
        parts.append(f"aged {low} or older" if low is not None else f"aged {high} or younger")
    if request.countries:
        parts.append("from " + " or ".join(charts.country(c) for c in request.countries))
    return ", ".join(parts) or "no filters"


def rider_card(me: ChosenRider) -> None:
    confidence = me.confidence
    with st.container(border=True, key="cycling_rider_card"):
        head = st.columns([3, 1, 1, 1], vertical_alignment="center")
        head[0].markdown(f"### {me.name}")
        head[0].caption(f"{charts.country(me.nationality)} · "
                        f"{me.age if me.age is not None else 'age unknown'} · "
                        f"{me.team or 'no team'}")
        mix = confidence.class_mix
        head[1].metric("Results", f"{confidence.results:,}", help="Finished results behind this rider's profile.")
        head[2].metric("World Tour share", f"{mix.get('UWT', 0.0):.0%}")
        head[3].metric("Small-race share", f"{confidence.small_race_share:.0%}",
                       help="Share of results in .1/.2 races, where the field is weaker.")
        if mix:
            vega.altair_chart(charts.class_mix_chart(mix), key="cycling_mix_chart",
                              alt=f"Results by race class: {charts.class_mix(mix)}")
        if me.low_confidence:
            reasons = "; ".join(confidence.reasons) or "little evidence"
            st.warning(f"**LOW CONFIDENCE**: {reasons}. Treat these neighbours as a rough guess.",
                       icon=":material/warning:")


def results_section(search: Search, map_points: RiderMap, pickable: frozenset[str]) -> None:
    answer, request = search.answer, search.request
    me, neighbours = answer.rider, answer.neighbours
    st.subheader(f"Riders like {me.name}")
    found = (f"The {len(neighbours)} most similar riders" if len(neighbours) == request.n else
             f"Only {len(neighbours)} of the {request.n} asked for match" if neighbours else "Nobody matches")
    st.caption(f"{found} ({filters_text(request)}); model v{answer.model_version}.")
    rider_card(me)
    message = answer.message
    if message and not (me.low_confidence and message.startswith("low confidence")):
        (st.info if neighbours else st.warning)(message, icon=":material/info:")
    if neighbours:
        with st.container(key="cycling_results"):
            table = charts.neighbours_table(neighbours).style.map(charts.confidence_css, subset=["confidence"])
            st.dataframe(table, hide_index=True, column_config={
                "#": st.column_config.NumberColumn(width=40),
                "nationality": st.column_config.TextColumn(help="ISO country code"),
                "results": st.column_config.NumberColumn(help="Finished results in the data."),
                "similarity": st.column_config.ProgressColumn(
                    "similarity", min_value=0, max_value=100, format="%.0f%%", width="medium",
                    help="Cosine similarity of the two riders' profiles (100% = the same)."),
                "confidence": st.column_config.TextColumn(
                    help="'low': few results, or mostly small races, behind this rider's profile."),
            })
    elif not message:
        st.warning("No similar riders found.", icon=":material/info:")
    rider_map(map_points, me.rider, neighbours, pickable)


def pick_from_map(pickable: frozenset[str]) -> None:
    """``on_select`` of the map: a clicked rider becomes the picked rider and is searched at once."""
    selection = (st.session_state.get("cycling_map_chart") or {}).get("selection") or {}
    clicked = [p.get("rider") for p in selection.get(charts.MAP_PICK) or []]
    if clicked and clicked[0] in pickable and clicked[0] != st.session_state.get("cycling_rider"):
        st.session_state["cycling_rider"] = clicked[0]
        st.session_state[SEARCH_AGAIN] = True


def rider_map(map_points: RiderMap, chosen: str | None, neighbours: list[Neighbour],
              pickable: frozenset[str]) -> None:
    points = map_points.points
    if not points:
        st.info("No riders to draw yet.", icon=":material/map:")
        return
    st.markdown("**Map of all riders**")
    frame = charts.map_frame(points, chosen, neighbours)
    with st.container(key="cycling_map"):
        vega.altair_chart(charts.map_chart(frame), key="cycling_map_chart", width="stretch",
                          on_select=partial(pick_from_map, pickable), selection_mode=charts.MAP_PICK,
                          alt=f"Map of {len(points)} riders' profiles with {len(neighbours)} similar riders")
    st.caption(f"Every rider's profile squeezed into two dimensions (PCA: these two axes keep "
               f"{map_points.explained_variance:.0%} of the variation), so distances are only a "
               "rough picture. Hover a dot for details; click one to find riders like them.")


def riders_tab() -> None:
    listing = fetch("/riders", RiderList, limit=1000)
    riders = listing.riders
    if not riders:
        st.info("No riders in the model yet.", icon=":material/directions_bike:")
        return
    if listing.total > len(riders):
        st.caption(f"The picker lists the {len(riders):,} riders with the most results "
                   f"(of {listing.total:,}).")
    body = search_controls(riders)
    if body is not None:
        search(body)
    if ERROR in st.session_state:
        st.error(st.session_state[ERROR], icon=":material/error:")
    map_points = fetch("/map", RiderMap)
    pickable = frozenset(r.rider for r in riders)
    last: Search | None = st.session_state.get(ANSWER)
    if last is None:
        st.info("Pick a rider and press **Find 'em** to see the most similar riders. The map shows where "
                "the picked rider sits among everyone.", icon=":material/touch_app:")
        rider_map(map_points, st.session_state.get("cycling_rider"), [], pickable)
        return
    results_section(last, map_points, pickable)


def races_tab() -> None:
    races = fetch("/races", list[str])
    if not races:
        st.info("No races in the model yet.", icon=":material/flag:")
        return
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    race = left.selectbox("Race", races, key="cycling_race", format_func=charts.race_label,
                          help="All editions and stages of a race count as one.")
    n = right.slider("How many", 1, 50, 10, key="cycling_race_n")
    similar = fetch(f"/races/{quote(race, safe='')}/similar", SimilarRaces, n=n).similar
    st.subheader(f"Races like {charts.race_label(race)}")
    if not similar:
        st.info("No other race to compare with.", icon=":material/info:")
        return
    with st.container(key="cycling_races_result"):
        vega.altair_chart(charts.similarity_bars(similar, "race", charts.race_label), key="cycling_races_chart",
                          alt=f"The {len(similar)} races most similar to {charts.race_label(race)}")
    fewer = f" Only {len(similar)} races share riders with this one." if len(similar) < n else ""
    st.caption(f"Two races are similar when the same riders do well in both.{fewer}")


def teams_tab(riders: list[Rider]) -> None:
    teams = sorted({r.team for r in riders if r.team})
    if not teams:
        st.info("No teams in the data.", icon=":material/groups:")
        return
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    team = left.selectbox("Team", teams, key="cycling_team", help="Each rider counts for their latest team.")
    n = right.slider("How many", 1, 20, 5, key="cycling_team_n")
    try:
        similar = client.get(f"{API}/teams/{quote(team, safe='')}/similar", model=SimilarTeams, n=n).similar
    except client.ApiError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    roster = sum(1 for r in riders if r.team == team)
    st.subheader(f"Teams like {team}")
    st.caption(f"{roster} rider{'s' if roster != 1 else ''} of {team} in the model. Teams are similar when "
               "their riders have similar profiles.")
    if similar:
        with st.container(key="cycling_teams_result"):
            vega.altair_chart(charts.similarity_bars(similar, "team"), key="cycling_teams_chart",
                              alt=f"The {len(similar)} teams most similar to {team}")


def main() -> None:
    st.title("Cycling: similar riders")
    for path, params in (("/riders", {"limit": 1000}), ("/map", {}), ("/races", {})):  # asked side by side
        client.prefetch(f"{API}{path}", **params)
    source_line(fetch("/last-update", LastUpdate))
    tabs = st.tabs(["Similar riders", "Similar races", "Similar teams"])
    with tabs[0]:
        riders_tab()
    with tabs[1]:
        races_tab()
    with tabs[2]:
        teams_tab(fetch("/riders", RiderList, limit=1000).riders)


main()
