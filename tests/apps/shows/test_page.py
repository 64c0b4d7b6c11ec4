"""The shows page on the synthetic demo, rendered by Streamlit's test runner against the real API (in-process):
the banner says exactly how to get real data, a real title typed gets "no close match" instead of an unrelated
suggestion, and the "not recognised" error goes with "Start over". (The browser tests run on the real data.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from shipml.apps import get
from shipml.apps.shows import tasks
from shipml.core import platform
from shipml.core.api import create_app
from shipml.ui import client

PAGE = Path(tasks.__file__).with_name("page.py")


@pytest.fixture(scope="module")
def synthetic_api(module_platform) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    tasks.ingest("synthetic")
    platform.train(get("shows"))
    with TestClient(create_app([get("shows")]), raise_server_exceptions=False) as api:
        yield api


@pytest.fixture
def page(synthetic_api: TestClient, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The page, its API calls answered by the app in-process: the UI's pooled HTTP client is the test client of
    the real API (everything else in the UI's client is unchanged)."""
    monkeypatch.setattr(client, "_client", lambda: synthetic_api)
    client.clear_cache()
    return AppTest.from_file(str(PAGE), default_timeout=30).run()


def texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


def buttons(at: AppTest, prefix: str) -> list[Any]:
    return [b for b in at.button if str(b.key or "").startswith(prefix)]


def test_the_synthetic_banner_names_the_command_and_the_setting(page: AppTest) -> None:
    banner = texts(page.warning)
    assert "SYNTHETIC" in banner
    assert "shipml ingest shows --source <folder>" in banner and "SHIPML_SHOWS_SOURCE=<folder>" in banner
    assert "anime_caserec" in banner and "MyAnimeList" in banner  # where real data comes from
    assert "retrained and served" in banner


def test_a_real_title_gets_no_unrelated_suggestion_and_start_over_clears_the_error(page: AppTest) -> None:
    page.text_input(key="shows_query").input("Death Note").run()
    assert buttons(page, "shows_hit_") == []  # was: "Dragon Throne" highlighted first
    assert "No close match for “Death Note”" in texts(page.caption)

    page.text_input(key="shows_query").input("Dragon Thrne").run()  # a typo of a synthetic title
    hits = buttons(page, "shows_hit_")
    assert hits and hits[0].label.startswith("Dragon Throne") and hits[0].proto.type == "primary"

    page.text_input(key="shows_query").input("Death Note").run()
    next(b for b in page.button if b.key == "shows_add_typed").click().run()
    next(b for b in page.button if b.key == "shows_submit").click().run()
    assert "No show recognised among 'Death Note'" in texts(page.error)
    next(b for b in page.button if b.key == "shows_clear").click().run()
    assert texts(page.error) == "" and "Your shows** (0 of 5)" in texts(page.markdown)


def test_recommend_shows_the_recommendations(page: AppTest, tmp_path: Path) -> None:
    """Pick a show, press Recommend: the recommendations are drawn (they come with the submit's answer when the
    prediction is done within its wait, else by polling)."""
    from platform_fixtures import Worker

    worker = Worker(tmp_path / "worker.log").start()
    try:
        page.text_input(key="shows_query").input("Dragon Thrne").run()
        buttons(page, "shows_hit_")[0].click().run()
        next(b for b in page.button if b.key == "shows_submit").click().run(timeout=120)
        assert "Recommended for you" in texts(page.subheader), (texts(page.error), worker.output())
        assert any(s.label.startswith("Ready in") for s in page.status) and texts(page.error) == ""
    finally:
        worker.stop()


def test_a_pending_prediction_is_shown_with_its_clock_and_a_late_one_can_be_waited_for(
        synthetic_api: TestClient, page: AppTest) -> None:
    """A prediction not answered within the submit's wait (no worker here) is polled in a view that says what it
    is doing and for how long; past the deadline it says so and offers to keep waiting (nothing is lost)."""
    import time
    from types import SimpleNamespace

    from shipml.apps.shows.schemas import RecommendationAccepted

    body = synthetic_api.post("/api/shows/recommendations", json={"shows": ["Dragon Throne"]}).json()
    now = time.time()
    page.session_state["shows_pending"] = SimpleNamespace(  # what the page keeps after a submit (its Waiting)
        accepted=RecommendationAccepted.model_validate(body), titles=["Dragon Throne"], sent=now, deadline=now + 1)
    page.run()
    status = page.status[0]
    assert status.label.startswith("Still not ready after")
    assert "Waiting for the recommender:" in texts(status.caption)
    assert "not ready after 60 seconds" in texts(page.error)
    assert any(b.key == "shows_keep_waiting" for b in page.button)
