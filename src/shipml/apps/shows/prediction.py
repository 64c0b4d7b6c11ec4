"""A submitted shows prediction, from its 202 to the recommendations: polled while the worker computes it (with its
clock, and an offer to keep waiting past :data:`GIVE_UP_SECONDS`), kept once finished, and drawn. The page's
picker and its submit live in :mod:`shipml.apps.shows.page`; the session keys they share are here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from shipml.apps.shows import cards
from shipml.apps.shows.schemas import (
    RecommendationAccepted,
    RecommendationAnswer,
    RecommendationDone,
    RecommendationFailed,
)
from shipml.ui import client

API = "/api/shows"
POLL_SECONDS, GIVE_UP_SECONDS = 0.3, 60.0
# session state, kept across reruns
PENDING = "shows_pending"  # a Waiting: the submit answer + when it was sent, while the prediction is being computed
RESULT = "shows_result"  # a Finished: the submit answer + the finished prediction
ERROR = "shows_error"


@dataclass
class Waiting:
    """A submitted request while its prediction is computed: the 202 answer, the titles sent, when, and until when
    to wait."""

    accepted: RecommendationAccepted
    titles: list[str]
    sent: float
    deadline: float


@dataclass(frozen=True)
class Finished:
    """A submitted request and its finished prediction, and how long it took."""

    accepted: RecommendationAccepted
    done: RecommendationDone
    titles: list[str]
    took: float


def poll(pending: Waiting) -> None:
    """Ask for the prediction every :data:`POLL_SECONDS` until it is done, failed or too late."""
    pid = pending.accepted.prediction_id
    with st.status(f"Finding shows you'll like… (prediction {pid[:8]})", expanded=True) as status:
        cards.recognised_view(pending.accepted)
        clock = st.empty()
        while (now := time.time()) < pending.deadline:
            clock.caption(f"Waiting for the recommender: {now - pending.sent:.1f} s")
            try:
                answer = client.get_fresh(f"{API}/recommendations/{pid}", model=RecommendationAnswer).root
            except client.ApiError as exc:
                st.session_state.pop(PENDING, None)
                st.session_state[ERROR] = exc.message
                status.update(label="The prediction could not be read", state="error")
                return
            if isinstance(answer, RecommendationDone | RecommendationFailed):
                result = finish(pending, answer)
                if result is None:
                    status.update(label="The prediction failed", state="error")
                else:
                    status.update(label=cards.done_label(result.done, result.took), state="complete", expanded=False)
                return
            time.sleep(POLL_SECONDS)
        status.update(label=f"Still not ready after {GIVE_UP_SECONDS:.0f} s", state="error")
    st.error(f"The recommendations are not ready after {GIVE_UP_SECONDS:.0f} seconds: the job worker may be "
             "stopped or busy. Your request is kept; you can wait a little longer.", icon=":material/timer_off:")
    if st.button("Keep waiting", key="shows_keep_waiting", icon=":material/hourglass_top:"):
        pending.deadline = time.time() + GIVE_UP_SECONDS
        st.rerun()


def finish(pending: Waiting, answer: RecommendationDone | RecommendationFailed) -> Finished | None:
    """Keep a finished prediction: the result to show (returned), or the failure to say."""
    st.session_state.pop(PENDING, None)
    if isinstance(answer, RecommendationFailed):
        st.session_state[ERROR] = f"The recommender failed: {answer.error or 'no reason given'}"
        return None
    accepted = pending.accepted.model_copy(update={"answer": None})  # the answer is kept once, as ``done``
    result = st.session_state[RESULT] = Finished(accepted, answer, pending.titles,
                                                 took=time.time() - pending.sent)
    st.session_state[cards.RATED] = {}
    return result


def results_view(result: Finished) -> None:
    done = result.done
    with st.status(cards.done_label(done, result.took), state="complete", expanded=False):
        st.caption(f"Prediction {done.prediction_id} for {', '.join(result.titles)}")
    cards.recognised_view(result.accepted)
    if done.message:
        message = done.message
        with st.container(key="shows_message"):
            st.info(cards.text(message[:1].upper() + message[1:]) + ".", icon=":material/info:")
    shows = done.shows
    if not shows:
        st.warning("The recommender found no show to suggest.", icon=":material/info:")
        return
    st.subheader("Recommended for you")
    st.caption("Best first (the score only orders them). :material/thumb_up: or :material/thumb_down: a show to "
               "teach the recommender: your ratings count from the next retraining.")
    cards.grid(shows, result.accepted.user_id, f"{API}/ratings")
