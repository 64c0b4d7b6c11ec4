"""Platform fixtures: a fresh home per test, on embedded defaults or (SHIPML_TEST_SERVICES=1) on the
real PostgreSQL and Redis services, and a real worker process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from shipml.settings import Settings, get_settings

SERVICES = os.environ.get("SHIPML_TEST_SERVICES") == "1"
PG_ADMIN = os.environ.get("SHIPML_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("SHIPML_TEST_REDIS", "redis://127.0.0.1:6379/0")
ADMIN_TOKEN = "test-admin-token"
TESTS = Path(__file__).parent


def fresh_pg_database() -> tuple[str, str]:
    name = f"shipml_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, f"{base}/{name}"


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def platform_context(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for one test (or module): its own home, database and queue; fast heartbeats and polls."""
    from shipml.core import db

    env = {
        "SHIPML_HOME": str(home),
        "SHIPML_ADMIN_TOKEN": ADMIN_TOKEN,
        "SHIPML_QUEUE_NAME": f"shipml-test-{uuid.uuid4().hex[:8]}",
        "SHIPML_JOB_HEARTBEAT_SECONDS": "0.5",
        "SHIPML_JOB_STALE_SECONDS": "3",
        "SHIPML_CHAMPION_POLL_SECONDS": "1",
        "SHIPML_HEALTH_CACHE_SECONDS": "0",
        "SHIPML_VERSION_CHECK_SECONDS": "0",  # a test reads what it has just written
        "SHIPML_COVID_SOURCE": "synthetic",
        # no scheduler in test workers: a refresh due at a quarter past would race the test's own jobs
        "SHIPML_WORKER_PERIODIC": "false",
    }
    pg_name = None
    if SERVICES:
        pg_name, url = fresh_pg_database()
        env["SHIPML_DATABASE_URL"] = url
        env["SHIPML_REDIS_URL"] = REDIS
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    settings = get_settings()
    db.migrate()
    try:
        yield settings
    finally:
        db.engine_for(settings.db_url).dispose()
        if SERVICES:
            import redis

            client = redis.Redis.from_url(REDIS)
            huey_name = re.sub(r"[^a-z0-9]", "", settings.queue_name.lower())  # huey's own key naming
            for key in client.scan_iter(f"huey.*{huey_name}*"):
                client.delete(key)
            if pg_name:
                drop_pg_database(pg_name)
        get_settings.cache_clear()


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with platform_context(tmp_path / "home", monkeypatch) as settings:
        yield settings


@pytest.fixture(scope="module")
def module_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """One platform for a whole test module (for expensive setup such as training once)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        with platform_context(tmp_path_factory.mktemp("home"), monkeypatch) as settings:
            yield settings


class Worker:
    """A real ``shipml worker`` process with the test jobs loaded."""

    def __init__(self, log: Path, imports: tuple[str, ...] = ("sample_jobs",)) -> None:
        self.log, self.imports = log, imports
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shipml.cli", "worker", *(a for m in self.imports for a in ("--import", m))],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to clean up."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def worker(platform: Settings, tmp_path: Path) -> Iterator[Worker]:
    w = Worker(tmp_path / "worker.log")
    yield w
    w.stop()


def wait_for(predicate, timeout: float = 30.0, every: float = 0.1, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
