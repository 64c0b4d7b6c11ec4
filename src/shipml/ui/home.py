"""Home page: every app's data freshness and champion model, the platform's components, recent jobs."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st
from streamlit.navigation.page import Page

from shipml.core.schemas import Activity, AppStatus, ComponentHealth, HealthAnswer, JobRecord, RefreshRecord
from shipml.ui import client

COMPONENTS = {"database": ("Database", ":material/database:"), "queue": ("Job queue", ":material/queue:"),
              "registry": ("Model registry", ":material/model_training:")}
JOB_STATUS_CSS = {"done": "color: #1a7f37", "failed": "color: #cf222e", "running": "color: #0969da",
                  "queued": "color: #6e7781"}
REFRESH_STATUS = {"stored": ":green-badge[stored]", "unchanged": ":green-badge[unchanged]",
                  "rejected": ":red-badge[rejected]", "failed": ":red-badge[failed]",
                  "offline": ":orange-badge[offline]"}


def render(app_pages: Mapping[str, Page]) -> None:
    """Draw the Home page; ``app_pages`` maps app name → its page (for the "open" links)."""
    top = st.columns([5, 1], vertical_alignment="bottom")
    top[0].title("shipml")
    top[0].caption("Machine-learning apps that refresh themselves: "
                   "data freshness, models and jobs at a glance.")
    if top[1].button("Reload", icon=":material/refresh:", key="home_reload", width="stretch"):
        client.clear_cache()
    try:
        health = client.parse(HealthAnswer, client.health())
    except client.ApiError as exc:
        st.error(exc.message, icon=":material/cloud_off:")
        st.stop()

    jobs = _jobs()  # the latest 200 jobs: for the status line, and the table below when it is not filtered
    failed = _latest_failed(jobs) if isinstance(jobs, list) else []
    if health.status != "ok":
        st.warning("The platform is degraded: see the red items below.", icon=":material/warning:")
    elif failed:
        st.warning("The platform is up, but the latest run of " + ", ".join(f"**{name}**" for name in failed)
                   + " failed: see Recent jobs below.", icon=":material/warning:")
    else:
        st.success("All systems operational", icon=":material/check_circle:")

    st.subheader("Apps")
    for name, status in health.apps.items():
        _app_card(name, status, app_pages.get(name))

    st.subheader("Platform")
    columns = st.columns(len(COMPONENTS))
    for column, (key, (label, icon)) in zip(columns, COMPONENTS.items(), strict=True):
        with column.container(border=True):
            _component(label, icon, health.components.get(key) or ComponentHealth(ok=False, error="no answer"))

    st.subheader("Recent jobs")
    _recent_jobs(list(app_pages), jobs)


def _app_card(name: str, health: ComponentHealth, page: Page | None) -> None:
    with st.container(border=True, key=f"app_{name}"):
        head = st.columns([4, 1], vertical_alignment="center")
        head[0].markdown(f"### {page.title if page else name.capitalize()}")
        if page is not None:
            head[1].page_link(page, label="Open", icon=":material/arrow_forward:")
        if not health.ok:
            st.error(f"{name}: {health.error or 'status unavailable'}", icon=":material/error:")
            return
        status = client.parse(AppStatus, health.model_extra or {})
        data, model = status.data, status.model
        if status.preparing is not None:
            st.progress(min(max(status.preparing.progress, 0.0), 1.0),
                        text=f"Preparing: {status.preparing.message or 'starting'}")
        if data and data.synthetic:
            st.badge("SYNTHETIC data (offline demo)", icon=":material/science:", color="orange",
                     help="The real source could not be fetched, so a generated dataset with the same "
                          "schema is served. Numbers are not real.")
        if status.activity is not None and data is None and model is None:
            _activity(status.activity)
            return
        cols = st.columns(4)
        if data:
            cols[0].metric("Data updated", client.ago(data.created_at, short=True),
                           help=f"Stored {client.timestamp(data.created_at)}")
            cols[1].metric("Data version", f"v{data.version}", help=f"content hash {data.content_hash[:12]}")
            cols[2].metric("Rows", f"{data.rows:,}")
        else:
            cols[0].metric("Data updated", "no data yet")
        champion = model.champion if model else None
        cols[3].metric("Champion model", f"v{champion}" if champion is not None else "none",
                       help=f"{model.name if model else ''} @champion in the model registry")
        if data:
            st.caption(f"Source: {_source_text(data.source, data.synthetic)}")
            _last_refresh(data.last_refresh, data.version, status.next_refresh_at)


def _activity(activity: Activity) -> None:
    """An app without a dataset or champion (e.g. a live race): what it is doing, its figures."""
    if activity.simulated:
        st.badge("SIMULATED (demo)", icon=":material/science:", color="orange",
                 help="Generated, not real people or measurements, sent through the real ingest.")
    st.markdown(activity.headline)
    figures = list(activity.figures.items())[:4]
    for column, (label, value) in zip(st.columns(4), figures, strict=False):
        column.metric(label.capitalize(), value)


def _source_text(source: str | None, synthetic: bool) -> str:
    if synthetic:
        return "generated offline (synthetic)"
    source = source or "unknown"
    return f"[{source}]({source})" if source.startswith(("http://", "https://")) else f"`{source}`"


def _last_refresh(refresh: RefreshRecord | None, version: int, next_at: str | None) -> None:
    if not refresh:
        return
    text = f"Last refresh {client.ago(refresh.at)}: {REFRESH_STATUS.get(refresh.status, refresh.status)}"
    if refresh.status == "offline":
        st.caption(f"{text} — the source cannot be reached ({refresh.reason or 'no answer'}); serving the last good "
                   f"data (v{version})" + (f"; next try {client.timestamp(next_at)}" if next_at else "") + ".")
        return
    if refresh.status in ("stored", "unchanged"):
        st.caption(text + (f" (v{refresh.version})" if refresh.version else ""))
    else:
        st.warning(f"{text} — {refresh.reason or 'no reason given'}. "
                   "The last good data keeps being served.", icon=":material/report:")


def _component(label: str, icon: str, component: ComponentHealth) -> None:
    st.markdown(f"{icon} **{label}** &nbsp; " + (":green-badge[ok]" if component.ok else ":red-badge[down]"))
    if not component.ok:
        st.caption(component.error or "no answer")
        return
    details = component.model_extra or {}
    st.caption(" · ".join(f"{k.replace('_', ' ')}: {v}" for k, v in details.items()) or "—")


JOB_STATUSES = ("queued", "running", "done", "failed")


def _jobs(**filters: str) -> list[JobRecord] | str:
    """The latest 200 jobs (newest first) matching ``filters``, or the API's error message."""
    try:
        return client.get_fresh("/api/jobs", model=list[JobRecord], limit=200, **filters)
    except client.ApiError as exc:
        return exc.message


def _recent_jobs(apps: list[str], unfiltered: list[JobRecord] | str) -> None:
    """The latest job of each kind (so a failed refresh stays in sight however many predictions follow), with
    filters by app and status, and every recent job below. ``unfiltered``: the jobs already asked for the status
    line (not asked again when no filter is set)."""
    left, right, _ = st.columns([1, 1, 3])
    app = left.selectbox("App", ["all", *apps], key="jobs_app")
    status = right.selectbox("Status", ["all", *JOB_STATUSES], key="jobs_status")
    filters = {k: v for k, v in (("app", app), ("status", status)) if v != "all"}
    jobs = _jobs(**filters) if filters else unfiltered
    if isinstance(jobs, str):
        st.error(jobs)
        return
    if not jobs:
        st.info("No jobs match. Scheduled refreshes and retraining show up here.", icon=":material/info:")
        return
    latest: dict[str, JobRecord] = {}
    for j in jobs:  # newest first
        latest.setdefault(f"{j.app}.{j.name}", j)
    with st.container(key="recent_jobs"):
        st.caption("The latest job of each kind")
        _jobs_table(list(latest.values()))
    every = st.expander(f"All recent jobs ({len(jobs)})", key="home_all_jobs", on_change="rerun")
    with every:
        if every.open:  # drawn once opened, not on every visit
            _jobs_table(jobs[:50])


def _latest_failed(jobs: list[JobRecord]) -> list[str]:
    """The kinds of job (``covid.ingest``) whose latest run failed, among ``jobs`` (newest first)."""
    latest: dict[str, JobRecord] = {}
    for j in jobs:  # newest first
        latest.setdefault(f"{j.app}.{j.name}", j)
    return [name for name, j in latest.items() if j.status == "failed"]


def _jobs_table(jobs: list[JobRecord]) -> None:
    table = pd.DataFrame([{
        "job": f"{j.app}.{j.name}",
        "status": j.status,
        "progress": j.progress,
        "created": client.ago(j.created_at),
        "took": _duration(j.started_at, j.finished_at),
        "message / error": j.error or j.message or "",
        "id": j.id[:8],
    } for j in jobs])
    styled = table.style.map(lambda s: JOB_STATUS_CSS.get(s, ""), subset=["status"])
    st.dataframe(styled, hide_index=True, column_config={
        "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
        "message / error": st.column_config.TextColumn(width="large"),
    })


def _duration(started: str | None, finished: str | None) -> str:
    if not started or not finished:
        return ""
    seconds = (pd.Timestamp(finished) - pd.Timestamp(started)).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
