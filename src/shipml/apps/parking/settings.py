"""Parking settings (``SHIPML_PARKING_…``).

``SOURCE`` is ``synthetic`` (simulated tickets in the real format, labelled SYNTHETIC everywhere) or a folder / file
of real SER ticket files. ``SPACES`` and ``NEIGHBOURHOODS`` default to the small files shipped inside the package
(``bundled/``: simplified polygons, spaces per neighbourhood and the street index of the 2023-08 spaces file), so
nothing outside the package is needed; point them at the official files to use another year.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SYNTHETIC = "synthetic"
ALL_MODELS = "seasonal_naive,mstl,auto_ets,prophet_original,global_lightgbm,direct_lightgbm"


class ParkingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPML_PARKING_", extra="ignore")

    source: str = Field(SYNTHETIC, description="'synthetic' or a folder/file of SER ticket CSVs")
    spaces: str = Field("", description="an official SER spaces CSV (any year); empty: the bundled 2023-08 summary")
    neighbourhoods: str = Field("", description="neighbourhood polygons GeoJSON; empty: the bundled copy")
    synthetic_weeks: int = Field(4, ge=3, le=520, description="weeks of simulated tickets, ending yesterday")
    synthetic_scale: float = Field(0.02, gt=0, le=10, description="share of the spaces' users simulated")
    models: str = Field(ALL_MODELS, description="candidates, comma-separated")
    backtest_origins: int = Field(3, ge=1, le=60, description="rolling origins (days) of the backtest")
    horizon_days: int = Field(7, ge=1, le=7, description="days forecast after the data's end")
    level: int = Field(80, ge=50, le=99, description="central interval, percent")
    max_rejected_share: float = Field(0.5, ge=0, le=1,
                                      description="a refresh rejecting more rows than this keeps the last good data")
    refresh_minutes: int = Field(1440, ge=1, le=1440, description="ingest period (on the clock)")
    engine: Literal["polars", "spark"] = Field(
        "polars", description="where the heavy parts run: polars on this machine, or Spark (SHIPML_SPARK_MASTER) for "
                              "the ticket counts per hour (years of tickets, files on shared storage) and the "
                              "backtests of eval and train (series × origins fanned out)")


def settings() -> ParkingSettings:
    return ParkingSettings()
