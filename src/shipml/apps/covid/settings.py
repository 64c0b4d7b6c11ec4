"""Covid settings: ``SHIPML_COVID_SOURCE`` and ``SHIPML_COVID_REFRESH_MINUTES``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SOURCE = "https://raw.githubusercontent.com/KonstantinKlepikov/covid-kaliningrad/datasets/data/data.csv"


class CovidSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPML_COVID_", extra="ignore")

    source: str = Field(DEFAULT_SOURCE, description="URL, path or 'synthetic'")
    refresh_minutes: int = Field(15, ge=1, le=1440, description="refresh period, on the clock")


def settings() -> CovidSettings:
    return CovidSettings()
