"""Metadata enrichment: missing fields filled once per show, from TVmaze's single search."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import polars as pl
import pytest

from shipml.apps.shows import catalog, enrich
from shipml.core.errors import SourceUnavailable


class FakeTvmaze:
    """A stand-in for TVmaze's single-search endpoint, an external service we cannot reach from the tests:
    it answers the 20 real TVmaze records of tvmaze_sample/shows.js, matching a query by normalized name
    (the real endpoint is fuzzier), and None (the real 404) otherwise. ``queries`` lists what was asked."""

    def __init__(self, shows_js: Path) -> None:
        text = shows_js.read_text(encoding="utf-8")
        body = re.sub(r",(\s*[\]}])", r"\1", text[text.index("[") : text.rindex("]") + 1])
        self.records = {catalog.normalize(r["name"]): r for r in json.loads(body)}
        self.queries: list[str] = []

    def __call__(self, url: str) -> dict[str, Any] | None:
        assert url.startswith(enrich.TVMAZE_SINGLESEARCH)
        query = parse_qs(urlparse(url).query)["q"][0]
        self.queries.append(query)
        return self.records.get(catalog.normalize(query))


@pytest.fixture
def tvmaze(shows_dir: Path) -> FakeTvmaze:
    return FakeTvmaze(shows_dir / "tvmaze_sample" / "shows.js")


def test_enrichment_fills_missing_fields_once(platform, tvmaze):
    dome = catalog.add_unverified("Under the Dome")
    nobody = catalog.add_unverified("Nobody Knows This Show")
    frame = pl.DataFrame({"external_id": ["1"], "title": ["Person of Interest"], "description": ["Our own words."]})
    catalog.import_shows(frame, "netflix")
    enricher = enrich.TvmazeEnricher(fetch=tvmaze)

    assert enrich.enrich_missing(enricher=enricher) == 2
    shows = {s["title"]: s for s in catalog.get_shows(range(1, 10)).values()}
    got = shows["Under the Dome"]
    assert got["year"] == 2013 and got["genres"] == "Drama,Science-Fiction,Thriller"
    assert got["poster_url"] == "https://static.tvmaze.com/uploads/images/original_untouched/81/202627.jpg"
    assert got["description"].startswith("Under the Dome is the story of a small town")
    assert "<" not in got["description"]
    assert got["verified"] is True  # TVmaze knows it: no longer just a title someone typed
    interest = shows["Person of Interest"]
    assert interest["description"] == "Our own words." and interest["year"] == 2011  # only gaps are filled
    assert shows["Nobody Knows This Show"]["year"] is None and shows["Nobody Knows This Show"]["verified"] is False

    asked = len(tvmaze.queries)
    assert asked == 3
    assert enrich.enrich_missing(enricher=enricher) == 0  # every show was looked up once, found or not
    assert len(tvmaze.queries) == asked
    assert catalog.search("under the dome")[0]["poster_url"].startswith("https://static.tvmaze.com/")
    assert {dome["id"], nobody["id"]} <= set(catalog.get_shows(range(1, 10)))


def test_a_different_show_from_the_fuzzy_search_is_not_taken(tvmaze):
    def fuzzy(url: str) -> dict[str, Any] | None:  # the real single search always answers its best guess
        return tvmaze.records["under the dome"]

    assert enrich.TvmazeEnricher(fetch=fuzzy).lookup("Dome Keeper Saga") is None
    assert enrich.TvmazeEnricher(fetch=fuzzy).lookup("Under the Dome")["year"] == 2013  # type: ignore[index]


def test_offline_enrichment_gives_up_quickly_and_retries_later(platform, tvmaze, caplog):
    for title in ("Under the Dome", "Person of Interest", "Bitten"):
        catalog.add_unverified(title)

    def offline(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("network is unreachable", request=request)

    calls: list[str] = []

    def counting(url: str) -> dict[str, Any] | None:
        calls.append(url)
        return enrich.http_fetch(3, client=httpx.Client(transport=httpx.MockTransport(offline)))(url)

    with caplog.at_level(logging.WARNING, logger="shipml.apps.shows.enrich"):
        assert enrich.enrich_missing(enricher=enrich.TvmazeEnricher(fetch=counting)) == 0
    assert len(calls) == 1  # gives up at the first failure: one failed request, not one per show (no clock needed)
    assert "network is unreachable" in caplog.text
    assert enrich.enrich_missing(enricher=enrich.TvmazeEnricher(fetch=tvmaze)) == 3  # back online: all three


def test_http_fetch_maps_answers():
    def service(request: httpx.Request) -> httpx.Response:
        query = request.url.params["q"]
        if query == "missing":
            return httpx.Response(404, json={"name": "Not Found"})
        if query == "broken":
            return httpx.Response(503)
        return httpx.Response(200, json={"id": 1, "name": query})

    fetch = enrich.http_fetch(3, client=httpx.Client(transport=httpx.MockTransport(service)))
    assert fetch(enrich.TVMAZE_SINGLESEARCH + "Lost") == {"id": 1, "name": "Lost"}
    assert fetch(enrich.TVMAZE_SINGLESEARCH + "missing") is None
    with pytest.raises(SourceUnavailable):
        fetch(enrich.TVMAZE_SINGLESEARCH + "broken")
