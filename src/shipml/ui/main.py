"""Streamlit entry (``streamlit run src/shipml/ui/main.py``): a Home page plus one page per installed app.

Each app's page is the script its declaration names (``page``). Every page talks to the API only
(:mod:`shipml.ui.client`); the UI never opens the database.
"""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import Page

from shipml.apps import installed
from shipml.ui import home as home_page
from shipml.ui import preparing
from shipml.ui.client import api_url

st.set_page_config(layout="wide", page_title="shipml", page_icon=":material/rocket_launch:")

apps = {app.name: app for app in installed()}
app_pages: dict[str, Page] = {
    app.name: st.Page(str(app.page), title=app.title, icon=app.icon, url_path=app.name)
    for app in installed() if app.page is not None and app.page.exists()
}


def home() -> None:
    home_page.render(app_pages)


navigation = st.navigation({
    "": [st.Page(home, title="Home", icon=":material/home:", url_path="home", default=True)],
    "Apps": list(app_pages.values()),
})
with st.sidebar:
    st.caption(f"API: [{api_url()}]({api_url()}/docs)")
if navigation.url_path in apps:  # an app's page waits (showing progress) while its first run is under way
    preparing.wait_until_ready(navigation.url_path, apps[navigation.url_path].title)
navigation.run()
