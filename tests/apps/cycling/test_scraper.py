"""The PCS scraper, offline: the package's saved pages parse as its own expectations say, a run over them
builds the two tables (and agrees with the Markdown pages of the same race), and the politeness rules
hold — cache, retries with backoff, rate limit — on a fake network and a fake clock."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import polars as pl
import pytest
from procyclingstats import Race, Rider, Stage

from shipml.apps.cycling.pages_source import BASE_URL, PageSource, Politeness, http_fetch
from shipml.apps.cycling.result_pages import parse_results_page
from shipml.apps.cycling.schema import validate_results, validate_riders
from shipml.apps.cycling.scraper import race_class, scrape
from shipml.core.errors import SourceUnavailable

# Every saved page of the types the scraper reads, and the parse() fields it uses. The JSON files were made
# by a newer procyclingstats than the 0.2.8 we run; fields outside these lists drift between versions
# (uci_tour, prev_editions_select, race_startlist_quality_score, results' breakaway_kms, social_media) and
# the scraper does not read them.
PAGES: dict[str, tuple[type, dict[str, tuple[str, ...]]]] = {
    "race_tour-de-france_2022": (Race, {"name": (), "year": (), "is_one_day_race": (), "startdate": (),
                                        "stages": ()}),
    "race_paris-roubaix_2020": (Race, {"name": (), "year": (), "is_one_day_race": (), "stages": ()}),
    **{name: (Stage, {"date": (), "stage_type": (), "is_one_day_race": (),
                      "results": ("rider_url", "rider_name", "team_name", "rank", "status", "nationality"),
                      "gc": ("rider_url", "rider_name", "team_name", "rank", "nationality")})
       for name in ("race_tour-de-france_2022_stage-21", "race_tour-de-france_2018_stage-3",
                    "race_tour-de-france_2018_stage-19", "race_ronde-van-vlaanderen_2022_result",
                    "race_world-championship-ttt_2017_result")},
    **{name: (Rider, {"name": (), "nationality": (), "birthdate": (), "points_per_speciality": (),
                      "teams_history": ("season", "team_name")})
       for name in ("rider_alberto-contador", "rider_david-canada_2000")},
}


def _pages(site, tmp_path: Path, clock, **politeness) -> PageSource:
    return PageSource(site, tmp_path / "cache", Politeness(**politeness), clock=clock, sleep=clock.sleep)


@pytest.mark.parametrize("fixture", sorted(PAGES))
def test_saved_page_parses_to_its_expected_json(html_fixtures, fixture):
    kind, fields = PAGES[fixture]
    page = kind(fixture.replace("_", "/"), html=(html_fixtures / f"{fixture}.txt").read_text(), update_html=False)
    expected = json.loads((html_fixtures / f"{fixture}.json").read_text())
    for method, columns in fields.items():
        got = json.loads(json.dumps(getattr(page, method)(*columns)))  # tuples → lists, as in the JSON
        want = expected[method]
        if columns:
            want = [{c: row[c] for c in columns} for row in want]
        assert got == want, f"{fixture}: {method}"


def test_race_class_comes_from_the_overview(html_fixtures):
    def overview(name: str) -> Race:
        return Race(name.replace("_", "/"), html=(html_fixtures / f"{name}.txt").read_text(), update_html=False)

    assert race_class(overview("race_tour-de-france_2022")) == "2.UWT"
    assert race_class(overview("race_paris-roubaix_2020")) == "1.UWT"


def test_offline_run_builds_both_tables(fixture_site, clock, tmp_path):
    """Tour de France 2022 (only the final stage page was saved) and Paris-Roubaix 2020 (cancelled: an
    overview, no result page)."""
    steps: list[float] = []
    out = scrape([("tour-de-france", 2022), ("paris-roubaix", 2020)], pages=_pages(fixture_site, tmp_path, clock),
                 extra_riders=["alberto-contador"], progress=lambda f, _m: steps.append(f))
    results, riders = validate_results(out.results), validate_riders(out.riders)
    assert results.group_by("kind").len().sort("kind").rows() == [("gc", 135), ("stage", 138)]
    assert set(results["source"]) == {"pcs_scrape"} and set(results["race_class"]) == {"2.UWT"}
    assert "race/paris-roubaix/2020/result" in out.missing
    assert sum(url.startswith("race/tour-de-france/2022/stage-") for url in out.missing) == 20
    gc = results.filter(pl.col("kind") == "gc").sort("rank", nulls_last=True)
    assert gc["rider"][:3].to_list() == ["jonas-vingegaard", "tadej-pogacar", "geraint-thomas"]
    assert gc.filter(pl.col("rider") == "nairo-quintana")["status"].to_list() == ["DSQ"]  # struck out
    stage = results.filter(pl.col("kind") == "stage")
    assert stage["stage"].unique().to_list() == ["stage-21"] and stage["date"].unique().to_list() == [date(2022, 7, 24)]
    assert stage.filter(pl.col("rank") == 1)["rider"].to_list() == ["jasper-philipsen"]
    # every rider of a result has a nationality (result rows carry flags); Contador's page gives the rest
    assert riders.height == results["rider"].n_unique() + 1 and riders["nationality"].null_count() == 0
    assert riders.filter(pl.col("rider") == "tadej-pogacar").row(0, named=True)["name"] == "Tadej Pogačar"
    contador = riders.filter(pl.col("rider") == "alberto-contador").row(0, named=True)
    assert (contador["nationality"], contador["birth_date"], contador["birth_year"], contador["team"]) == (
        "ES", date(1982, 12, 6), 1982, "Trek - Segafredo")
    assert (contador["pts_gc"], contador["pts_climber"], contador["pts_oneday"]) == (11393.0, 9996.0, 770.0)
    assert steps == sorted(steps) and steps[-1] == 1.0


def test_scraped_page_agrees_with_the_markdown_page_of_the_same_race(fixture_site, clock, tmp_path, cycling_dir):
    """The saved HTML (via the package) and the Firecrawl Markdown of the Tour de France 2022 final stage are
    independent captures of one PCS page: both importers must read the same ranks, statuses and teams (of the stage
    and the GC: the scraper does not read the points/KOM/youth standings)."""
    scraped = scrape([("tour-de-france", 2022)], pages=_pages(fixture_site, tmp_path, clock), rider_pages=False)
    markdown = parse_results_page((cycling_dir / "pcs_results_md" / "tour-de-france_2022.md").read_text()).results
    markdown = markdown.filter(pl.col("kind").is_in(["stage", "gc"]))
    columns = ["kind", "stage", "rider", "rank", "status", "team", "date", "time_trial"]
    assert scraped.results.select(columns).sort("kind", "rider").equals(markdown.select(columns).sort("kind", "rider"))


def test_a_page_the_package_cannot_parse_is_skipped_and_reported(fixture_site, clock, tmp_path):
    """PCS changes its layout from time to time: such a page is reported, the rest of the race still imports."""
    def site(url: str) -> str:
        if url.endswith("race/tour-de-france/2022/stage-21"):
            return "<html><body><div class='page-title'><h1>Stage 21</h1></div><p>redesigned</p></body></html>"
        return fixture_site(url)

    out = scrape([("tour-de-france", 2022)], pages=_pages(site, tmp_path, clock), rider_pages=False)
    assert out.unparsed == ["race/tour-de-france/2022/stage-21", "race/tour-de-france/2022/stage-21 (GC)"]
    assert out.results.is_empty() and len(out.missing) == 20


def test_a_second_run_fetches_nothing(fixture_site, clock, tmp_path):
    races = [("tour-de-france", 2022), ("paris-roubaix", 2020)]
    first = scrape(races, pages=_pages(fixture_site, tmp_path, clock))
    fetched = len(fixture_site.calls)
    assert fetched > 100  # overviews, 21 stages and every rider page (missing ones included)
    assert (tmp_path / "cache" / "race_tour-de-france_2022_stage-21.html").is_file()
    assert (tmp_path / "cache" / "race_tour-de-france_2022_stage-1.missing").is_file()
    again = scrape(races, pages=_pages(fixture_site, tmp_path, clock))
    assert len(fixture_site.calls) == fetched  # zero new fetches: pages and 404s come from the cache
    assert again.results.equals(first.results) and again.riders.equals(first.riders)


# A fake network (httpx.MockTransport): the real one is outside our control, and unreachable here.
def _flaky_network(answers: list[object]) -> tuple[httpx.Client, list[str]]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, int)
        return httpx.Response(answer, text=f"<html>{answer}</html>")

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


def test_network_errors_and_5xx_are_retried_with_backoff(clock, tmp_path):
    client, seen = _flaky_network([503, httpx.ConnectError("connection refused"), 200])
    pages = _pages(http_fetch(client), tmp_path, clock)
    assert pages.get("race/milano-sanremo/2024") == "<html>200</html>"
    assert seen == [BASE_URL + "race/milano-sanremo/2024"] * 3
    assert clock.sleeps == [2.0, 4.0]  # backoff doubles; the rate limit needs no extra wait after it
    assert (tmp_path / "cache" / "race_milano-sanremo_2024.html").read_text() == "<html>200</html>"


def test_a_page_that_keeps_failing_gives_up_and_caches_nothing(clock, tmp_path):
    client, seen = _flaky_network([502])
    pages = _pages(http_fetch(client), tmp_path, clock, retries=2)
    with pytest.raises(SourceUnavailable, match="gave up after 3 attempts.*HTTP 502"):
        pages.get("race/milano-sanremo/2024")
    assert len(seen) == 3 and clock.sleeps == [2.0, 4.0]
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_a_missing_page_is_not_retried_and_is_remembered(clock, tmp_path):
    client, seen = _flaky_network([404])
    pages = _pages(http_fetch(client), tmp_path, clock)
    assert pages.get("rider/nobody") is None and pages.get("rider/nobody") is None
    assert len(seen) == 1 and clock.sleeps == []


def test_requests_are_spaced_by_the_rate_limit(fixture_site, clock, tmp_path):
    at: list[float] = []

    def timed(url: str) -> str:
        at.append(clock.now)
        return fixture_site(url)

    pages = _pages(timed, tmp_path, clock, min_interval=1.0)
    for url in ("race/tour-de-france/2022", "race/tour-de-france/2022/stage-21", "rider/alberto-contador",
                "race/paris-roubaix/2020"):
        pages.get(url)
        clock.now += 0.25  # parsing takes a little time between requests
    assert at == [0.0, 1.0, 2.0, 3.0]
    assert clock.sleeps == [0.75, 0.75, 0.75]
    pages.get("race/tour-de-france/2022")  # cached: no request, no wait
    assert len(at) == 4 and len(clock.sleeps) == 3
