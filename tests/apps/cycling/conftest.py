"""Cycling fixtures: the shared PCS data, and a fake PCS that serves the procyclingstats package's saved pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipml.apps.cycling.pages_source import BASE_URL
from shipml.core.errors import NotFound


@pytest.fixture(scope="session")
def cycling_dir(shared_data: Path) -> Path:
    return shared_data / "cycling"


@pytest.fixture(scope="session")
def html_fixtures(cycling_dir: Path) -> Path:
    return cycling_dir / "pcs_html_fixtures"


class FixtureSite:
    """A fetch function over the saved PCS pages (``<relative url with / → _>.txt``); a page that was not
    saved answers 404. The real PCS is outside our control (and unreachable here), so the scraper's tests
    use this stand-in. ``calls`` lists every URL fetched."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.calls: list[str] = []

    def __call__(self, url: str) -> str:
        self.calls.append(url)
        page = self.folder / (url.removeprefix(BASE_URL).replace("/", "_") + ".txt")
        if not page.is_file():
            raise NotFound(f"{url}: page not found")
        return page.read_text(encoding="utf-8")


class FakeClock:
    """A clock that only moves when someone sleeps; ``sleeps`` lists every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fixture_site(html_fixtures: Path) -> FixtureSite:
    return FixtureSite(html_fixtures)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
