"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data folder (``../shared/data`` next to the repo, or ``$SHIPML_SHARED_DATA``).

    Missing data is a failure, not a skip: CI must not pass without it.
    """
    configured = os.environ.get("SHIPML_SHARED_DATA")
    repo = Path(__file__).resolve().parents[1]
    folder = Path(configured) if configured else repo.parent / "shared" / "data"
    if not folder.is_dir():
        pytest.fail(f"shared test data not found at {folder} (set SHIPML_SHARED_DATA)")
    return folder
