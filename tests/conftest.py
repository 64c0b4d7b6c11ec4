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


def _services_pass_runs(item: pytest.Item) -> bool:
    """Whether the services pass reruns a test: one that touches a database, a queue or the running product.

    Left to the first pass: parsers and models (the same answer whatever the stores are); the Spark paths (their
    claim is "equal to the embedded path", which does not depend on the stores); and the browser tests, except the
    modules marked ``services`` (the product's pages on PostgreSQL + Redis), since the UI is a client of the API
    and every API test runs in both passes."""
    if item.get_closest_marker("services"):
        return True
    if item.get_closest_marker("spark") or item.get_closest_marker("e2e"):
        return False
    return bool(PLATFORM_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The services pass (PostgreSQL + Redis) reruns only what :func:`_services_pass_runs` keeps."""
    if os.environ.get("SHIPML_TEST_SERVICES") != "1":
        return
    kept, dropped = [], []
    for item in items:
        (kept if _services_pass_runs(item) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
