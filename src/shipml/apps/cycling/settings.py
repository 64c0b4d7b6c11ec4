"""Cycling settings: ``SHIPML_CYCLING_SOURCE``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PCS = "https://www.procyclingstats.com/"  # the site the default source, "scrape", reads


class CyclingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPML_CYCLING_", extra="ignore")

    source: str = Field("scrape", description="'scrape' (procyclingstats.com; offline: synthetic), 'synthetic', "
                                              "or a folder laid out like shared/data/cycling")


def settings() -> CyclingSettings:
    return CyclingSettings()
