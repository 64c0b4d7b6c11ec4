"""A database outage seen from a real server (uvicorn, as in production): every answer a 503 with Retry-After,
health's included; no traceback per request (the outage is logged once when it starts and once when it ends); the
client's keep-alive connection survives. The database is the machine's PostgreSQL behind a TCP proxy of the test's
own, which the test stops and starts (the service itself is never touched)."""

from __future__ import annotations

import http.client
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_fixtures import ADMIN_TOKEN, drop_pg_database, fresh_pg_database, wait_for
from shipml.settings import get_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proxy:
    """TCP from a port of its own to the real PostgreSQL; ``stop`` refuses new connections and cuts live ones."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream, self.port = upstream, _free_port()
        self.listener: socket.socket | None = None
        self.live: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.live += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        assert self.listener is not None
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept (close alone would not)
        self.listener.close()
        with self.lock:
            live, self.live = self.live, []
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class Server:
    """uvicorn serving the API in a thread of the test (its log records reach ``caplog``)."""

    def __init__(self) -> None:
        import uvicorn

        from shipml.core.api import create_app

        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app([]), host="127.0.0.1", port=self.port,
                                                    log_config=None, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=60, what="uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def database_behind_proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    from shipml.core import db

    name, url = fresh_pg_database()
    proxy = Proxy(("127.0.0.1", 5432))
    proxy.start()
    proxied = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    for key, value in {"SHIPML_HOME": str(tmp_path / "home"), "SHIPML_DATABASE_URL": proxied,
                       "SHIPML_ADMIN_TOKEN": ADMIN_TOKEN, "SHIPML_HEALTH_CACHE_SECONDS": "0",
                       "SHIPML_VERSION_CHECK_SECONDS": "0"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SHIPML_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        yield proxy
    finally:
        db.engine_for(proxied).dispose()
        try:
            proxy.stop()
        except OSError:
            pass
        drop_pg_database(name)
        get_settings.cache_clear()


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, dict[str, str], bytes]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


@pytest.mark.services
def test_an_outage_is_503s_logged_once_and_keep_alive_connections_survive(database_behind_proxy: Proxy,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with Server() as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        assert _get(conn, "/api/jobs")[0] == 200
        assert conn.sock is not None
        local = conn.sock.getsockname()

        database_behind_proxy.stop()
        for _ in range(20):
            status, headers, body = _get(conn, "/api/jobs")
            assert status == 503 and headers["retry-after"] and b"unavailable" in body
        for _ in range(3):
            status, headers, _ = _get(conn, "/api/health")
            assert status == 503 and headers["retry-after"]
        assert conn.sock is not None and conn.sock.getsockname() == local  # the same connection all along

        database_behind_proxy.start()
        wait_for(lambda: _get(conn, "/api/jobs")[0] == 200, timeout=30, what="the API to recover")
        assert conn.sock is not None and conn.sock.getsockname() == local
        conn.close()

    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "Exception in ASGI application" in m]
    assert not [r for r in caplog.records if r.exc_info and r.name.startswith("shipml")]
    assert len([m for m in messages if "database is unavailable" in m]) == 1, messages
    assert len([m for m in messages if "database is back" in m]) == 1, messages
