"""The live race page: top N, leaders' progress, search by name or bib, followed runners with their splits and a
map, rejected-ping counters. Everything comes from ``/api/race`` (see ``api.py``); the live parts are fragments
that redraw themselves every 2 s (only their own elements, so nothing flickers)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import streamlit as st

from shipml.apps.race.board import STATUS_TEXT, age, clock, notice, pace, splits_table, table
from shipml.apps.race.charts import course_chart, progress_chart
from shipml.apps.race.schemas import (
    CourseMap,
    Leaderboard,
    LeadersProgress,
    LiveStats,
    RaceSummary,
    RunnerDetail,
    SearchHits,
)
from shipml.ui import client, vega

API = "/api/race"
REFRESH_S = 2
T = TypeVar("T")


def ask(path: str, model: type[T], **params: Any) -> Callable[[], T]:
    """Start asking the API for ``path`` (live, uncached); :func:`answer` of what this returns waits for it."""
    return client.ask_fresh(f"{API}{path}", model=model, **params)


def answer(asked: Callable[[], T]) -> T | None:
    """The answer of :func:`ask` as its model, or None after saying on the page why there is none (yet)."""
    try:
        return asked()
    except client.ApiError as exc:
        st.info(exc.message, icon=":material/hourglass_empty:")
        return None


def fetch(path: str, model: type[T], **params: Any) -> T | None:
    """The API's answer as ``model``, asked now (no thread hop), or None after saying on the page why there is none
    (yet)."""
    return answer(partial(client.get_fresh, f"{API}{path}", model=model, **params))


def pick_race() -> RaceSummary | None:
    races = fetch("/races", list[RaceSummary]) or []
    if not races:
        st.info("No race defined yet: `shipml up` prepares a simulated one, or use `shipml race define`.")
        return None
    names = [r.name for r in races]
    chosen = st.selectbox("Race", names, key="race_pick", label_visibility="collapsed") if len(names) > 1 else names[0]
    return next(r for r in races if r.name == chosen)


def header(race: RaceSummary) -> None:
    st.title(race.title)
    if race.simulated:
        st.warning("**SIMULATED race**: generated runners on the generated demo course, sent through the real "
                   "ingest. Not real people. **Real race**: `shipml race define --help` (course GPX, participants "
                   "CSV, gun time), then point trackers at `/api/race/<race>/osmand` or OwnTracks.",
                   icon=":material/science:")
    st.caption(f"{race.course.length_m / 1000:.2f} km · {race.runners:,} runners · gun "
               f"{client.timestamp(race.start)} · checkpoints " + ", ".join(c.name for c in race.checkpoints))


COLUMN_CONFIG = {
    "rank": st.column_config.NumberColumn("rank", width="small"),
    "bib": st.column_config.TextColumn("bib", width="small"),
    "name": st.column_config.TextColumn("name", width="medium"),
    "category": st.column_config.TextColumn("cat.", width="small"),
    "km": st.column_config.NumberColumn("km", width="small", format="%.2f"),
    "gap": st.column_config.TextColumn("gap", width="small", help="time behind the leader at the same point"),
    "pace": st.column_config.TextColumn("pace", width="small"),
    "predicted finish": st.column_config.TextColumn("finish (pred.)", width="small",
                                                    help="the finish time, or its prediction while running"),
    "status": st.column_config.TextColumn("status", width="small"),
    "last seen": st.column_config.TextColumn("last seen", width="small"),
}


def edition_notice(race: str, stats: LiveStats) -> None:
    """A simulated race's countdown to its gun, or the notice that it ends soon; a new edition redraws the page."""
    edition = stats.edition
    if edition is None:
        return
    seen = st.session_state.setdefault(f"race_gun_{race}", edition.gun)
    if seen != edition.gun:  # a new edition: the header (gun, checkpoints) is redrawn
        st.session_state[f"race_gun_{race}"] = edition.gun
        st.rerun(scope="app")
    text = notice(edition)
    if text:
        with st.container(key="race_notice"):
            st.info(text, icon=":material/schedule:")


@st.fragment(run_every=REFRESH_S)
def live(race: str, top: int, category: str | None) -> None:
    # the leaderboard and the progress are asked in the background while the stats are asked here; drawn in order
    asked_board = ask(f"/{race}/leaderboard", Leaderboard, limit=top, category=category)
    asked_progress = ask(f"/{race}/progress", LeadersProgress, top=5)
    stats = fetch(f"/{race}/stats", LiveStats)
    if stats is None:
        return
    edition_notice(race, stats)
    status = stats.status
    cols = st.columns(6)
    cols[0].metric("running", f"{status.running:,}")
    cols[1].metric("finished", f"{status.finished:,}")
    cols[2].metric("stale / DNF", f"{status.stale:,} / {status.dnf:,}")
    cols[3].metric("pings/s", f"{stats.pings_per_s or 0:,.0f}")
    cols[4].metric("lag p99", f"{stats.lag_p99_s or 0:.2f} s")
    cols[5].metric("rejected", f"{sum(stats.rejected.values()):,}")
    board = answer(asked_board)
    st.subheader("Leaderboard")
    if board:
        with st.container(key="race_board"):
            st.caption(f"as of {client.timestamp(board.clock)} race time · version {board.version} · gap: time "
                       "behind the leader at the same point")
            st.dataframe(table(board.rows), hide_index=True, height=38 + 35 * min(top, 15), width="stretch",
                         column_config=COLUMN_CONFIG)
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Leaders' progress")
        progress = answer(asked_progress)
        chart = progress_chart(progress.series if progress else [])
        if chart is not None:
            with st.container(key="race_progress"):
                vega.altair_chart(chart)
    with right:
        st.subheader("Rejected pings")
        st.caption("By reason: " + (", ".join(f"{k.replace('_', ' ')} **{v:,}**" for k, v in stats.rejected.items())
                                    or "none yet"))


def search(race: str) -> None:
    st.subheader("Find a runner")
    typed = st.text_input("Name or bib", key="race_search", placeholder="e.g. 42 or Ana Muller")
    if not typed.strip():
        return
    found = fetch(f"/{race}/search", SearchHits, q=typed.strip(), limit=10)
    if not found or not found.rows:
        st.info(f"Nobody matches '{typed}'.")
        return
    with st.container(key="race_found"):
        st.dataframe(table(found.rows), hide_index=True, width="stretch", column_config=COLUMN_CONFIG)
    options = [f"{r.bib} · {r.name}" for r in found.rows]
    follow = st.session_state.setdefault("race_follow", [])
    chosen = st.multiselect("Follow", options, key="race_follow_pick")
    for option in chosen:
        bib = option.split(" · ")[0]
        if bib not in follow:
            follow.append(bib)


@st.fragment(run_every=REFRESH_S)
def followed(race: str, course: CourseMap) -> None:
    follow: list[str] = st.session_state.get("race_follow", [])
    if not follow:
        st.caption("Search for runners above and follow them to see their splits and position on the map.")
        return
    asked = [ask(f"/{race}/runners/{bib}", RunnerDetail, track=False) for bib in follow]  # side by side
    runners = [r for r in map(answer, asked) if r]
    at = {f"{r.bib} {r.name}": r.position for r in runners if r.position}
    left, right = st.columns([2, 3])
    with left:
        with st.container(key="race_map"):
            vega.altair_chart(course_chart(course.lat, course.lon, at))
    with right:
        for r in runners:
            st.markdown(f"**{r.bib} · {r.name}** ({r.category}) — rank {r.rank or '—'}, "
                        f"{r.distance_m / 1000:.2f} km, {STATUS_TEXT.get(r.status, r.status)}, "
                        f"pace {pace(r.pace_s_per_km)}, predicted {clock(r.finish_s or r.predicted_finish_s)}, "
                        f"last seen {age(r.last_seen_age_s)}")
        if runners:
            st.caption("Splits: time since the runner's start at each checkpoint")
            with st.container(key="race_splits"):
                st.dataframe(splits_table(runners), hide_index=True, width="stretch")
    if st.button("Stop following everyone", key="race_unfollow"):
        st.session_state["race_follow"] = []
        st.rerun()


def main() -> None:
    race = pick_race()
    if race is None:
        return
    header(race)
    asked_course = ask(f"/{race.name}/course", CourseMap, points=400)  # comes in while the board is drawn
    with st.sidebar:
        top = st.slider("Top N", 5, 50, 10, key="race_top")
        category = st.selectbox("Category", ["(everyone)", *race.categories], key="race_category")
    live(race.name, top, None if category == "(everyone)" else category)
    search(race.name)
    course = answer(asked_course)
    if course:
        followed(race.name, course)


main()
