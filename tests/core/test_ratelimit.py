"""Rate limits: a moving window per key, counted in Redis when the deployment has one (shared by every API process:
N processes allow the limit once, not N times), in the process's memory otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from platform_fixtures import REDIS
from shipml.core.access import PublicWrite
from shipml.core.api import create_app
from shipml.core.ratelimit import RateLimit
from shipml.settings import get_settings


def test_a_key_gets_its_amount_then_the_time_to_wait(platform):
    limit = RateLimit("test-writes", 3, per_seconds=60)
    assert [limit.hit("1.2.3.4") for _ in range(3)] == [None, None, None]
    wait = limit.hit("1.2.3.4")
    assert wait is not None and 1 <= wait <= 60
    assert limit.hit("5.6.7.8") is None  # per key
    assert RateLimit("other-writes", 3).hit("1.2.3.4") is None  # per limit


HIT_THREE = """
from shipml.core.ratelimit import RateLimit
limit = RateLimit("shared-writes", 5, per_seconds=60)
print([limit.hit("9.9.9.9") for _ in range(3)])
"""


@pytest.mark.services
def test_with_redis_the_count_is_shared_by_every_api_process(platform, monkeypatch):
    monkeypatch.setenv("SHIPML_REDIS_URL", os.environ.get("SHIPML_TEST_REDIS", REDIS))
    get_settings.cache_clear()
    seen = []
    for _ in range(2):  # two other processes, three hits each: the limit of five is spent once between them
        other = subprocess.run([sys.executable, "-c", HIT_THREE], capture_output=True, text=True, timeout=120)
        assert other.returncode == 0, other.stderr
        seen.append(other.stdout.strip())
    assert seen[0] == "[None, None, None]" and seen[1].startswith("[None, None, ") and seen[1] != seen[0], seen
    assert RateLimit("shared-writes", 5, per_seconds=60).hit("9.9.9.9") is not None  # this one counts them too


def test_public_writes_answer_429_with_retry_after(platform, monkeypatch):
    monkeypatch.setenv("SHIPML_PUBLIC_WRITES_PER_MINUTE", "2")
    get_settings.cache_clear()
    api: FastAPI = create_app([])
    api.add_api_route("/write", lambda: {"ok": True}, methods=["POST"], dependencies=[PublicWrite])
    with TestClient(api, raise_server_exceptions=False) as c:
        codes = [c.post("/write").status_code for _ in range(3)]
        refused = c.post("/write")
    assert codes == [200, 200, 429] and refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "at most 2 writes a minute per client" in refused.json()["error"]["message"]
