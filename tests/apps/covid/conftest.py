import pytest
from fastapi.testclient import TestClient

from platform_fixtures import ADMIN_TOKEN
from shipml.apps import get
from shipml.core.api import create_app


@pytest.fixture
def covid_dir(shared_data):
    return shared_data / "covid"


@pytest.fixture
def api(platform):
    with TestClient(create_app([get("covid")]), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def admin():
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
