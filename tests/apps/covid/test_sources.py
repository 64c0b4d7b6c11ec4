"""Where an admin's ``?source=`` may read from, and what the public learns of it: a bare name or a relative path is
a file of the allowed folders (never of the worker's working directory); no public answer carries a server path."""

from __future__ import annotations

import shutil

import pytest

from shipml.apps.covid import data
from shipml.core import jobs
from shipml.settings import get_settings


@pytest.fixture
def allowed():
    folder = get_settings().resolved_home / "sources"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_bare_name_is_a_file_of_the_allowed_folder_not_of_the_working_directory(api, admin, allowed, tmp_path,
                                                                                  monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "secretfile").write_text("the worker's own file")
    monkeypatch.chdir(cwd)
    missing = api.post("/api/covid/ingest", params={"source": "secretfile"}, headers=admin)
    assert missing.status_code == 404 and "no file or folder 'secretfile'" in missing.json()["error"]["message"]
    for name in ("secretfile", "sub/data.csv"):
        (allowed / name).parent.mkdir(parents=True, exist_ok=True)
        (allowed / name).write_text("an export")
        accepted = api.post("/api/covid/ingest", params={"source": name}, headers=admin)
        assert accepted.status_code == 202, accepted.text
        given = jobs.get(accepted.json()["job_id"])["params"]["source"]
        assert given == str(allowed / name)  # the job reads inside the allowed folder, wherever the worker runs
    for escape in ("../secretfile", "sub/../../secretfile", str(cwd / "secretfile"), "~/secretfile"):
        refused = api.post("/api/covid/ingest", params={"source": escape}, headers=admin)
        assert refused.status_code == 403, escape
        message = refused.json()["error"]["message"]
        assert "must be under" in message and str(allowed) not in message and "/" not in message.split("(")[0]
    assert api.post("/api/covid/ingest", params={"source": "synthetic"}, headers=admin).status_code == 202


def test_no_public_answer_carries_a_server_path(api, admin, allowed, covid_dir, worker):
    home = str(get_settings().resolved_home)
    shutil.copy(sorted((covid_dir / "revisions").glob("data_*.csv"))[0], allowed / "first.csv")
    data.refresh(str(allowed / "first.csv"))
    (allowed / "missing.csv").write_text("")  # there when the ingest is accepted, gone when the worker looks
    failed = api.post("/api/covid/ingest", params={"source": "missing.csv"}, headers=admin).json()["job_id"]
    (allowed / "missing.csv").unlink()
    worker.start()
    record = jobs.wait(failed, timeout=120)
    assert record["status"] == "failed", worker.output()
    public = {path: api.get(path) for path in ("/api/health", "/api/covid/status", "/api/covid/refreshes",
                                               "/api/covid/summary", f"/api/jobs/{failed}", "/api/jobs")}
    for path, answer in public.items():
        assert answer.status_code in (200, 503), (path, answer.text)
        assert home not in answer.text and "/sources/" not in answer.text, (path, answer.text)
    sources = [r["source"] for r in public["/api/covid/refreshes"].json()]
    assert sources == ["missing.csv", "first.csv"]  # named relative to the allowed folder
    assert public["/api/covid/status"].json()["data"]["source"] == "first.csv"
    assert "missing.csv" in public[f"/api/jobs/{failed}"].json()["error"]

