"""Pure helpers of the cycling page: API answers (the models of :mod:`shipml.apps.cycling.schemas`) → labels,
tables and Altair charts.

Nothing here talks to the API or to Streamlit; :mod:`shipml.apps.cycling.page` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

from shipml.apps.cycling.schemas import MapPoint, Neighbour, Rider, SimilarRace, SimilarTeam

# ISO 3166 alpha-2 → English name, for the nations that race in the pro peloton; others show their code.
COUNTRIES = {
    "AD": "Andorra", "AR": "Argentina", "AT": "Austria", "AU": "Australia", "BE": "Belgium", "BG": "Bulgaria",
    "BR": "Brazil", "BY": "Belarus", "CA": "Canada", "CH": "Switzerland", "CL": "Chile", "CN": "China",
    "CO": "Colombia", "CR": "Costa Rica", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark", "EC": "Ecuador",
    "EE": "Estonia", "ER": "Eritrea", "ES": "Spain", "ET": "Ethiopia", "FI": "Finland", "FR": "France",
    "GB": "Great Britain", "GR": "Greece", "HR": "Croatia", "HU": "Hungary", "IE": "Ireland", "IL": "Israel",
    "IT": "Italy", "JP": "Japan", "KZ": "Kazakhstan", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia",
    "MX": "Mexico", "NL": "Netherlands", "NO": "Norway", "NZ": "New Zealand", "PL": "Poland", "PT": "Portugal",
    "RO": "Romania", "RS": "Serbia", "RU": "Russia", "RW": "Rwanda", "SE": "Sweden", "SI": "Slovenia",
    "SK": "Slovakia", "UA": "Ukraine", "US": "United States", "UY": "Uruguay", "VE": "Venezuela",
    "ZA": "South Africa",
}
# Race classes as the model groups them, biggest first, with a colour each (World Tour darkest).
CLASS_LABELS = {"UWT": "World Tour", "Pro": "ProSeries", ".1": "class .1", ".2": "class .2", "other": "other"}
CLASS_COLOURS = ("#1f4e79", "#4a90c2", "#f2a541", "#e4572e", "#b0b0b0")
OTHER_COLOUR, NEIGHBOUR_COLOUR, CHOSEN_COLOUR = "#c9ced6", "#ff7f0e", "#d62728"
MAP_PICK = "pick"  # the map's click selection (a rider slug)


def country(code: str | None) -> str:
    """``"FR"`` → ``"France (FR)"``; an unknown code stays as it is; None → ``"unknown"``."""
    if not code:
        return "unknown"
    name = COUNTRIES.get(code.upper())
    return f"{name} ({code.upper()})" if name else code.upper()


def rider_label(rider: Rider | Mapping[str, Any]) -> str:
    """A rider (or a rider as the API's JSON) as the picker shows them: ``"Tadej Pogačar (SI, 27)"``."""
    r = rider if isinstance(rider, Rider) else Rider.model_validate(rider)
    details = [r.nationality or "?", str(r.age) if r.age is not None else "age ?"]
    return f"{r.name} ({', '.join(details)})"


def race_label(slug: str) -> str:
    """``"tour-de-france"`` → ``"Tour De France"`` (slugs lose their accents; this is only for reading)."""
    return slug.replace("-", " ").strip().title() or slug


def confidence_css(value: object) -> str:
    """CSS for a confidence cell: a low-confidence neighbour stands out in orange."""
    return "color: #bc4c00; font-weight: 600" if value == "low" else "color: #57606a"


def class_mix(mix: Mapping[str, float]) -> str:
    """``{"UWT": 0.53, "Pro": 0.31, ".1": 0.16}`` → ``"53% World Tour · 31% ProSeries · 16% class .1"``."""
    parts = [f"{share:.0%} {CLASS_LABELS.get(group, group)}" for group, share in mix.items() if share >= 0.005]
    return " · ".join(parts) or "no finished results"


def neighbours_table(neighbours: Sequence[Neighbour]) -> pd.DataFrame:
    """``/similar`` neighbours as the results table: most similar first, similarity in percent."""
    return pd.DataFrame([{
        "#": rank,
        "name": n.name,
        "nationality": (n.nationality or "?").upper(),
        "age": n.age,
        "team": n.team or "",
        "results": n.results,
        "similarity": round(100 * n.similarity, 1),
        "confidence": "low" if n.low_confidence else "ok",
    } for rank, n in enumerate(neighbours, start=1)], columns=["#", "name", "nationality", "age", "team",
                                                                "results", "similarity", "confidence"]
    ).astype({"age": "Int64", "results": "Int64"})


def map_frame(points: Iterable[MapPoint], chosen: str | None, neighbours: Sequence[Neighbour]) -> pd.DataFrame:
    """``/map`` points with a ``group`` (other / similar / chosen) and the neighbour's similarity and rank.

    Ordered so the grey crowd is drawn first, the similar riders over it and the chosen rider on top."""
    rank = {n.rider: (i, n.similarity) for i, n in enumerate(neighbours, start=1)}
    rows = []
    for p in points:
        group = "chosen rider" if p.rider == chosen else "similar" if p.rider in rank else "other riders"
        position, similarity = rank.get(p.rider, (None, None))
        rows.append({"rider": p.rider, "name": p.name, "nationality": country(p.nationality),
                     "age": p.age, "team": p.team or "", "results": p.results,
                     "confidence": "low" if p.low_confidence else "ok", "x": p.x,
                     "y": p.y, "group": group, "rank": position, "similarity": similarity,
                     "similarity_text": f"{similarity:.0%} (#{position})" if similarity is not None else "—"})
    frame = pd.DataFrame(rows, columns=["rider", "name", "nationality", "age", "team", "results", "confidence",
                                        "x", "y", "group", "rank", "similarity", "similarity_text"])
    layer = frame["group"].map({"other riders": 0, "similar": 1, "chosen rider": 2})
    return frame.assign(layer=layer).sort_values(["layer", "similarity"], na_position="first")


def map_chart(frame: pd.DataFrame, labels: int = 5, height: int = 460) -> alt.LayerChart:
    """Every rider as a dot in the 2-D projection: grey, the similar riders in orange, the chosen rider as a
    large red diamond; names next to the chosen rider and the ``labels`` most similar.

    Clicking a dot selects its ``rider`` in the point selection :data:`MAP_PICK`."""
    groups = ["chosen rider", "similar", "other riders"]
    base = alt.Chart().encode(  # the table on the layer: Altair hashes each part's table (its repr) when layering
        x=alt.X("x:Q", title=None, axis=alt.Axis(labels=False, ticks=False, grid=False, domain=False)),
        y=alt.Y("y:Q", title=None, axis=alt.Axis(labels=False, ticks=False, grid=False, domain=False)),
    )
    tooltip = [alt.Tooltip("name:N", title="rider"), alt.Tooltip("nationality:N"), alt.Tooltip("age:Q"),
               alt.Tooltip("team:N"), alt.Tooltip("results:Q", title="results"),
               alt.Tooltip("similarity_text:N", title="similarity"), alt.Tooltip("confidence:N")]
    dots = base.mark_point(filled=True, opacity=0.9, strokeWidth=1.5).encode(
        color=alt.Color("group:N", title=None, scale=alt.Scale(
            domain=groups, range=[CHOSEN_COLOUR, NEIGHBOUR_COLOUR, OTHER_COLOUR]),
            legend=alt.Legend(orient="top", symbolSize=120)),
        size=alt.Size("group:N", scale=alt.Scale(domain=groups, range=[520, 120, 30]), legend=None),
        shape=alt.Shape("group:N", scale=alt.Scale(domain=groups, range=["diamond", "circle", "circle"]),
                        legend=None),
        stroke=alt.StrokeValue(None, condition={"test": alt.datum.group == "chosen rider", "value": "white"}),
        order=alt.Order("layer:Q"),
        tooltip=tooltip,
    ).add_params(alt.selection_point(name=MAP_PICK, fields=["rider"], on="click", clear=False))
    chosen = base.transform_filter(alt.datum.group == "chosen rider").mark_text(
        align="left", dx=11, dy=-9, fontSize=13, fontWeight="bold", color=CHOSEN_COLOUR).encode(text=alt.Text("name:N"))
    top = base.transform_filter("isValid(datum.rank) && datum.rank <= " + str(labels)).mark_text(
        align="left", dx=7, dy=-6, fontSize=11, color="#555").encode(text=alt.Text("name:N"))
    return alt.LayerChart(data=frame, layer=[dots, top, chosen], height=height)


def class_mix_chart(mix: Mapping[str, float], height: int = 30) -> alt.LayerChart:
    """The rider's results by race class as one bar of shares, World Tour first, each part labelled."""
    frame = pd.DataFrame({"class": list(CLASS_LABELS.values()),
                          "share": [float(mix.get(g, 0.0)) for g in CLASS_LABELS]})
    frame = frame.assign(end=frame["share"].cumsum(), start=lambda f: f["end"] - f["share"])
    frame = frame[frame["share"] > 0].assign(
        mid=lambda f: (f["start"] + f["end"]) / 2,
        label=lambda f: [f"{s:.0%} {c}" if s >= 0.12 else f"{s:.0%}" if s >= 0.04 else ""
                         for s, c in zip(f["share"], f["class"], strict=True)])
    base = alt.Chart().encode(y=alt.YValue(height / 2))
    bars = base.mark_bar(height=height).encode(
        x=alt.X("start:Q", title=None, scale=alt.Scale(domain=[0, 1]), axis=None), x2=alt.X2("end:Q"),
        color=alt.Color("class:N", title=None, legend=None, scale=alt.Scale(
            domain=list(CLASS_LABELS.values()), range=list(CLASS_COLOURS))),
        tooltip=[alt.Tooltip("class:N", title="race class"), alt.Tooltip("share:Q", format=".0%")],
    )
    text = base.mark_text(color="white", fontSize=12, fontWeight="bold").encode(x=alt.X("mid:Q"),
                                                                                text=alt.Text("label:N"))
    return alt.LayerChart(data=frame, layer=[bars, text], height=height)


def similarity_bars(items: Sequence[SimilarRace] | Sequence[SimilarTeam], key: str,
                    label: Callable[[str], str] = str, height: int | None = None) -> alt.LayerChart:
    """Horizontal bars of ``similarity`` (most similar on top), one per item named by ``label(item.<key>)``."""
    rows = [i.model_dump() for i in items]
    frame = pd.DataFrame({"name": [label(str(r[key])) for r in rows],
                          "similarity": [float(r["similarity"]) for r in rows]})
    bars = (
        alt.Chart()
        .mark_bar(cornerRadiusEnd=3, color="#4a90c2")
        .encode(
            y=alt.Y("name:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260, labelOverlap=False)),
            x=alt.X("similarity:Q", title="similarity (cosine)", axis=alt.Axis(format="%", tickCount=5),
                    scale=alt.Scale(domain=[min(0.0, float(frame["similarity"].min() or 0.0)), 1])),
            tooltip=[alt.Tooltip("name:N"), alt.Tooltip("similarity:Q", format=".1%")],
        )
    )
    text = bars.mark_text(align="left", dx=4, fontSize=11).encode(text=alt.Text("similarity:Q", format=".0%"))
    return alt.LayerChart(data=frame, layer=[bars, text], height=height or 70 + 32 * max(len(frame), 3))
