"""Faults an operator meets, with real services of the tests' own (a private redis-server, a private PostgreSQL
cluster), so the machine's shared ones are never touched: the queue's Redis stopped and started, the database
restarted. Every job accepted is done; nothing refused was kept; an outage is a 503 that names no host."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sample_jobs  # noqa: F401  (the test jobs, known to submit)
from platform_fixtures import Worker, wait_for
from shipml.core import jobs
from shipml.core.errors import QueueUnavailable
from shipml.settings import Settings, get_settings

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server on a free port that keeps nothing on disk (like the machine's)."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = _free_port(), folder
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, what="redis-server to answer")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def redis_queue(platform: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    monkeypatch.setenv("SHIPML_REDIS_URL", f"redis://127.0.0.1:{server.port}/0")
    monkeypatch.setenv("SHIPML_JOB_STALE_SECONDS", "2")
    get_settings.cache_clear()
    try:
        yield server
    finally:
        server.stop()
        get_settings.cache_clear()


def test_a_redis_restart_loses_no_accepted_job_and_keeps_no_refused_one(redis_queue: PrivateRedis,
                                                                          tmp_path: Path) -> None:
    accepted = [jobs.submit("test", "sleep", seconds=0.05) for _ in range(5)]
    redis_queue.stop()  # the queue goes away, with the messages of the five accepted jobs (nothing on disk)
    for _ in range(3):
        with pytest.raises(QueueUnavailable):
            jobs.submit("test", "sleep", seconds=0.05)
    assert jobs.counts_by_status()["queued"] == len(accepted)  # the refused ones left nothing behind
    redis_queue.start()
    accepted += [jobs.submit("test", "sleep", seconds=0.05) for _ in range(3)]
    time.sleep(2.5)  # the first five are now older than job_stale_seconds with no message anywhere
    worker = Worker(tmp_path / "worker.log").start()  # its reaper requeues them at start
    try:
        for job_id in accepted:
            assert jobs.wait(job_id, timeout=60)["status"] == "done", worker.output()
    finally:
        worker.stop()
    assert jobs.counts_by_status() == {"queued": 0, "running": 0, "done": len(accepted), "failed": 0}


PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/lib/postgresql/15/bin"))


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (initdb as the postgres user), so stopping it harms nobody."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = _free_port(), folder
        self.data = folder / "pgdata"

    def _as_postgres(self, *args: str, check: bool = True) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=check, capture_output=True, timeout=60)

    def init(self) -> None:
        self.folder.chmod(0o777)
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.folder / "pg.log"),
                          "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")

    def stop(self, check: bool = True) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop", check=check)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


def test_a_postgres_restart_is_a_503_then_service_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from fastapi.testclient import TestClient

    from platform_fixtures import ADMIN_TOKEN
    from shipml.core import db
    from shipml.core.api import create_app

    folder = Path(tempfile.mkdtemp(prefix="shipml-pg-"))  # not under pytest's tmp: the postgres user must reach it
    server = PrivatePostgres(folder)
    server.init()
    server.start()
    for key, value in {"SHIPML_HOME": str(tmp_path / "home"), "SHIPML_DATABASE_URL": server.url,
                       "SHIPML_ADMIN_TOKEN": ADMIN_TOKEN, "SHIPML_HEALTH_CACHE_SECONDS": "0",
                       "SHIPML_VERSION_CHECK_SECONDS": "0"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SHIPML_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        with TestClient(create_app([]), raise_server_exceptions=False) as client:
            before = jobs.submit("test", "sleep", seconds=0.05)
            assert client.get("/api/jobs").status_code == 200
            server.stop()
            down = client.get("/api/jobs")
            assert down.status_code == 503 and down.headers["Retry-After"]
            assert str(server.port) not in down.text and "127.0.0.1" not in down.text
            assert client.get("/api/health").status_code == 503
            server.start()
            wait_for(lambda: client.get("/api/jobs").status_code == 200, timeout=30, what="the API to recover")
            assert before in [j["id"] for j in client.get("/api/jobs").json()]  # nothing stored was lost
    finally:
        db.engine_for(server.url).dispose()
        server.stop(check=False)
        get_settings.cache_clear()
        shutil.rmtree(folder, ignore_errors=True)
