"""Cycling settings: ``SHIPML_CYCLING_SOURCE``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PCS = "https://www.procyclingstats.com/"  # the site the default source, "scrape", reads


class CyclingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPML_CYCLING_", extra="ignore")

    source: str = Field("scrape", description="'scrape' (procyclingstats.com; offline: synthetic), 'synthetic', "
                                              "or a folder laid out like shared/data/cycling")
    rider_pages: bool = Field(False, description="after a folder import, read the procyclingstats.com page of each "
                                                 "rider without a nationality (cached, ~1 request/s; a scrape reads "
                                                 "them anyway); offline, the folder's own nationalities are kept")


def settings() -> CyclingSettings:
    return CyclingSettings()
