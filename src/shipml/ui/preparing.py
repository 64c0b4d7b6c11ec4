"""While an app's first run is under way (``shipml up`` prepares each app in the background), its page shows what
is being done and how far it is, and draws itself once the app is ready: the rest of the product answers meanwhile."""

from __future__ import annotations

import time

import streamlit as st

from shipml.core.schemas import AppStatus
from shipml.ui import client

POLL_SECONDS = 2.0
_ready: set[tuple[str, str]] = set()  # (API URL, app) seen ready by any session of this UI process


def ready(status: AppStatus) -> bool:
    """Whether the page can be drawn: no first run under way, or the data and the champion it needs are there."""
    if status.preparing is None:
        return True
    has_model = status.model is not None
    return status.data is not None and (not has_model or (status.model is not None and
                                                          status.model.champion is not None))


def wait_until_ready(app: str, title: str) -> None:
    """Show the first run's progress and stop drawing the page until the app is ready (rerun every few seconds).
    Once ready, an app stays so: once any visitor's page has seen it ready, no page of this UI process asks again (not
    on a rerun, a slider move, nor on a new visitor's first load, which it would otherwise hold up by a status request
    that reads the registry)."""
    seen = (client.api_url(), app)
    if seen in _ready:
        return
    try:
        status = client.get_fresh(f"/api/{app}/status", model=AppStatus)
    except client.ApiError:
        return  # the page itself says what is wrong with the API
    if ready(status):
        _ready.add(seen)
        return
    preparing = status.preparing
    assert preparing is not None
    st.title(title)
    st.info(f"**Preparing {title}**: its data and a first model are being made ready. This page draws itself "
            "as soon as they are; the other pages work meanwhile.", icon=":material/hourglass_top:")
    st.progress(min(max(preparing.progress, 0.0), 1.0), text=preparing.message or "starting")
    time.sleep(POLL_SECONDS)
    st.rerun()
