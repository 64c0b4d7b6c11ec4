"""Shows settings: ``SHIPML_SHOWS_SOURCE`` and ``SHIPML_SHOWS_RETRAIN_MINUTES``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ShowsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPML_SHOWS_", extra="ignore")

    source: str = Field("synthetic", description="'synthetic' or a folder laid out like shared/data/shows")
    retrain_minutes: int = Field(1440, ge=1, description="retraining period, on the clock; 1440 = nightly at 00:00 UTC")


def settings() -> ShowsSettings:
    return ShowsSettings()
