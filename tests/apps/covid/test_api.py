"""The covid API on real data (datasets_data.csv), through the real stores."""

import time

import numpy as np
import pytest

from shipml.apps.covid import data, tasks
from shipml.core.training import TrainingData, select_and_promote


@pytest.fixture
def loaded(api, covid_dir):
    data.refresh(str(covid_dir / "datasets_data.csv"))
    return api


def test_metrics_catalog_has_ids_russian_names_labels_units(loaded):
    catalog = {m["id"]: m for m in loaded.get("/api/covid/metrics").json()}
    assert catalog["cases"]["name_ru"] == "всего" and catalog["cases"]["label"] == "New cases"
    assert catalog["cases_7d"]["unit"] == "people"
    assert len(catalog) > 130  # every column of the publication plus the derived metrics


def test_series_of_several_metrics_in_a_date_range(loaded):
    body = loaded.get("/api/covid/series", params={"metric": "cases,deaths", "from": "2021-05-01",
                                                    "to": "2021-05-31"}).json()
    assert body["dates"][0] == "2021-05-01" and body["dates"][-1] == "2021-05-31"
    assert set(body["values"]) == {"cases", "deaths"} and len(body["values"]["cases"]) == 31
    assert body["values"]["cases"][body["dates"].index("2021-05-10")] == 62  # the raw file's value
    assert body["synthetic"] is False


def test_rolling_window_is_the_mean_of_the_last_days(loaded):
    raw = loaded.get("/api/covid/series", params={"metric": "cases", "to": "2021-05-10"}).json()
    smooth = loaded.get("/api/covid/series", params={"metric": "cases", "to": "2021-05-10",
                                                      "rolling": 7}).json()
    assert smooth["values"]["cases"][-1] == pytest.approx(sum(raw["values"]["cases"][-7:]) / 7, abs=1e-3)


@pytest.mark.parametrize(("params", "words"), [
    ({"metric": "casse"}, "unknown metric 'casse'; did you mean cases"),
    ({"metric": "cases", "from": "2022-01-01", "to": "2021-01-01"}, "is after"),
    ({"metric": "cases", "rolling": 0}, "rolling"),
    ({"metric": "cases", "from": "01.02.2021"}, "from"),
    ({}, "metric"),
])
def test_bad_series_parameters_are_422_with_what_to_fix(loaded, params, words):
    response = loaded.get("/api/covid/series", params=params)
    assert response.status_code == 422
    assert words in response.json()["error"]["message"]


def test_summary_gives_latest_day_and_changes(loaded):
    body = loaded.get("/api/covid/summary").json()
    assert body["date"] == "2023-06-07" and body["synthetic"] is False
    cases = next(h for h in body["headline"] if h["id"] == "cases")
    series = loaded.get("/api/covid/series", params={"metric": "cases", "from": "2023-05-31"}).json()
    values = series["values"]["cases"]
    assert cases["value"] == values[-1]
    assert cases["change_day"] == pytest.approx(values[-1] - values[-2])
    assert cases["change_week"] == pytest.approx(values[-1] - values[0])


def test_districts_and_demographics(loaded):
    districts = loaded.get("/api/covid/districts").json()
    assert districts["date"] == "2023-06-07"
    names = {d["id"] for d in districts["districts"]}
    assert "district_kaliningrad" in names and len(names) > 10
    demo = loaded.get("/api/covid/demographics", params={"from": "2021-01-01", "to": "2021-12-31"}).json()
    assert {a["id"] for a in demo["age"]} and all(a["value"] >= 0 for a in demo["age"])
    assert {s["id"] for s in demo["sex"]} == {"sex_male", "sex_female"}


def test_no_data_yet_is_a_404_that_says_what_to_do(api):
    response = api.get("/api/covid/summary")
    assert response.status_code == 404 and "shipml ingest" in response.json()["error"]["message"]


def test_admin_only_ingest_and_train(api, admin):
    assert api.post("/api/covid/ingest").status_code == 401
    assert api.post("/api/covid/train", headers={"Authorization": "Bearer nope"}).status_code == 403
    accepted = api.post("/api/covid/ingest", params={"source": "synthetic"}, headers=admin)
    assert accepted.status_code == 202 and accepted.json()["job_id"]
    assert api.get("/api/covid/status").json()["model"]["name"] == tasks.MODEL


def _wait_served(client, version: int) -> None:
    deadline = time.monotonic() + 60  # a bound on waiting, not a timing figure: served within the poll interval
    while client.get("/api/covid/forecast").json()["version"] != version:  # plus a model load, slower on a busy box
        assert time.monotonic() < deadline, f"champion v{version} not served within 60 s"
        time.sleep(0.25)


def test_retraining_on_new_data_replaces_the_champion_and_corrupted_data_does_not(loaded, covid_dir, admin):
    assert loaded.get("/api/covid/forecast").status_code == 404
    first = select_and_promote(tasks.model_spec())
    assert first.promoted and first.version == 1
    forecast = loaded.get("/api/covid/forecast", params={"days": 7}).json()
    assert forecast["version"] == 1 and len(forecast["forecast"]) == 7

    # newer data (a later revision of the export, with more days): the same configuration wins again and,
    # whatever its score, replaces the champion unless clearly worse — the served model follows the data
    spec = tasks.model_spec()
    snap, clean = data.load_clean()
    series, last_day = tasks._cases(clean)
    newer = select_and_promote(spec, training=TrainingData(snap, (series[:-7], last_day)))
    assert newer.promoted, newer.reason
    _wait_served(loaded, 2)

    # data that passed validation but is garbage (every day's count scrambled by x100 noise): the best model on it
    # is far worse than the champion, so it is registered but not served
    rng = np.random.default_rng(7)
    corrupted = series * rng.uniform(0, 100, len(series))
    bad = select_and_promote(spec, training=TrainingData(snap, (corrupted, last_day)))
    assert not bad.promoted and "worse by more than the 25% tolerance" in bad.reason, bad.reason
    assert loaded.get("/api/covid/forecast").json()["version"] == 2

    # an operator moves the alias by hand: served within 10 s, no restart
    moved = loaded.post(f"/api/models/{tasks.MODEL}/champion", params={"version": 1}, headers=admin)
    assert moved.status_code == 200
    _wait_served(loaded, 1)


def test_health_shows_data_freshness_and_champion(loaded):
    body = loaded.get("/api/health").json()
    covid = body["apps"]["covid"]
    assert body["status"] == "ok" and covid["ok"]
    assert covid["data"]["version"] == 1 and covid["data"]["rows"] == 1187
    assert covid["data"]["last_refresh"]["status"] == "stored"
    assert covid["model"] == {"name": tasks.MODEL, "champion": None}


def test_a_reversed_range_is_a_422_that_says_to_swap_the_dates(loaded):
    for path in ("/api/covid/series", "/api/covid/demographics"):
        response = loaded.get(path, params={"metric": "cases", "from": "2021-06-01", "to": "2021-05-01"})
        assert response.status_code == 422, path
        assert response.json()["error"]["message"] == "'from' (2021-06-01) is after 'to' (2021-05-01): swap them"


@pytest.mark.parametrize(("params", "note", "days"), [
    ({"from": "2019-01-01", "to": "2019-12-31"},
     "no data between 2019-01-01 and 2019-12-31: the data covers 2020-03-08 to 2023-06-07", 0),
    ({"from": "2024-01-01"}, "no data from 2024-01-01: the data covers 2020-03-08 to 2023-06-07", 0),
    ({"from": "2020-01-01", "to": "2020-03-10"},
     "no data before 2020-03-08: the data covers 2020-03-08 to 2023-06-07", 3),
    ({"from": "2023-06-01", "to": "2023-12-31"},
     "no data after 2023-06-07: the data covers 2020-03-08 to 2023-06-07", 7),
    ({"from": "2021-05-01", "to": "2021-05-31"}, None, 31),
])
def test_a_range_outside_the_data_says_so(loaded, params, note, days):
    body = loaded.get("/api/covid/series", params={"metric": "cases", **params}).json()
    assert body["note"] == note and len(body["dates"]) == days == len(body["values"]["cases"])
    assert body["covers"] == {"from": "2020-03-08", "to": "2023-06-07"}
    demo = loaded.get("/api/covid/demographics", params=params).json()
    assert demo["note"] == note and demo["covers"] == body["covers"]


def test_a_repeated_series_is_answered_before_routing_and_follows_new_data(loaded, covid_dir, tmp_path,
                                                                            monkeypatch):
    from shipml.settings import get_settings

    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "3600")
    get_settings.cache_clear()
    params = {"metric": "cases", "from": "2021-05-01", "to": "2021-05-03", "rolling": 1}
    first, kept, again = (loaded.get("/api/covid/series", params=params) for _ in range(3))
    assert first.status_code == kept.status_code == again.status_code == 200
    assert first.content == again.content and "x-cache" not in first.headers and again.headers["x-cache"] == "hit"
    assert first.headers["x-request-id"] != again.headers["x-request-id"]  # still through the request middleware
    scraped = loaded.get("/metrics").text
    assert 'route="/api/covid/series",status="200"} 3.0' in scraped  # the repeat is counted by its route

    # a caller's mistake is still answered by validation each time, never repeated from an earlier answer
    assert loaded.get("/api/covid/series", params={**params, "rolling": 0}).status_code == 422

    # a revised export (2 May's count corrected): once the version is looked up again, the answer follows it
    revised = tmp_path / "datasets_data.csv"
    revised.write_text((covid_dir / "datasets_data.csv").read_text().replace("\n2021-05-02,62,", "\n2021-05-02,64,"))
    assert data.refresh(str(revised))["status"] == "stored"
    stale = loaded.get("/api/covid/series", params=params)  # the version is still fresh: the kept answer
    assert stale.content == first.content and stale.headers["x-cache"] == "hit"
    monkeypatch.setenv("SHIPML_VERSION_CHECK_SECONDS", "0")
    get_settings.cache_clear()
    assert first.json()["values"]["cases"] == [60, 62, 60]
    assert loaded.get("/api/covid/series", params=params).json()["values"]["cases"] == [60, 64, 60]
