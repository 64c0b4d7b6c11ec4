"""Shows fixtures: the shared shows data, and a catalog of Netflix's TV shows (which includes Breaking Bad)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipml.apps.shows import catalog, data


@pytest.fixture(scope="session")
def shows_dir(shared_data: Path) -> Path:
    return shared_data / "shows"


@pytest.fixture
def netflix_catalog(platform, shows_dir: Path) -> int:  # type: ignore[no-untyped-def]
    """The platform's catalog filled with the 2,676 Netflix TV shows; returns how many were imported."""
    return catalog.import_shows(data.read_netflix(shows_dir / "netflix_titles" / "netflix_titles.csv"), "netflix")
