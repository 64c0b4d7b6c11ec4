"""Altair charts drawn without Altair's JSON-schema validation of every spec (issue 20: page loads).

``st.altair_chart`` turns a chart into its Vega-Lite spec with ``chart.to_dict()``, which validates the whole spec
against Vega-Lite's JSON schema (``jsonschema``, pure Python) on every script run: on the covid and cycling pages that
was the largest share of the page's own Python time (measured in ``benchmarks/page_load/profile_ui.py``). Our charts
are built by tested code (``apps/*/charts.py``), so validating them again on every run checks nothing new.
:func:`altair_chart` makes the same spec without that check and draws it with ``st.vega_lite_chart``: the charts'
tables go to the browser as named Arrow datasets, as ``st.altair_chart`` sends them.

The tests of the charts keep validating: ``spec(chart, validate=True)``.
"""

from __future__ import annotations

from threading import Lock
from typing import Any

import altair as alt
import streamlit as st

_TRANSFORMER = "shipml_named_frames"
_lock = Lock()


def _name_frames(data: Any, datasets: dict[str, Any]) -> dict[str, str]:
    """Altair data transformer: each table as a named dataset (the same table object keeps one name)."""
    for name, frame in datasets.items():
        if frame is data:
            return {"name": name}
    name = f"shipml_data_{len(datasets)}"
    datasets[name] = data
    return {"name": name}


alt.data_transformers.register(_TRANSFORMER, _name_frames)


def _globals_lock() -> Any:
    """Altair's active theme and data transformer are process-wide while Streamlit runs sessions in threads:
    take the lock Streamlit takes around its own conversion of Altair charts when it has one."""
    try:
        from streamlit.elements import vega_charts

        return getattr(vega_charts, "_altair_globals_lock", _lock)
    except ImportError:  # pragma: no cover - a Streamlit without that module
        return _lock


def spec(chart: Any, *, validate: bool = False) -> dict[str, Any]:
    """The Vega-Lite spec of an Altair chart, its tables under ``datasets`` (as they are: Streamlit converts them
    to Arrow), without Altair's default theme (Streamlit's own theme applies, as with ``st.altair_chart``)."""
    datasets: dict[str, Any] = {}
    with _globals_lock():
        theme = alt.theme.enable("none")
        transformer = alt.data_transformers.enable(_TRANSFORMER, datasets=datasets)
        with theme, transformer:
            out: dict[str, Any] = chart.to_dict(validate=validate)
    out["datasets"] = {**out.get("datasets", {}), **datasets}
    return out


def altair_chart(chart: Any, **kwargs: Any) -> Any:
    """``st.altair_chart(chart, **kwargs)`` without the JSON-schema validation (same arguments: ``key``, ``width``,
    ``alt``, ``on_select`` …)."""
    return st.vega_lite_chart(spec=spec(chart), **kwargs)
