import polars as pl
import pytest

from shipml.core import datasets
from shipml.core.errors import NotFound


def test_identical_content_is_stored_once(platform):
    frame = pl.DataFrame({"day": [1, 2, 3], "cases": [5.0, None, 7.5]})
    first = datasets.save("demo", frame, source="a.csv")
    # same values built another way (two chunks) still count as identical
    again = datasets.save("demo", pl.concat([frame[:1], frame[1:]]), source="b.csv")
    assert first.created and not again.created
    assert again.snapshot.version == 1
    assert datasets.version_count("demo") == 1


def test_changed_content_is_a_new_version_and_latest_reads_it_back(platform):
    datasets.save("demo", pl.DataFrame({"x": [1]}), source="one")
    second = datasets.save("demo", pl.DataFrame({"x": [1, 2]}), source="two", synthetic=True)
    assert second.created and second.snapshot.version == 2
    latest = datasets.latest("demo")
    assert latest is not None and latest.version == 2 and latest.rows == 2 and latest.synthetic
    assert latest.columns == {"x": "Int64"}
    assert latest.read()["x"].to_list() == [1, 2]
    assert [s.version for s in datasets.history("demo")] == [2, 1]
    assert datasets.latest("other") is None


def test_require_latest_says_how_to_get_data(platform):
    with pytest.raises(NotFound, match="shipml ingest"):
        datasets.require_latest("nothing")


def test_refresh_attempts_are_recorded_newest_first(platform):
    saved = datasets.save("demo", pl.DataFrame({"x": [1]}), source="good.csv")
    datasets.record_refresh("demo", source="good.csv", status="stored", snapshot=saved.snapshot)
    datasets.record_refresh("demo", source="bad.csv", status="rejected", reason="no date column")
    rows = datasets.refreshes("demo")
    assert [r["status"] for r in rows] == ["rejected", "stored"]
    assert rows[0]["reason"] == "no date column" and rows[1]["version"] == 1
    assert datasets.refreshes("demo", limit=1, offset=1)[0]["status"] == "stored"


def test_concurrent_writers_get_distinct_versions_and_lose_nothing(platform):
    """Four ingests at once (threads, one database): every distinct content gets its own version, none fails."""
    from concurrent.futures import ThreadPoolExecutor

    frames = [pl.DataFrame({"x": [i, i + 1]}) for i in range(4)] * 2  # each content twice
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda f: datasets.save("racing", f, source="test"), frames))
    stored = sorted(r.snapshot.version for r in results if r.created)
    assert datasets.version_count("racing") == len(stored)
    assert stored == list(range(1, len(stored) + 1))  # no gaps, no duplicates
    assert {datasets.latest("racing").version} == {max(stored)}
