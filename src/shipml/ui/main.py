"""Streamlit entry (``streamlit run src/shipml/ui/main.py``): a Home page plus one page per installed app.

Each app's page is its own script, ``src/shipml/apps/<app>/page.py``. Every page talks to the API only
(:mod:`shipml.ui.client`); the UI never opens the database.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.navigation.page import Page

from shipml.apps import INSTALLED
from shipml.ui import home as home_page
from shipml.ui.client import api_url

APPS_DIR = Path(__file__).resolve().parent.parent / "apps"
# app → (page title, Material icon). An app missing here still gets a page, with a generic icon.
APP_PAGES: dict[str, tuple[str, str]] = {
    "covid": ("Covid dashboard", ":material/coronavirus:"),
    "cycling": ("Cycling: similar riders", ":material/directions_bike:"),
    "shows": ("TV show recommendations", ":material/live_tv:"),
    "race": ("Race leaderboard", ":material/sprint:"),
    "parking": ("Parking forecast", ":material/local_parking:"),
}

st.set_page_config(layout="wide", page_title="shipml", page_icon=":material/rocket_launch:")

app_pages: dict[str, Page] = {}
for app in INSTALLED:
    script = APPS_DIR / app / "page.py"
    if not script.exists():
        continue
    title, icon = APP_PAGES.get(app, (app.capitalize(), ":material/apps:"))
    app_pages[app] = st.Page(str(script), title=title, icon=icon, url_path=app)


def home() -> None:
    home_page.render(app_pages)


navigation = st.navigation({
    "": [st.Page(home, title="Home", icon=":material/home:", url_path="home", default=True)],
    "Apps": list(app_pages.values()),
})
with st.sidebar:
    st.caption(f"API: [{api_url()}]({api_url()}/docs)")
navigation.run()
