"""The API factory on its own (no app mounted): health, errors, admin auth, jobs, metrics."""

import pytest
from fastapi.testclient import TestClient

import sample_jobs  # noqa: F401
from platform_fixtures import ADMIN_TOKEN
from shipml.core import jobs
from shipml.core.api import create_app


@pytest.fixture
def client(platform):
    with TestClient(create_app([]), raise_server_exceptions=False) as c:
        yield c


def test_health_reports_every_component_ok(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert {"database", "queue", "registry"} == set(body["components"])
    assert all(c["ok"] for c in body["components"].values())


def test_admin_endpoint_needs_the_token(client):
    url = "/api/models/demo/champion?version=1"
    missing = client.post(url)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    wrong = client.post(url, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    right = client.post(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert right.status_code == 404  # past auth: the model simply does not exist
    assert "has no version 1" in right.json()["error"]["message"]


def test_errors_are_json_with_code_and_message(client):
    assert client.get("/api/nowhere").json()["error"]["code"] == "not_found"
    missing_job = client.get("/api/jobs/" + "0" * 32)
    assert missing_job.status_code == 404 and "no job with id" in missing_job.json()["error"]["message"]
    bad = client.get("/api/jobs?limit=0")
    assert bad.status_code == 422 and "limit" in bad.json()["error"]["message"]
    weird = client.get("/api/jobs?status=sleeping")
    assert weird.status_code == 422 and "status must be one of" in weird.json()["error"]["message"]


def test_jobs_are_listed_and_read_back(client):
    job_id = jobs.submit("test", "sleep", seconds=0.1)
    listed = client.get("/api/jobs", params={"app": "test", "status": "queued"}).json()
    assert [j["id"] for j in listed] == [job_id]
    one = client.get(f"/api/jobs/{job_id}").json()
    assert one["status"] == "queued" and one["progress"] == 0.0


def test_metrics_count_requests_by_route_and_jobs_by_status(client):
    jobs.submit("test", "boom")
    client.get("/api/health")
    text = client.get("/metrics").text
    assert 'shipml_http_requests_total{method="GET",route="/api/health",status="200"} 1.0' in text
    assert 'shipml_http_request_seconds_bucket' in text
    assert 'shipml_jobs{status="queued"} 1.0' in text


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert "/api/health" in client.get("/openapi.json").json()["paths"]
