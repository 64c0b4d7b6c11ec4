"""The platform's answers (health, jobs, models, every app's status), as pydantic models: the OpenAPI documents
them and the UI parses into them (``client.get(path, model=…)``). Each app's own answers are in its
``schemas.py``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JobStatus = Literal["queued", "running", "done", "failed"]


class RefreshRecord(BaseModel):
    """One refresh attempt of a dataset: stored, unchanged, rejected (with its reason), offline (the source could
    not be reached; the last good data keeps serving) or failed."""

    at: str
    source: str | None = Field(None, description="the source, never with a server folder")
    status: str
    reason: str | None = None
    version: int | None = Field(None, description="the dataset version it stored or kept")
    rows: int | None = None


class DatasetFreshness(BaseModel):
    """The latest version of a dataset, with its last refresh attempt."""

    name: str
    version: int
    content_hash: str
    rows: int
    source: str | None
    synthetic: bool
    created_at: str
    last_refresh: RefreshRecord | None = None


class ModelRef(BaseModel):
    """A registered model and the version its ``champion`` alias points at (None: no champion yet)."""

    name: str
    champion: int | None = None


class Preparing(BaseModel):
    """An app's first run under way (its ``<app>.prepare`` job): the pages show it until the app is ready."""

    job_id: str
    progress: float = Field(ge=0.0, le=1.0)
    message: str | None = None


class Activity(BaseModel):
    """What an app is doing now when a dataset and a champion do not say it (e.g. a live race): a headline and a few
    figures for the home page, and whether it is simulated."""

    headline: str
    simulated: bool = Field(False, description="generated, not real: the home page labels it SIMULATED")
    figures: dict[str, str] = Field(default_factory=dict, description="label → value, shown as they are")


class AppStatus(BaseModel):
    """An app's data freshness and champion; an app may add its own fields (e.g. the race's races)."""

    model_config = ConfigDict(extra="allow")

    data: DatasetFreshness | None = None
    model: ModelRef | None = None
    preparing: Preparing | None = None
    activity: Activity | None = None
    next_refresh_at: str | None = Field(None, description="when the scheduled refresh runs next (ISO, UTC)")


class ComponentHealth(BaseModel):
    """One part of the platform (or one app, or one service): ok, or the kind of failure."""

    model_config = ConfigDict(extra="allow")

    ok: bool
    error: str | None = None


class HealthAnswer(BaseModel):
    """Health: ``ok`` (200) or ``degraded`` (503), with each component, app and service."""

    status: Literal["ok", "degraded"]
    components: dict[str, ComponentHealth]
    apps: dict[str, ComponentHealth]
    services: dict[str, ComponentHealth]


class JobAccepted(BaseModel):
    """A job was queued: poll ``GET /api/jobs/{job_id}``."""

    job_id: str


class JobRecord(BaseModel):
    """A job: everyone sees its status and progress; ``params`` and ``result`` are shown to the admin only."""

    id: str
    app: str
    name: str
    status: JobStatus
    progress: float
    message: str | None = None
    error: str | None = None
    attempts: int
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    params: dict[str, Any] | None = Field(None, description="admin only")
    result: Any = Field(None, description="admin only")
    private: bool | None = Field(None, description="admin only: submitted by the public")


class ModelVersion(BaseModel):
    """One registered version of a model, with its run's metrics and params."""

    model: str
    version: int
    champion: bool
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    created_at: int | None = Field(None, description="milliseconds since the epoch (MLflow's)")


class ChampionMoved(BaseModel):
    """The champion alias now points at this version."""

    model: str
    champion: int
