"""``shipml.ui.vega``: the pages draw Altair charts without Altair's schema validation on every run, so the charts'
specs are validated here, and each must be the spec ``st.altair_chart`` would have sent (its tables included)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import altair as alt
import pandas as pd
import pyarrow as pa
import pytest
from streamlit import dataframe_util
from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec
from streamlit.testing.v1 import AppTest

from shipml.apps.covid import charts as covid
from shipml.apps.covid.schemas import ForecastPoint, Metric, MetricValue, Series
from shipml.apps.cycling import charts as cycling
from shipml.apps.cycling.schemas import MapPoint, Neighbour, SimilarRace, SimilarTeam
from shipml.apps.parking import charts as parking
from shipml.apps.parking.schemas import Hour, Interval
from shipml.apps.race import charts as race
from shipml.apps.race.schemas import LeaderSeries, Position, ProgressPoint
from shipml.ui import vega


def _metric(i: int, value: float | None) -> MetricValue:
    return MetricValue(id=f"district_{i}", name_ru=f"район {i}", label=f"Cases in District {i}", unit="cases",
                       group="districts", value=value)


def _series(days: int = 40) -> Series:
    start = date(2021, 3, 1)
    metrics = [Metric(id="cases", name_ru="случаи", label="New cases", unit="cases", group="cases"),
               Metric(id="deaths", name_ru="смерти", label="Deaths", unit="people", group="deaths")]
    return Series(version=1, synthetic=False, dates=[start + timedelta(days=d) for d in range(days)],
                  metrics=metrics, values={"cases": [float(d * 3) if d % 7 else None for d in range(days)],
                                           "deaths": [float(d % 4) for d in range(days)]},
                  covers={"from": start, "to": start + timedelta(days=days - 1)}, note=None)


def _riders() -> tuple[list[MapPoint], list[Neighbour]]:
    points = [MapPoint(rider=f"rider-{i}", name=f"Rider {i}", nationality="si" if i % 2 else None, age=20 + i,
                       team=None if i % 3 else "Team", results=i * 5, low_confidence=i < 2, x=i * 0.1, y=-i * 0.2)
              for i in range(12)]
    neighbours = [Neighbour(**p.model_dump(exclude={"x", "y"}), similarity=0.9 - i / 10)
                  for i, p in enumerate(points[1:5])]
    return points, neighbours


def _hours() -> list[Hour]:
    """A day with free parking at night (no number) and forecasts in the regulated hours."""
    return [Hour(hour=h, at=f"2024-03-04T{h:02d}:00:00", regulated=9 <= h < 21,
                 free_fraction=0.2 + h / 100 if 9 <= h < 21 else None, free_spaces=None,
                 interval=Interval(level=80, free_fraction=(0.1, 0.5), free_spaces=(10, 50)) if 9 <= h < 21 else None)
            for h in range(24)]


def _leaders() -> list[LeaderSeries]:
    return [LeaderSeries(bib=str(b), name=f"Runner {b}",
                         points=[ProgressPoint(t=f"2024-03-04T09:{m:02d}:00", distance_m=b * 10 + m * 300.0)
                                 for m in range(5)]) for b in (7, 12)]


def charts() -> dict[str, Any]:
    series = _series()
    points, neighbours = _riders()
    table = covid.series_table(series)
    forecast = [ForecastPoint(date=date(2021, 4, 10) + timedelta(days=d), cases=10.0 + d) for d in range(7)]
    return {
        "covid series": covid.series_chart(table),
        "covid series, log scale": covid.series_chart(table, log_scale=True),
        "covid forecast": covid.forecast_chart(_series(56), forecast, model_version=3),
        "covid districts": covid.bar_chart([_metric(i, i * 10.0) for i in range(1, 8)], "new cases",
                                           strip="Cases in "),
        "covid ages, in order": covid.bar_chart([_metric(i, 5.0) for i in range(4)], "cases", keep_order=True),
        "cycling map": cycling.map_chart(cycling.map_frame(points, "rider-0", neighbours)),
        "cycling class mix": cycling.class_mix_chart({"UWT": 0.5, "Pro": 0.3, ".1": 0.2}),
        "cycling races": cycling.similarity_bars([SimilarRace(race="tour-de-france", similarity=0.8),
                                                  SimilarRace(race="giro-d-italia", similarity=0.6)],
                                                 "race", cycling.race_label),
        "cycling teams": cycling.similarity_bars([SimilarTeam(team="A", similarity=0.7)], "team"),
        "parking day": parking.day_chart(_hours()),
        "race progress": race.progress_chart(_leaders()),
        "race course": race.course_chart([40.41, 40.42, 40.43], [-3.70, -3.69, -3.71],
                                         {"7 Runner 7": Position(lat=40.42, lon=-3.69, course_lat=40.42,
                                                                 course_lon=-3.69, at=None)}),
    }


def test_the_charts_are_built_from_typed_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare string (``x="a:Q"``), ``alt.value`` or ``alt.condition`` in ``encode`` makes Altair rebuild the channel
    from a dict, hashing some 570 schemas each time: 4 ms on a quiet machine, 12–36 ms in a profiled page run
    (``benchmarks/page_load/profile_ui.py``), on every run of the page. The charts spell out their channels."""
    rebuilt: list[str] = []
    from_dict = alt.utils.schemapi.SchemaBase.from_dict.__func__  # type: ignore[attr-defined]

    def counted(cls: type, *args: Any, **kwargs: Any) -> Any:
        rebuilt.append(cls.__name__)
        return from_dict(cls, *args, **kwargs)

    monkeypatch.setattr(alt.utils.schemapi.SchemaBase, "from_dict", classmethod(counted))
    alt.Chart(pd.DataFrame({"a": [1]})).mark_point().encode(x="a:Q")  # the check sees the slow path
    assert rebuilt
    rebuilt.clear()
    assert list(charts()) and rebuilt == []


def test_no_progress_chart_before_a_leader_has_a_point() -> None:
    assert race.progress_chart([]) is None
    assert race.progress_chart([LeaderSeries(bib="7", name="Runner 7", points=[])]) is None


def _tables_by_content(spec: dict[str, Any]) -> tuple[str, list[Any]]:
    """The spec with its datasets' names replaced by their order of use, and the datasets' rows in that order (as
    Streamlit sends them: Arrow)."""
    text = json.dumps({k: v for k, v in spec.items() if k != "datasets"}, sort_keys=True)
    names = sorted(spec["datasets"], key=lambda n: text.index(json.dumps(n)) if json.dumps(n) in text else 1 << 30)
    rows = []
    for i, name in enumerate(names):
        text = text.replace(json.dumps(name), json.dumps(f"table {i}"))
        data = spec["datasets"][name]
        arrow = data if isinstance(data, bytes) else dataframe_util.convert_anything_to_arrow_bytes(data)
        rows.append(pa.ipc.open_stream(arrow).read_all().to_pylist())  # what the browser gets
    return text, rows


@pytest.mark.parametrize("name", list(charts()))
def test_every_chart_is_valid_vega_lite(name: str) -> None:
    vega.spec(charts()[name], validate=True)  # raises on a spec Vega-Lite's schema refuses


@pytest.mark.parametrize("name", list(charts()))
def test_the_spec_is_what_st_altair_chart_would_send(name: str) -> None:
    chart = charts()[name]
    ours, theirs = vega.spec(chart), _convert_altair_to_vega_lite_spec(chart)
    ours_text, ours_rows = _tables_by_content(ours)
    theirs_text, theirs_rows = _tables_by_content(theirs)
    assert ours_text == theirs_text
    assert ours_rows == theirs_rows
    assert ours_rows and all(ours_rows), "every chart draws some rows"


def test_a_table_used_twice_is_sent_once_and_the_globals_are_restored() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    chart = alt.hconcat(alt.Chart(frame).mark_bar().encode(x="a:Q"), alt.Chart(frame).mark_point().encode(x="b:Q"))
    before = (alt.data_transformers.active, alt.theme.active)
    spec = vega.spec(chart)
    assert len(spec["datasets"]) == 1
    assert (alt.data_transformers.active, alt.theme.active) == before


def test_a_page_draws_the_chart_with_its_key_and_selection() -> None:
    def page() -> None:
        import altair as alt
        import pandas as pd
        import streamlit as st

        from shipml.ui import vega

        frame = pd.DataFrame({"x": [1, 2, 3], "y": [2, 1, 3], "id": ["a", "b", "c"]})
        chart = alt.Chart(frame).mark_point().encode(x="x:Q", y="y:Q").add_params(
            alt.selection_point(name="pick", fields=["id"]))
        state = vega.altair_chart(chart, key="the_chart", on_select="rerun", selection_mode="pick")
        st.write(sorted(state["selection"]))

    at = AppTest.from_function(page).run()
    assert not at.exception
    drawn = at.main.children[0].proto
    assert drawn.id.endswith("-the_chart") and list(drawn.selection_mode) == ["pick"]
    assert [d.name for d in drawn.datasets] == ["shipml_data_0"] and "shipml_data_0" in drawn.spec
    assert at.json[0].value == '["pick"]'  # the selection state came back, as from st.altair_chart
