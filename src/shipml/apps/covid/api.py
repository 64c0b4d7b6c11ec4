"""The covid API: metric catalog, time series, districts, summary, demographics, refreshes, forecast."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Annotated, Any, cast

import polars as pl
from fastapi import APIRouter, Query
from fastapi.responses import Response

from shipml.apps.covid import data, metrics
from shipml.apps.covid.model import CaseForecast
from shipml.apps.covid.schemas import (
    Covers,
    DateRange,
    Demographics,
    Districts,
    Forecast,
    ForecasterParams,
    ForecastPoint,
    ForecastQuery,
    Headline,
    Metric,
    MetricValue,
    Page,
    RefreshRecord,
    Series,
    SeriesQuery,
    Summary,
)
from shipml.apps.covid.tasks import MODEL
from shipml.core import datasets, matching, registry, sources
from shipml.core.errors import InvalidInput
from shipml.core.readcache import ReadCache, fresh, recent
from shipml.core.versioned import versioned

router = APIRouter()
_answers = ReadCache()  # rendered answers by snapshot and request

# (tests are left out: the publication stopped reporting them in 2022 and writes 0 since)
HEADLINE = ("cases", "deaths", "recovered", "active", "cases_7d", "cases_7d_per_100k")


@lru_cache(maxsize=4)
def _view(path: str, content_hash: str) -> tuple[pl.DataFrame, dict[str, metrics.Metric]]:
    """The derived frame and the catalog of one snapshot (cached by content: snapshots never change)."""
    clean = pl.read_parquet(path)
    derived = metrics.derive(clean)
    catalog = {m.id: m for m in metrics.catalog(clean.columns) if m.id in derived.columns}
    return derived, catalog


def _current() -> tuple[datasets.Snapshot, pl.DataFrame, dict[str, metrics.Metric]]:
    snap = recent(data.DATASET, lambda: datasets.require_latest(data.DATASET))
    derived, catalog = _view(str(snap.path), snap.content_hash)
    return snap, derived, catalog


def _check_metrics(requested: list[str], catalog: dict[str, metrics.Metric]) -> list[str]:
    ids = list(dict.fromkeys(m.strip() for item in requested for m in item.split(",") if m.strip()))
    if not ids:
        raise InvalidInput("give at least one metric, e.g. ?metric=cases (see /api/covid/metrics)")
    for mid in ids:
        if mid not in catalog:
            close = [m.choice for m in matching.best(mid, list(catalog), limit=3, cutoff=matching.SUGGEST)]
            hint = f"; did you mean {', '.join(close)}?" if close else "; see /api/covid/metrics"
            raise InvalidInput(f"unknown metric '{mid}'{hint}")
    return ids


def _window(frame: pl.DataFrame, start: date | None, end: date | None) -> pl.DataFrame:
    if start and end and start > end:
        raise InvalidInput(f"'from' ({start}) is after 'to' ({end}): swap them")
    if start:
        frame = frame.filter(pl.col("date") >= start)
    if end:
        frame = frame.filter(pl.col("date") <= end)
    return frame


def _coverage(derived: pl.DataFrame, start: date | None, end: date | None) -> tuple[Covers, str | None]:
    """The days the data covers and, when the asked range reaches outside them, a note that says so."""
    dates = derived["date"]
    first, last = cast(date, dates.min()), cast(date, dates.max())
    covers = f"the data covers {first} to {last}"
    note = None
    if (start and start > last) or (end and end < first):
        asked = f"between {start} and {end}" if start and end else f"from {start}" if start else f"up to {end}"
        note = f"no data {asked}: {covers}"
    elif start and start < first:
        note = f"no data before {first}: {covers}"
    elif end and end > last:
        note = f"no data after {last}: {covers}"
    return Covers(start=first, end=last), note


def _meta(metric: metrics.Metric) -> dict[str, str]:
    """The fields of a :class:`~shipml.apps.covid.schemas.Metric` (to build it or a model that extends it)."""
    return {"id": metric.id, "name_ru": metric.name_ru, "label": metric.label, "unit": metric.unit,
            "group": metric.group}


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _version() -> tuple[int, str] | None:
    """The current snapshot's version while it is known fresh (for :func:`versioned` reads)."""
    snap = fresh(data.DATASET)
    return None if snap is None else (snap.version, snap.content_hash)


@router.get("/metrics")
@versioned(_version)
def list_metrics() -> list[Metric]:
    """Every metric: id, original Russian name, English label, unit, group."""
    _, _, catalog = _current()
    return [Metric(**_meta(m)) for m in catalog.values()]


@router.get("/series", response_model=Series)
@versioned(_version)
def series(query: Annotated[SeriesQuery, Query()]) -> Response:
    """Metrics per day between ``from`` and ``to`` (both included). ``covers`` is the range of the data;
    ``note`` says when the asked range reaches outside it (empty lists when it misses it entirely)."""
    snap, derived, catalog = _current()
    ids = _check_metrics(query.metric, catalog)
    key = ("series", snap.version, snap.content_hash, tuple(ids), query.start, query.end, query.rolling)
    return _answers.answer(key, lambda: _series(snap, derived, catalog, ids, query))


def _series(snap: datasets.Snapshot, derived: pl.DataFrame, catalog: dict[str, metrics.Metric], ids: list[str],
            query: SeriesQuery) -> Series:
    frame = derived.select("date", *ids)
    if query.rolling > 1:
        frame = frame.with_columns(pl.col(ids).rolling_mean(query.rolling, min_samples=1))
    frame = _window(frame, query.start, query.end)
    covers, note = _coverage(derived, query.start, query.end)
    return Series(version=snap.version, synthetic=snap.synthetic, metrics=[Metric(**_meta(catalog[i])) for i in ids],
                  dates=frame["date"].to_list(), values={i: [_num(v) for v in frame[i]] for i in ids},
                  covers=covers, note=note)


@router.get("/summary")
@versioned(_version)
def summary() -> Summary:
    """The latest day's headline numbers with changes vs the previous day and the same day a week before."""
    snap, derived, catalog = _current()
    frame = derived.sort("date")
    last = frame.row(-1, named=True)
    prev = frame.row(-2, named=True) if frame.height > 1 else {}
    week_before = frame.filter(pl.col("date") == last["date"] - timedelta(days=7))  # by calendar, not rows
    week = week_before.row(0, named=True) if week_before.height else {}
    headline = []
    for mid in HEADLINE:
        if mid not in catalog:
            continue
        value = last[mid]
        headline.append(Headline(
            **_meta(catalog[mid]),
            value=_num(value),
            change_day=_num(value - prev[mid]) if value is not None and prev.get(mid) is not None else None,
            change_week=_num(value - week[mid]) if value is not None and week.get(mid) is not None else None,
        ))
    return Summary(date=last["date"], version=snap.version, synthetic=snap.synthetic,
                   source=sources.public_source(snap.source), refreshed_at=snap.created_at.isoformat(),
                   headline=headline)


@router.get("/districts")
@versioned(_version)
def districts() -> Districts:
    """The latest value per municipal district."""
    _, derived, catalog = _current()
    ids = [d for d in metrics.DISTRICTS if d in catalog]
    if not ids:
        return Districts(date=None, districts=[])
    frame = derived.select("date", *ids).sort("date")
    last = frame.row(-1, named=True)
    return Districts(date=last["date"],
                     districts=[MetricValue(**_meta(catalog[i]), value=_num(last[i])) for i in ids])


@router.get("/demographics")
@versioned(_version)
def demographics(query: Annotated[DateRange, Query()]) -> Demographics:
    """Cases by age group and by sex, summed over the date range, where the data has them (with ``covers``
    and ``note`` as in ``/series``)."""
    _, derived, catalog = _current()
    frame = _window(derived, query.start, query.end)
    covers, note = _coverage(derived, query.start, query.end)

    def totals(ids: list[str]) -> list[MetricValue]:
        return [MetricValue(**_meta(catalog[i]), value=_num(frame[i].sum())) for i in ids if i in catalog]

    return Demographics(covers=covers, note=note, age=totals(metrics.AGE_GROUPS), sex=totals(metrics.SEX_GROUPS))


@router.get("/refreshes")
def refreshes(query: Annotated[Page, Query()]) -> list[RefreshRecord]:
    """Every refresh attempt, newest first: stored, unchanged, rejected (with the reason) or failed."""
    rows = datasets.refreshes(data.DATASET, limit=query.limit, offset=query.offset)
    return [RefreshRecord.model_validate(r) for r in rows]


@router.get("/forecast")
def forecast(query: Annotated[ForecastQuery, Query()]) -> Forecast:
    """New cases forecast by the champion model."""
    version, model = registry.champion(MODEL).require(CaseForecast, app="covid",
                                                      missing="no champion forecast model yet")
    return Forecast(model=MODEL, version=version, params=ForecasterParams.model_validate(model.params),
                    forecast=[ForecastPoint.model_validate(p) for p in model.predict(query.days)])
