"""TV show recommendations: pick up to 5 shows you like (live, typo-tolerant search), submit, watch the
prediction being computed, then rate the recommended shows. Everything comes from the API under
``/api/shows``: the answer to a submit is a prediction id, polled until the queue's worker is done. Every answer
is parsed into its model of :mod:`shipml.apps.shows.schemas`. A submitted prediction's views (polled, finished)
are in :mod:`shipml.apps.shows.prediction`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st
from pydantic import ValidationError

from shipml.apps.shows import cards
from shipml.apps.shows.prediction import (
    API,
    ERROR,
    GIVE_UP_SECONDS,
    PENDING,
    RESULT,
    Waiting,
    finish,
    poll,
    results_view,
)
from shipml.apps.shows.schemas import RecommendationAccepted, RecommendationPending, ShowHit, Suggestions
from shipml.apps.shows.titles import normalize
from shipml.core.schemas import AppStatus
from shipml.ui import client

MAX_SHOWS = 5
SUBMIT_WAIT_SECONDS = 2.0  # a prediction usually takes well under this: it then comes with the submit's answer
SLOT_HEIGHT = 176  # px, a picked show's box
# session state, kept across reruns
CHOSEN = "shows_chosen"  # the titles picked, as typed or chosen
NOT_FOUND = "shows_not_found"  # a NotRecognised: the 404's message and, per typed title, the closest shows
QUERY = "shows_query"
REDRAW = "shows_redraw"  # set by a picker callback when the whole page (not just the picker) must be redrawn


@dataclass(frozen=True)
class NotRecognised:
    """A 404 of a submit (no title recognised): its message and, per typed title, the closest shows."""

    message: str
    suggestions: Suggestions


def chosen() -> list[str]:
    return st.session_state.setdefault(CHOSEN, [])


def search(query: str, limit: int = 5) -> list[ShowHit]:
    """``/search`` hits for ``query`` (cached a few seconds); an unreachable API shows as no hits."""
    if not query.strip():
        return []
    try:
        return client.get(f"{API}/search", model=list[ShowHit], q=query.strip()[:200], limit=limit)
    except client.ApiError:
        return []


def shows_status() -> AppStatus:
    """The shows app's data and champion (uncached): its own status, not the whole platform's health (which
    checks every app, the queue and the registry: 50–110 ms on a page's first load after a quiet spell)."""
    return client.get_fresh(f"{API}/status", model=AppStatus)


def data_line() -> None:
    """Where the ratings come from, their version and the served model; synthetic data said loudly."""
    try:
        status = shows_status()
    except client.ApiError as exc:
        st.error(exc.message, icon=":material/cloud_off:")
        st.stop()
    data, model = status.data, status.model
    if data is not None and data.synthetic:
        with st.container(key="shows_synthetic"):
            st.warning(cards.SYNTHETIC_BANNER, icon=":material/science:")
    champion = model.champion if model is not None else None
    if data is not None:
        st.caption(f"Ratings: {cards.source_text(data)} · version **v{data.version}** "
                   f"({data.rows:,} ratings, updated {client.ago(data.created_at)}) · "
                   f"model `{model.name if model is not None else ''}` "
                   f"**v{champion if champion is not None else '—'}** (the registry's champion)")
    else:
        st.caption("No ratings loaded yet: run `shipml ingest shows`.")


def add(title: str) -> None:
    """Add a title to the picked shows (a callback: it also empties the search field)."""
    picked, title = chosen(), " ".join(title.split())
    st.session_state[QUERY] = ""
    if not title:
        return
    if len(picked) >= MAX_SHOWS:
        st.toast(f"You already have {MAX_SHOWS} shows; remove one to add another.", icon=":material/block:")
    elif any(normalize(title) == normalize(p) for p in picked):
        st.toast(f"{title} is already in your list.", icon=":material/info:")
    else:
        picked.append(title)
        forget_not_found()


def remove(index: int) -> None:
    picked = chosen()
    if 0 <= index < len(picked):
        picked.pop(index)
    forget_not_found()


def forget_not_found() -> None:
    """Drop the last "no show recognised" answer: the list it was about has changed."""
    if st.session_state.pop(NOT_FOUND, None) is not None:
        st.session_state[REDRAW] = True


def replace(old: str, new: str) -> None:
    """Swap a picked title for a suggestion (or add the suggestion when the title is gone)."""
    picked = chosen()
    if old in picked:
        picked[picked.index(old)] = new
    elif new not in picked:
        add(new)
    forget_not_found()


def start_over() -> None:
    """Forget the list and every answer about it (a callback inside the picker: the whole page is redrawn, so
    an old "no show recognised" or an old result does not stay on screen)."""
    for key in (CHOSEN, PENDING, RESULT, NOT_FOUND, ERROR, cards.RATED):
        st.session_state.pop(key, None)
    st.session_state[QUERY] = ""
    st.session_state[REDRAW] = True


def suggestions(query: str) -> None:
    """Live search hits under the search field, each a button that adds it; and "add as typed". The API only
    answers titles that contain the query or a near spelling of it (the platform's cutoff), so the highlighted
    first button is never an unrelated show; a title no source knows is marked unverified."""
    hits = search(query)
    with st.container(horizontal=True, key="shows_suggestions", gap="small"):
        for i, hit in enumerate(hits):
            st.button(cards.suggestion_label(hit), key=f"shows_hit_{hit.id}", on_click=add,
                      args=(hit.title,), type="primary" if i == 0 else "secondary", icon=":material/add:",
                      help=cards.suggestion_help(hit))
        typed = query.strip().casefold()
        if not any(typed in (h.title.casefold(), cards.show_label(h).casefold()) for h in hits):
            st.button(f'Add "{query.strip()}" as typed', key="shows_add_typed", on_click=add, args=(query,),
                      type="tertiary", icon=":material/edit:",
                      help="Submitted as you typed it: the recommender forgives typos; a title no source "
                           "knows is left out of the recommendation and said so.")
    if not hits:
        st.caption(f"No close match for “{cards.text(query.strip())}” in the catalog: check the spelling, or add "
                   "it as typed (a title no source knows is left out of the recommendation).")


def picked_slot(index: int, title: str) -> None:
    """One picked show: its initials, the title, what the API will make of it, and a remove button."""
    found = cards.match(title, search(title))
    with st.container(border=True, key=f"shows_chosen_{index}", height=SLOT_HEIGHT):
        with st.container(horizontal=True, vertical_alignment="center", horizontal_alignment="distribute"):
            st.markdown(cards.tile_html(title, found.show), unsafe_allow_html=True, width="content")
            st.button("", key=f"shows_remove_{index}", on_click=remove, args=(index,), type="tertiary",
                      icon=":material/close:", help=f"Remove {title}")
        st.markdown(cards.title_html(title) + cards.match_html(found), unsafe_allow_html=True)
        if found.kind != "exact" and found.others:
            with st.popover("Did you mean…", type="tertiary"):
                for other in found.others[:4]:
                    st.button(cards.show_label(other), key=f"shows_fix_{index}_{other.id}", type="tertiary",
                              on_click=replace, args=(title, other.title))


@st.fragment
def picker() -> None:
    """Search, the picked shows and the Recommend button; typing reruns only this part of the page."""
    if st.session_state.pop(REDRAW, False):
        st.rerun(scope="app")
    picked = chosen()
    with st.container(border=True, key="shows_picker"):
        full = len(picked) >= MAX_SHOWS
        query = st.text_input(
            "Add a show you like", key=QUERY, type="search", live="300ms", disabled=full,
            placeholder=("That's 5 shows: remove one to add another" if full else
                         "Start typing a title…"),
            help="Suggestions appear as you type; typos are fine.")
        if full:
            st.info(f"**{MAX_SHOWS} shows is the most** the recommender takes: remove one (✕) to add another.",
                    icon=":material/block:")
        elif query and query.strip():
            suggestions(query)
        st.markdown(f"**Your shows** ({len(picked)} of {MAX_SHOWS})")
        slots = st.columns(MAX_SHOWS, gap="small")
        for i, slot in enumerate(slots):
            with slot:
                if i < len(picked):
                    picked_slot(i, picked[i])
                else:
                    st.markdown(cards.empty_slot_html(SLOT_HEIGHT, first=i == len(picked)), unsafe_allow_html=True)
        with st.container(horizontal=True, vertical_alignment="center"):
            pressed = st.button("Recommend", key="shows_submit", type="primary", disabled=not picked,
                                icon=":material/auto_awesome:")
            st.button("Start over", key="shows_clear", type="tertiary", on_click=start_over,
                      icon=":material/restart_alt:", disabled=not (picked or RESULT in st.session_state))
            if not picked:
                st.caption("Pick at least one show.")
    if pressed:
        submit(list(picked))
        st.rerun()


def submit(titles: list[str]) -> None:
    """POST the titles, waiting up to :data:`SUBMIT_WAIT_SECONDS` for the prediction: keep it when it came with the
    answer, else the answer (prediction id, user id, recognised titles) to poll it."""
    for key in (NOT_FOUND, ERROR, PENDING, RESULT):
        st.session_state.pop(key, None)
    sent = time.time()
    try:
        with st.spinner("Finding shows you'll like…"):  # drawn only if the answer takes over half a second
            accepted = client.post(f"{API}/recommendations", {"shows": titles}, model=RecommendationAccepted,
                                   wait=SUBMIT_WAIT_SECONDS)
    except client.ApiError as exc:
        if exc.status == 404:
            st.session_state[NOT_FOUND] = NotRecognised(exc.message, not_found_suggestions(exc, titles))
        else:
            st.session_state[ERROR] = exc.message
        return
    waiting = Waiting(accepted, titles, sent=sent, deadline=sent + GIVE_UP_SECONDS)
    answer = accepted.answer.root if accepted.answer is not None else None
    if answer is None or isinstance(answer, RecommendationPending):
        st.session_state[PENDING] = waiting
    else:
        finish(waiting, answer)


def not_found_suggestions(exc: client.ApiError, titles: list[str]) -> Suggestions:
    """The 404's ``details.suggestions`` when the client passes them on, else the same top-3 search hits."""
    if isinstance(exc.details, dict) and "suggestions" in exc.details:
        try:
            return client.parse(Suggestions, exc.details["suggestions"])
        except ValidationError:
            pass
    return {title: search(title, 3) for title in titles}


def not_found_view(problem: NotRecognised) -> None:
    with st.container(key="shows_not_found"):
        message = problem.message
        st.error(f"**{message[:1].upper() + message[1:]}.** Pick one of the closest titles instead, or edit "
                 "your list.", icon=":material/search_off:")
        for n, (title, options) in enumerate(problem.suggestions.items()):
            with st.container(horizontal=True, vertical_alignment="center", gap="small"):
                st.markdown(f"Instead of **{cards.text(title)}**:")
                for option in options:
                    st.button(cards.show_label(option), key=f"shows_instead_{n}_{option.id}",
                              on_click=replace, args=(title, option.title), icon=":material/swap_horiz:")
                if not options:
                    st.caption("no close title")


def main() -> None:
    st.title("TV show recommendations")
    st.caption("Tell us up to five shows you like, and get more like them, each with the reason it is there.")
    data_line()
    picker()
    if NOT_FOUND in st.session_state:
        not_found_view(st.session_state[NOT_FOUND])
    if ERROR in st.session_state:
        st.error(st.session_state[ERROR], icon=":material/error:")
    if PENDING in st.session_state:
        poll(st.session_state[PENDING])
        if PENDING not in st.session_state:  # done or failed: draw the page with the answer
            st.rerun()
        return
    if RESULT in st.session_state:
        results_view(st.session_state[RESULT])
    elif NOT_FOUND not in st.session_state and ERROR not in st.session_state:
        st.info("Add the shows you like above and press **Recommend**. The recommender learns from "
                "what people who liked the same shows also liked.", icon=":material/touch_app:")


main()
