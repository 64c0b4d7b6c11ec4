"""Nationality from the saved PCS pages (offline) and from each rider's page through the scraper's page source.

No network is reachable here: the rider pages are served by ``FixtureSite`` (conftest), a fake HTTP transport for
procyclingstats.com that answers with the procyclingstats package's saved pages and 404 for any other URL. Everything
else (the page cache, the rate limit, the package's parser) is the real code.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from shipml.apps.cycling.nationality import fill_from_rider_pages, flagged_riders, read_saved_pages
from shipml.apps.cycling.pages_source import PageSource, Politeness


def _pages(site, tmp_path: Path, clock) -> PageSource:
    return PageSource(site, tmp_path / "cache", Politeness(), clock=clock, sleep=clock.sleep)


def test_saved_pages_name_riders_with_their_nationality(html_fixtures: Path):
    seen = dict(read_saved_pages(html_fixtures).select("rider", "nationality").iter_rows())
    # from result tables (Ronde van Vlaanderen 2022, Tour de France stages), startlists, rankings and rider pages
    # (750 riders in the parsed pages), and the flags beside rider links in the HTML: 136 more
    assert len(seen) == 886
    assert (seen["greg-van-avermaet"], seen["tadej-pogacar"], seen["alberto-contador"], seen["david-canada"]) == (
        "BE", "SI", "ES", "ES")
    # the team time trial's parsed form has no nationality; the rankings' HTML was saved after its parsed form
    assert (seen["sam-oomen"], seen["reto-hollenstein"], seen["chris-harper"], seen["mauri-vansevenant"]) == (
        "NL", "CH", "AU", "BE")
    assert all(len(code) == 2 and code.isupper() for code in seen.values())


def test_html_flags_are_read_only_beside_one_rider_link():
    html = """<table>
      <tr><td><span class="flag nl"></span> <a href="rider/sam-oomen">Oomen</a></td><td>Sunweb</td></tr>
      <tr><td><span class="flag fr"></span> <a href="race/tour-de-france/2024">Tour</a></td>
          <td><a href="rider/tadej-pogacar">Pogačar</a></td></tr>
      <tr><td><span class="flag be"></span><span class="flag nl"></span><a href="rider/two-flags">?</a></td></tr>
      <tr><td><span class="flag it"></span><a href="rider/a-b">A</a> <a href="rider/c-d">C</a></td></tr>
    </table><ul><li><span class="flag si"></span><a href="rider/primoz-roglic/2024">Roglič</a></li></ul>"""
    assert list(flagged_riders(html)) == [("sam-oomen", "NL"), ("primoz-roglic", "SI")]


def test_rider_pages_fill_the_missing_nationalities_and_a_rerun_reads_the_cache(fixture_site, clock, tmp_path):
    riders = pl.DataFrame({"rider": ["alberto-contador", "david-canada", "no-such-rider", "tadej-pogacar"],
                           "nationality": [None, None, None, "SI"]})
    filled, done = fill_from_rider_pages(riders, _pages(fixture_site, tmp_path, clock))
    assert dict(filled.iter_rows()) == {"alberto-contador": "ES", "david-canada": None, "no-such-rider": None,
                                        "tadej-pogacar": "SI"}  # only david-canada's page of 2000 is saved
    assert done == {"asked": 3, "filled": 1, "missing": 2}
    assert fixture_site.calls == [f"https://www.procyclingstats.com/rider/{s}"
                                  for s in ("alberto-contador", "david-canada", "no-such-rider")]
    assert clock.sleeps  # requests are spaced by the rate limit
    again, _ = fill_from_rider_pages(riders, _pages(fixture_site, tmp_path, clock))
    assert again.equals(filled) and len(fixture_site.calls) == 3  # resumed from the cache: nothing fetched


def test_a_limit_spreads_a_first_run_over_several(fixture_site, clock, tmp_path):
    riders = pl.DataFrame({"rider": ["alberto-contador", "no-such-rider"], "nationality": [None, None]},
                          schema={"rider": pl.String, "nationality": pl.String})
    _, done = fill_from_rider_pages(riders, _pages(fixture_site, tmp_path, clock), limit=1)
    assert done == {"asked": 1, "filled": 1, "missing": 0}


def test_a_folder_import_with_rider_pages_fills_nationality_and_offline_keeps_its_own(
        cycling_dir, fixture_site, clock, tmp_path, monkeypatch):
    """``SHIPML_CYCLING_RIDER_PAGES``: the riders a folder names without a nationality are looked up on their pages
    (here the saved ones: the stand-in site answers 404 for the rest); with the site unreachable the import still
    stores the folder's own nationalities and says how many riders lack one."""
    from shipml.apps.cycling.data import read_source
    from shipml.apps.cycling.importers import load_shared
    from shipml.core.errors import SourceUnavailable

    _, plain = load_shared(cycling_dir)
    lacking = plain.filter(pl.col("nationality").is_null())["rider"].to_list()
    monkeypatch.setenv("SHIPML_CYCLING_RIDER_PAGES", "true")

    read = read_source(str(cycling_dir), pages=_pages(fixture_site, tmp_path / "online", clock))
    assert len(fixture_site.calls) == len(lacking) > 0  # one page per rider without a nationality, no more
    assert read.riders["nationality"].null_count() == read.skipped["riders_without_nationality"] <= len(lacking)

    def unreachable(url: str) -> str:
        raise SourceUnavailable(f"{url}: no route to host")

    offline = read_source(str(cycling_dir), pages=_pages(unreachable, tmp_path / "offline", clock))
    assert offline.riders.equals(plain)
    assert offline.skipped == {"riders_without_nationality": len(lacking)}
