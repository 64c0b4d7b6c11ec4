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


PLATFORM_FIXTURES = {"platform", "module_platform", "worker", "product", "ui"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The services pass (PostgreSQL + Redis) reruns only the tests that touch a database, a queue or the running
    product: a parser or a model gives the same answer whatever the stores are, and is tested in the first pass."""
    if os.environ.get("SHIPML_TEST_SERVICES") != "1":
        return
    kept, dropped = [], []
    for item in items:
        uses_stores = PLATFORM_FIXTURES & set(getattr(item, "fixturenames", ()))
        (kept if uses_stores or item.get_closest_marker("services") else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
