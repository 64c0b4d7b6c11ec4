"""``shipml up`` asks each app's declared first-visit paths once the app is ready (``App.warm``), so that the first
visitor does not pay the API's cold caches: the paths exist, and the launcher asks every one."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from starlette.routing import Match

from platform_fixtures import wait_for
from shipml.apps import installed
from shipml.core.api import create_app
from shipml.core.app import App
from shipml.launcher import warm


def test_every_warm_path_is_a_get_route_of_its_app():
    api = create_app(installed())
    declared = [(app.name, path() if callable(path) else path) for app in installed() for path in app.warm]
    assert {name for name, _ in declared} >= {"covid", "parking", "cycling"}
    for name, path in declared:
        full = f"/api/{name}{urlsplit(path).path}"
        scope = {"type": "http", "method": "GET", "path": full, "root_path": ""}
        assert any(route.matches(scope)[0] is Match.FULL for route in api.routes), f"no GET route for {full}"


def test_warm_asks_every_declared_path_once():
    asked: list[str] = []

    class Recorder(BaseHTTPRequestHandler):  # stands in for the API: only what was asked matters here
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            asked.append(self.path)
            self.send_response(503 if "broken" in self.path else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app = App(name="demo", title="Demo", warm=("/broken", "/a?x=1", lambda: "/day?date=2026-12-04"))
        warm(app, f"http://127.0.0.1:{server.server_address[1]}")
        wait_for(lambda: len(asked) == 3, timeout=30, what="the three warm requests")
        assert asked == ["/api/demo/broken", "/api/demo/a?x=1", "/api/demo/day?date=2026-12-04"]
    finally:
        server.shutdown()
        server.server_close()
