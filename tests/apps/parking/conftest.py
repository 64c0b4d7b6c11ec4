"""Fixtures of the parking tests: the real spaces and polygons from the shared data folder."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from shipml.apps.parking.geo import NeighbourhoodLocator
from shipml.apps.parking.sources import NEIGHBOURHOODS_GEOJSON, SPACES_FILES
from shipml.apps.parking.spaces import read_spaces, spaces_per_neighbourhood


@pytest.fixture(scope="session")
def spaces_2023(shared_data: Path) -> pl.DataFrame:
    return read_spaces(shared_data / SPACES_FILES["2023-08"])


@pytest.fixture(scope="session")
def per_neighbourhood(spaces_2023: pl.DataFrame) -> pl.DataFrame:
    return spaces_per_neighbourhood(spaces_2023)


@pytest.fixture(scope="session")
def locator(shared_data: Path) -> NeighbourhoodLocator:
    return NeighbourhoodLocator.from_geojson(shared_data / NEIGHBOURHOODS_GEOJSON)
