"""The covid API's requests and answers, one pydantic model each (:mod:`shipml.apps.covid.api` returns them, the page
parses into them).

    Metric ─┬─ list[Metric]                           GET /metrics
            ├─ Series (+ Covers)                      GET /series         ← SeriesQuery
            └─ MetricValue ─┬─ Headline ─ Summary     GET /summary
                            ├─ Districts              GET /districts
                            └─ Demographics (+ Covers) GET /demographics  ← DateRange
    RefreshRecord (core) ─ list[RefreshRecord]        GET /refreshes      ← Page
    ForecastPoint ─ Forecast (+ ForecasterParams)     GET /forecast       ← ForecastQuery

Days are ISO dates (``2021-05-01``). A value is a float rounded to 4 decimals, or null where the data does not report
it. Every field is always sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shipml.core.schemas import RefreshRecord

__all__ = ["Covers", "DateRange", "Demographics", "Districts", "Forecast", "ForecastPoint", "ForecastQuery",
           "ForecasterParams", "Headline", "Metric", "MetricValue", "Page", "RefreshRecord", "Series",
           "SeriesQuery", "Summary"]

Value = Annotated[float | None, Field(description="rounded to 4 decimals; null where the data does not report it")]


class Answer(BaseModel):
    """Base of the answers: the documented output schema requires every field, as every field is always sent."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True, validate_by_name=True,
                              validate_by_alias=True, serialize_by_alias=True)


# --- requests (query parameters) ---


From = Annotated[dt.date | None, Field(alias="from", description="first day, ISO date (e.g. 2021-05-01)")]
To = Annotated[dt.date | None, Field(alias="to", description="last day, ISO date")]


class DateRange(BaseModel):
    """The days asked about, both included; either end may be left open."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    start: From = None
    end: To = None


class SeriesQuery(BaseModel):
    """Which metrics to draw over which days, and how much to smooth them."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    metric: list[str] = Field(description="metric ids; repeat or comma-separate")
    start: From = None
    end: To = None
    rolling: int = Field(1, ge=1, le=90, description="rolling mean window in days")


class Page(BaseModel):
    """A page of a newest-first list."""

    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class ForecastQuery(BaseModel):
    """How far ahead to forecast."""

    days: int = Field(14, ge=1, le=28, description="days after the last day of the data")


# --- answers ---


class Metric(Answer):
    """One metric of the dashboard: a column of the export or a derived metric."""

    id: str = Field(description="stable English id, e.g. 'cases'")
    name_ru: str = Field(description="the export's original Russian column header; empty for a derived metric")
    label: str = Field(description="English label, e.g. 'New cases'")
    unit: str = Field(description="e.g. 'people', 'tests', 'per 100k'; empty when unknown")
    group: str = Field(description="e.g. 'cases', 'deaths', 'districts', 'age', 'sex', 'other'")


class MetricValue(Metric):
    """A metric with one number: the latest day's value, or a sum over the days asked about."""

    value: Value


class Covers(Answer):
    """The first and the last day of the data."""

    start: dt.date = Field(alias="from")
    end: dt.date = Field(alias="to")


class Series(Answer):
    """Metrics per day over the days asked about."""

    version: int = Field(description="the data version the answer was computed from")
    synthetic: bool = Field(description="true when the data is generated offline, not the published export")
    metrics: list[Metric] = Field(description="the metrics asked about, in the order asked")
    dates: list[dt.date] = Field(description="every day of the range that the data has, in order")
    values: dict[str, list[float | None]] = Field(
        description="metric id → one value per date (rounded to 4 decimals; null: not reported that day)")
    covers: Covers
    note: str | None = Field(description="says when the range asked reaches outside the data; null when it does not")


class Headline(MetricValue):
    """A headline number of the latest day, with its changes."""

    change_day: Value = Field(description="change vs the previous day; null when either day does not report it")
    change_week: Value = Field(description="change vs the same day a week before (by calendar); null when either "
                                           "day does not report it")


class Summary(Answer):
    """The latest day's headline numbers and where the data comes from."""

    date: dt.date = Field(description="the last day in the data")
    version: int = Field(description="the data version")
    synthetic: bool = Field(description="true when the data is generated offline, not the published export")
    source: str = Field(description="where the data was read: a URL, a keyword or a file name (never a server path)")
    refreshed_at: str = Field(description="when this data version was stored, ISO 8601 with offset")
    headline: list[Headline]


class Districts(Answer):
    """The latest value per municipal district."""

    date: dt.date | None = Field(description="the last day in the data; null when the data has no districts")
    districts: list[MetricValue]


class Demographics(Answer):
    """Cases by age group and by sex, summed over the days asked about."""

    covers: Covers
    note: str | None = Field(description="says when the range asked reaches outside the data; null when it does not")
    age: list[MetricValue] = Field(description="age groups, youngest first (those the data has)")
    sex: list[MetricValue] = Field(description="men, women (those the data has)")


class ForecasterParams(Answer):
    """The champion forecaster's configuration; other keys of a configuration are sent as they are."""

    model_config = ConfigDict(extra="allow")

    kind: str = Field(description="'seasonal_naive' or 'loglinear_weekly'")


class ForecastPoint(Answer):
    """One forecast day."""

    date: dt.date
    cases: float = Field(description="forecast new cases, rounded to 1 decimal")


class Forecast(Answer):
    """New cases forecast by the champion model."""

    model: str = Field(description="registered model name")
    version: int = Field(description="registered version (the champion's)")
    params: ForecasterParams
    forecast: list[ForecastPoint] = Field(description="the days after the last day of the data, in order")
