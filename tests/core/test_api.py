"""The API factory on its own (no app mounted): health, errors, admin auth, jobs, metrics."""

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

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
    assert weird.status_code == 422 and "'queued', 'running', 'done' or 'failed'" in weird.json()["error"]["message"]


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


@pytest.fixture
def failing(platform):
    """The API with routes that fail the ways the real ones can: a bug, a database outage, an unstorable value."""
    from sqlalchemy.exc import DataError, OperationalError

    api = create_app([])

    def bug() -> None:
        raise RuntimeError("secret detail at /srv/shipml/var/shipml.db")

    def outage() -> None:
        raise OperationalError("SELECT * FROM jobs WHERE id = %(id)s", {"id": 1}, ConnectionRefusedError("db:5432"))

    def unstorable() -> None:
        raise DataError("INSERT INTO t VALUES (%(v)s)", {"v": 2**40}, ValueError("integer out of range"))

    for path, fn in (("/bug", bug), ("/outage", outage), ("/unstorable", unstorable)):
        api.add_api_route(path, fn)
    with TestClient(api, raise_server_exceptions=False) as c:
        yield c


def test_no_response_carries_internals(failing):
    bug = failing.get("/bug")
    assert bug.status_code == 500 and bug.headers["X-Request-ID"] in bug.json()["error"]["message"]
    assert "secret" not in bug.text and "/srv" not in bug.text and "RuntimeError" not in bug.text
    outage = failing.get("/outage")
    assert outage.status_code == 503 and outage.headers["Retry-After"] == "5"
    assert "SELECT" not in outage.text and "5432" not in outage.text
    unstorable = failing.get("/unstorable")
    assert unstorable.status_code == 422 and "INSERT" not in unstorable.text


def test_a_body_over_the_limit_is_refused_before_any_work(client):
    response = client.post("/api/models/demo/champion?version=1", content=b"x" * 2_000_001)
    assert response.status_code == 413 and "limited to 2,000,000 bytes" in response.json()["error"]["message"]


class Note(BaseModel):
    text: str


def echo(note: Note) -> dict[str, int]:
    return {"length": len(note.text)}


def test_a_streamed_body_over_the_limit_is_refused_as_it_arrives(platform):
    """No Content-Length (a chunked upload): the limit is counted on the bytes as they arrive."""
    api = create_app([])
    api.add_api_route("/echo", echo, methods=["POST"])

    def chunks(n: int):
        yield b'{"text": "'
        for _ in range(n):
            yield b"x" * 100_000
        yield b'"}'

    with TestClient(api, raise_server_exceptions=False) as c:
        small = c.post("/echo", content=chunks(3), headers={"Content-Type": "application/json"})
        large = c.post("/echo", content=chunks(25), headers={"Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in small.request.headers}
    assert small.status_code == 200 and small.json() == {"length": 300_000}
    assert large.status_code == 413 and large.json()["error"]["code"] == "body_too_large"
    assert "limited to 2,000,000 bytes" in large.json()["error"]["message"]


def test_health_names_a_failing_part_without_its_reason(platform, monkeypatch):
    """A tracking server that cannot be reached makes health 503 'degraded'; the answer says which part is down,
    never its host, port or the exception text (those go to the log)."""
    from shipml.settings import get_settings

    monkeypatch.setenv("SHIPML_MLFLOW_URI", "http://127.0.0.1:9/mlflow")  # the discard port: nothing listens
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    get_settings.cache_clear()
    with TestClient(create_app([]), raise_server_exceptions=False) as c:
        response = c.get("/api/health")
    assert response.status_code == 503 and response.json()["status"] == "degraded"
    registry_check = response.json()["components"]["registry"]
    assert registry_check["ok"] is False and registry_check["error"] in ("unavailable", "MlflowException")
    assert response.json()["components"]["database"]["ok"] is True
    assert "127.0.0.1" not in response.text and ":9" not in response.text and "mlflow" not in response.text.lower()


def test_public_job_records_hide_params_and_tracebacks(client):
    job_id = jobs.submit("test", "sleep", seconds=0.1)
    assert "params" not in client.get(f"/api/jobs/{job_id}").json()
    admin = client.get(f"/api/jobs/{job_id}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    assert admin["params"] == {"seconds": 0.1}
    assert client.get("/api/jobs/not-an-id").status_code == 422
    assert client.get("/api/jobs", params={"offset": 9223372036854775808}).status_code == 422
    non_ascii = {"Authorization": "Bearer tøken".encode("latin-1")}
    odd = client.post("/api/models/demo/champion?version=1", headers=non_ascii)
    assert odd.status_code == 403


def test_docs_and_redoc_load_their_assets_from_the_api_itself(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
        for asset in re.findall(r'(?:src|href)="(/static-offline-docs/[^"]+)"', html):
            assert client.get(asset).status_code == 200, asset
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_metrics_label_app_routes_with_their_prefix(platform):
    import sample_app

    with TestClient(create_app([sample_app.APP]), raise_server_exceptions=False) as c:
        c.get("/api/demo/status")
        assert c.get("/api/demo/values/a").json() == {"key": "a"}  # the app's own router, mounted under a prefix
        c.get(f"/api/jobs/{'0' * 32}")
        text = c.get("/metrics").text
    assert 'route="/api/demo/status"' in text and 'route="/api/jobs/{job_id}"' in text
    assert 'route="/api/demo/values/{key}"' in text


def test_a_signed_value_with_non_ascii_characters_is_refused_not_a_crash(platform):
    from shipml.core import signing
    from shipml.core.errors import InvalidInput

    issued = signing.issue("user id", prefix="anon-")
    assert signing.verify("user id", issued) == issued
    for forged in ("anon-1.é", "é.é", issued[:-1] + "ü", "anon-\ud800.x"):
        with pytest.raises(InvalidInput):
            signing.verify("user id", forged)


def _finish(job_id, result):
    """What a worker leaves behind, written directly (the worker's own path is tested in test_jobs)."""
    from sqlalchemy import update

    from shipml.core import db
    from shipml.core.tables import Job, utcnow

    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(status="done", progress=1.0, result=result,
                                                             finished_at=utcnow()))


def test_public_job_listings_show_no_params_no_results_and_no_jobs_submitted_by_the_public(client):
    admin_job = jobs.submit("test", "sleep", seconds=0.1)
    _finish(admin_job, {"slept": 0.1})
    [private] = jobs.submit_many("test", "square", [{"x": 3}], private=True)  # a stranger's request
    _finish(private, {"square": 9, "because": "you liked Xyzzy"})

    listed = client.get("/api/jobs", params={"limit": 500}).json()
    assert [j["id"] for j in listed] == [admin_job]  # the stranger's job is not listed at all
    assert all("params" not in j and "result" not in j for j in listed)
    assert client.get("/api/jobs", params={"app": "test", "status": "done"}).json() == listed

    one = client.get(f"/api/jobs/{private}").json()  # its holder (or a guess) learns the status, not the answer
    assert one["status"] == "done" and one["progress"] == 1.0 and "result" not in one and "params" not in one
    assert "Xyzzy" not in client.get(f"/api/jobs/{private}").text

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    everything = client.get("/api/jobs", headers=admin).json()
    assert {j["id"] for j in everything} == {admin_job, private}
    assert client.get(f"/api/jobs/{private}", headers=admin).json()["result"]["square"] == 9


def test_job_ids_are_unguessable():
    """Ids are 128-bit random (uuid4, from the operating system's generator): a prediction id is its holder's key."""
    import uuid

    ids = {jobs.new_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(uuid.UUID(i).version == 4 for i in ids)


@pytest.mark.parametrize("body", [b'{"text": "x', b'{"text": "\xff"}', b"[" * 100_000, b'{"text": "a",}'])
def test_a_malformed_json_body_is_a_documented_422_that_says_so(platform, body):
    api = create_app([])
    api.add_api_route("/echo", echo, methods=["POST"])
    with TestClient(api, raise_server_exceptions=False) as c:
        response = c.post("/echo", content=body, headers={"Content-Type": "application/json"})
        documented = c.get("/openapi.json").json()["paths"]["/echo"]["post"]["responses"]
    assert response.status_code == 422 and str(response.status_code) in documented
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith("the body is not valid JSON")


def test_public_job_records_name_files_without_their_server_folders(client, platform):
    """Whatever an app's message says, a public job record carries no server path: a file under the allowed folders
    is named relative to them, any other by its name (URLs are left as they are)."""
    from sqlalchemy import update

    from shipml.core import db
    from shipml.core.tables import Job

    job_id = jobs.submit("test", "sleep", seconds=0.1)
    inside = platform.resolved_home / "sources" / "2024" / "data.csv"
    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(
            status="failed", message=f"reading {inside}", error="no file at /srv/private/thing.csv (see "
                                                               "https://example.org/a/b.csv)"))
    record = client.get(f"/api/jobs/{job_id}").json()
    assert record["message"] == "reading 2024/data.csv"
    assert record["error"] == "no file at thing.csv (see https://example.org/a/b.csv)"
    listed = client.get("/api/jobs").text
    assert str(platform.resolved_home) not in listed and "/srv/" not in listed
    admin = client.get(f"/api/jobs/{job_id}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
    assert admin["message"] == f"reading {inside}"  # the operator sees where


def test_health_documents_its_own_503_answer(client):
    responses = client.get("/openapi.json").json()["paths"]["/api/health"]["get"]["responses"]
    assert responses["503"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HealthAnswer"}
    assert responses["500"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
