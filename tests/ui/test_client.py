"""``client.prefetch``: answers a page will need are asked side by side, and the page's later ``get`` takes them
from the cache (or waits for the request under way) instead of asking again; and ``preparing``, which asks an app's
status before its page draws, asks once per UI process once the app is ready. A small real HTTP server stands in for
the API: it counts requests and answers slowly, as a busy API does."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shipml.settings import get_settings
from shipml.ui import client

DELAY = 0.3  # each answer takes this long: long enough for the prefetched requests to overlap


class _Api(BaseHTTPRequestHandler):
    asked: Counter[str] = Counter()
    in_flight = 0
    most_in_flight = 0
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 - the http.server interface
        with _Api.lock:
            _Api.asked[self.path] += 1
            _Api.in_flight += 1
            _Api.most_in_flight = max(_Api.most_in_flight, _Api.in_flight)
        time.sleep(DELAY)
        with _Api.lock:
            _Api.in_flight -= 1
        if "broken" in self.path:
            body, status = {"error": {"message": "broken on purpose"}}, 500
        else:
            body, status = {"path": self.path}, 200
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SHIPML_API_URL", f"http://127.0.0.1:{server.server_address[1]}")
    get_settings.cache_clear()
    _Api.asked.clear()
    _Api.most_in_flight = 0
    client.clear_cache()
    yield _Api.asked
    client.clear_cache()
    server.shutdown()
    server.server_close()
    get_settings.cache_clear()


def test_prefetched_answers_come_in_side_by_side_and_are_asked_once(api: Counter[str]) -> None:
    for name in ("a", "b", "c"):
        client.prefetch(f"/{name}", n=1)
    answers = [client.get(f"/{name}", n=1) for name in ("a", "b", "c")]
    assert answers == [{"path": f"/{name}?n=1"} for name in ("a", "b", "c")]
    assert api == Counter({"/a?n=1": 1, "/b?n=1": 1, "/c?n=1": 1})
    assert _Api.most_in_flight > 1  # the server had several of them under way at once


def test_an_error_while_prefetching_is_reported_by_the_get(api: Counter[str]) -> None:
    client.prefetch("/broken")
    with pytest.raises(client.ApiError, match="broken on purpose"):
        client.get("/broken")
    client.prefetch("/broken")  # a failed answer is not kept: asked again, and reported again
    with pytest.raises(client.ApiError, match="broken on purpose"):
        client.get("/broken")


def test_fresh_answers_asked_ahead_come_in_side_by_side(api: Counter[str]) -> None:
    asked = [client.ask_fresh(f"/live/{name}", model=dict, n=1) for name in ("a", "b", "c")]
    assert [answer() for answer in asked] == [{"path": f"/live/{name}?n=1"} for name in ("a", "b", "c")]
    assert _Api.most_in_flight > 1 and sum(api.values()) == 3
    broken = client.ask_fresh("/broken", model=dict)
    with pytest.raises(client.ApiError, match="broken on purpose"):
        broken()


def _visit(app: str) -> None:
    """One visitor's first load of ``app``'s page (a session of its own, in this process: Streamlit's AppTest)."""
    from streamlit.testing.v1 import AppTest

    def page(app: str) -> None:
        from shipml.ui import preparing

        preparing.wait_until_ready(app, app)

    assert not AppTest.from_function(page, args=(app,)).run(timeout=30).exception


def test_an_app_seen_ready_is_not_asked_again_by_the_next_visitors(api: Counter[str]) -> None:
    for _ in range(3):
        _visit("ready-app")  # a status with no first run under way: ready
    assert api["/api/ready-app/status"] == 1
    for _ in range(2):  # a status the API could not give is not taken for ready: asked again
        _visit("broken-app")
    assert api["/api/broken-app/status"] == 2
