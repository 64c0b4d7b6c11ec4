"""Refreshes through the real stores: versions, last-good-wins, and the reasons users see."""

import subprocess
import sys

import pytest

from shipml.apps.covid import data
from shipml.apps.covid.cleaning import parse_export
from shipml.core import datasets, jobs
from shipml.core.errors import RejectedData, ShipmlError, SourceUnavailable
from shipml.settings import get_settings


def _served_cases(api):
    body = api.get("/api/covid/series", params={"metric": "cases"}).json()
    return dict(zip(body["dates"], body["values"]["cases"], strict=True))


def _expected_cases(path):
    clean = parse_export(path.read_bytes())
    return {d.isoformat(): v for d, v in zip(clean["date"], clean["всего"], strict=True)}


IMPLAUSIBLE = "data_2021-08-12.csv"  # published with -23,474 people tested (cumulative) on 2021-08-11 and -12


def test_replaying_revisions_through_the_refresh_job(api, covid_dir, worker):
    """One snapshot per changed file, none for a repeated one, none for the implausible one; the API serves the
    newest good revision."""
    worker.start()
    revisions = sorted((covid_dir / "revisions").glob("data_*.csv"))
    assert len(revisions) == 8
    order = revisions[:3] + [revisions[2]] + revisions[3:]  # the third file arrives twice
    served = None
    for n, path in enumerate(order):
        job_id = jobs.submit("covid", "ingest", source=str(path))
        record = jobs.wait(job_id, timeout=120)
        if path.name == IMPLAUSIBLE:
            assert record["status"] == "failed" and "cumulative column" in record["error"], record
        else:
            assert record["status"] == "done", (path.name, record["error"], worker.output())
            assert record["result"]["status"] == ("unchanged" if n == 3 else "stored"), path.name
            served = path
        assert _served_cases(api) == pytest.approx(_expected_cases(served), nan_ok=True), path.name
    assert datasets.version_count(data.DATASET) == 7
    statuses = [r["status"] for r in api.get("/api/covid/refreshes", params={"limit": 20}).json()]
    assert statuses.count("stored") == 7 and statuses.count("unchanged") == 1 and statuses.count("rejected") == 1


def test_implausible_exports_are_rejected_with_the_reason(platform, covid_dir, tmp_path):
    good = parse_export((covid_dir / "datasets_data.csv").read_bytes())
    data.refresh(str(covid_dir / "datasets_data.csv"))
    header, *rows = (covid_dir / "datasets_data.csv").read_text().splitlines()
    cut = tmp_path / "cut.csv"  # 100 days cut out of the middle
    cut.write_text("\n".join([header, *rows[:300], *rows[400:]]) + "\n")
    with pytest.raises(RejectedData, match="100 days are missing before"):
        data.refresh(str(cut))
    assert data.load_clean()[1].equals(good)  # the last good data is still served


BAD_INPUTS = {
    "date format switching mid-file": lambda good: good.replace(b"2021-05-10,", b"10.05.2021,", 1),
    "ambiguous dates (all days <= 12)": lambda good: b"\n".join(
        [good.split(b"\n")[0]] + [
            f"{d:02d}.{m:02d}.2020".encode() + line[line.index(b","):]
            for (d, m), line in zip([(d, m) for m in range(1, 13) for d in range(1, 13)],
                                    good.split(b"\n")[1:101], strict=False)
        ]) + b"\n",
    "text in a numeric column": lambda good: good.replace(b"\n2021-05-10,62,", b"\n2021-05-10,sixty-two,", 1),
    "truncated file": lambda good: good[: len(good) // 2],
    "empty file": lambda good: b"",
    "HTML error page": lambda good: b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
    "required column missing": lambda good: good.replace("всего".encode(), "всег0".encode(), 1),
}


REASONS = {
    "date format switching mid-file": "dates switch format at row 429: '10.05.2021'",
    "ambiguous dates (all days <= 12)": "ambiguous dates",
    "text in a numeric column": "column 'всего' row 429: 'sixty-two' is not a number",
    "truncated file": "truncated file",
    "empty file": "empty file",
    "HTML error page": "HTML page",
    "required column missing": "required column 'всего' is missing",
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_rejected_with_a_reason_and_last_good_stays_served(case, api, covid_dir, tmp_path):
    good_path = covid_dir / "datasets_data.csv"
    good = good_path.read_bytes()
    data.refresh(str(good_path))
    before = api.get("/api/covid/summary").json()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(BAD_INPUTS[case](good))
    assert bad.read_bytes() != good
    with pytest.raises(RejectedData) as rejected:
        data.refresh(str(bad))
    assert REASONS[case] in rejected.value.message
    assert api.get("/api/covid/summary").json() == before
    assert datasets.version_count(data.DATASET) == 1
    last = api.get("/api/covid/refreshes").json()[0]
    assert last["status"] == "rejected" and last["reason"] == rejected.value.message


def test_unreachable_source_is_recorded_as_offline(platform, monkeypatch):
    monkeypatch.setenv("SHIPML_ALLOW_PRIVATE_SOURCES", "1")  # a local address, allowed for this test only
    get_settings.cache_clear()
    with pytest.raises(SourceUnavailable, match="could not fetch"):
        data.refresh("http://127.0.0.1:9/data.csv")
    assert datasets.refreshes(data.DATASET)[0]["status"] == "offline"
    monkeypatch.delenv("SHIPML_ALLOW_PRIVATE_SOURCES")
    get_settings.cache_clear()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/api/health", "http://localhost/x.csv", "http://10.1.2.3/a.csv",
                                 "http://169.254.169.254/latest/meta-data", "file:///etc/shadow"])
def test_private_and_local_urls_are_refused_before_any_request(platform, url):
    with pytest.raises(ShipmlError) as refused:
        data.refresh(url)
    assert refused.value.status_code in (403, 502)
    assert "private or local" in refused.value.message or "no file" in refused.value.message


def test_api_sources_are_limited_to_allowed_folders_and_urls(api, admin, tmp_path):
    secret = api.post("/api/covid/ingest", params={"source": "/etc/shadow"}, headers=admin)
    missing = api.post("/api/covid/ingest", params={"source": "/etc/no-such-file"}, headers=admin)
    assert secret.status_code == missing.status_code == 403
    assert secret.json()["error"]["message"] == missing.json()["error"]["message"]  # existence is not revealed
    assert "must be under" in secret.json()["error"]["message"]
    local = api.post("/api/covid/ingest", params={"source": "http://127.0.0.1:8000/x"}, headers=admin)
    assert local.status_code == 403
    allowed = get_settings().resolved_home / "sources"
    allowed.mkdir(parents=True, exist_ok=True)
    not_there = api.post("/api/covid/ingest", params={"source": str(allowed / "data.csv")}, headers=admin)
    assert not_there.status_code == 404 and str(allowed) not in not_there.text
    (allowed / "data.csv").write_text("date;всего\n")
    inside = api.post("/api/covid/ingest", params={"source": str(allowed / "data.csv")}, headers=admin)
    assert inside.status_code == 202


def test_cli_ingest_exits_non_zero_with_the_reason(platform, tmp_path):
    bad = tmp_path / "page.csv"
    bad.write_text("<html><body>Service unavailable</body></html>")
    run = subprocess.run([sys.executable, "-m", "shipml.cli", "ingest", "covid", "--source", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "HTML" in run.stdout
    ok = subprocess.run([sys.executable, "-m", "shipml.cli", "ingest", "covid", "--source", "synthetic"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "stored" in ok.stdout


def test_failed_refresh_job_is_visible_with_its_reason(api, admin, worker):
    worker.start()
    bad = get_settings().resolved_home / "sources" / "empty.csv"  # where API file sources may be
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"")
    job_id = api.post("/api/covid/ingest", params={"source": str(bad)}, headers=admin).json()["job_id"]
    record = jobs.wait(job_id, timeout=120)
    assert record["status"] == "failed" and "empty" in record["error"]
    assert api.get(f"/api/jobs/{job_id}").json()["error"] == record["error"]
