"""Pydantic models of every request and answer of the cycling API (``/api/cycling``); the page parses into them.

    RiderList      GET  /riders                  Rider*
    SimilarRiders  POST /similar (SimilarRequest) ChosenRider (Confidence), Neighbour*
    list[str]      GET  /races
    SimilarRaces   GET  /races/{race}/similar    SimilarRace*
    SimilarTeams   GET  /teams/{team}/similar    SimilarTeam*
    RiderMap       GET  /map                     MapPoint*
    LastUpdate     GET  /last-update             ModelRef (the platform's, as in /status)
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from shipml.core.schemas import ModelRef
from shipml.core.validation import Text

CountryCode = Annotated[str, StringConstraints(pattern="^[A-Za-z]{2}$")]


class SimilarRequest(BaseModel):
    """A search for the riders most similar to one, among those of an age range and nationalities."""

    rider: Text(200, 1) = Field(  # type: ignore[valid-type]
        description="rider slug (e.g. 'tadej-pogacar') or name (typos forgiven)")
    n: int = Field(10, ge=1, le=100, description="how many neighbours")
    age_min: int | None = Field(None, ge=14, le=60)
    age_max: int | None = Field(None, ge=14, le=60)
    countries: list[CountryCode] = Field(
        default_factory=list, max_length=50, description="ISO 3166 alpha-2 codes, e.g. ['FR', 'BE']")

    @model_validator(mode="after")
    def _ages_in_order(self) -> SimilarRequest:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) is greater than age_max ({self.age_max})")
        return self


class Rider(BaseModel):
    """A rider in the model, with how much evidence is behind their profile."""

    rider: str = Field(description="the rider's slug on procyclingstats.com, e.g. 'tadej-pogacar'")
    name: str
    nationality: str | None = Field(description="ISO 3166 alpha-2 code, e.g. 'SI'; null when unknown")
    age: int | None = Field(description="age today (from the birth date, else the birth year); null when unknown")
    team: str | None = Field(description="the rider's latest team; null when unknown")
    results: int = Field(description="finished results behind the rider's profile")
    low_confidence: bool = Field(description="too few results, or mostly small races: a rough profile")


class RiderList(BaseModel):
    """One page of the riders matching a search (best match first), or of all riders (most results first)."""

    total: int = Field(description="how many riders match, on every page")
    model_version: int = Field(description="the champion model version that answered")
    riders: list[Rider]


class Confidence(BaseModel):
    """How much evidence is behind a rider's profile, and why it is low when it is."""

    rider: str = Field(description="the rider's slug")
    results: int = Field(description="finished results")
    class_mix: dict[str, float] = Field(
        description="share of the results by race class: 'UWT', 'Pro', '.1', '.2', 'other' (sums to 1)")
    small_race_share: float = Field(description="share of the results in .1/.2 races")
    low_confidence: bool
    reasons: list[str] = Field(description="why the confidence is low, in words; empty when it is not")


class ChosenRider(Rider):
    """The rider searched for, with their confidence in detail."""

    confidence: Confidence


class Neighbour(Rider):
    """A similar rider."""

    similarity: float = Field(description="cosine similarity of the two riders' profiles (1 = the same)")


class SimilarRiders(BaseModel):
    """The riders most similar to one (most similar first), among those matching the filters."""

    rider: ChosenRider
    neighbours: list[Neighbour] = Field(description="most similar first; empty when nobody matches the filters")
    model_version: int = Field(description="the champion model version that answered")
    message: str | None = Field(description="why the answer is empty or a rough guess; null when neither")


class SimilarRace(BaseModel):
    """A race like the one asked about."""

    race: str = Field(description="race slug, e.g. 'tour-de-france' (all editions and stages pooled)")
    similarity: float = Field(description="cosine similarity of the two races' columns (1 = the same)")


class SimilarRaces(BaseModel):
    """The races whose riders do well in the same races as the asked race's, most similar first."""

    race: str = Field(description="the race asked about")
    similar: list[SimilarRace]


class SimilarTeam(BaseModel):
    """A team like the one asked about."""

    team: str
    similarity: float = Field(description="cosine similarity of the teams' mean rider profiles (1 = the same)")


class SimilarTeams(BaseModel):
    """The teams whose riders are alike the asked team's, most similar first."""

    team: str = Field(description="the team asked about")
    similar: list[SimilarTeam]


class MapPoint(Rider):
    """A rider on the 2-D map of the embedding."""

    x: float = Field(description="first principal component of the rider's profile")
    y: float = Field(description="second principal component of the rider's profile")


class RiderMap(BaseModel):
    """Every rider's profile projected to 2-D (PCA), for the map."""

    model_version: int = Field(description="the champion model version that answered")
    explained_variance: float = Field(description="share of the profiles' variance the two axes keep (0–1)")
    points: list[MapPoint]


class LastUpdate(BaseModel):
    """The results dataset version served, where it came from, its latest race day, and the champion model."""

    name: str = Field(description="the dataset's name")
    version: int = Field(description="the dataset version")
    content_hash: str = Field(description="hash of the dataset's schema and values")
    rows: int = Field(description="results in this version")
    source: str = Field(description="where the data came from: a URL, a file name or a keyword ('synthetic')")
    synthetic: bool = Field(description="generated offline, not real riders")
    created_at: str = Field(description="when this version was stored (ISO 8601)")
    latest_result: date | None = Field(description="the day of the latest result; null when there is none")
    model: ModelRef = Field(description="the served model, as in the app's status")
