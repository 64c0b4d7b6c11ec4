"""Where a page load's time goes (issue 20): the network (Chrome DevTools Protocol), the browser's main thread (long
tasks) and the Streamlit session's script run (the websocket's frames), per page, fresh browser context and warm.

Starts the product the way ``run.py`` does (``shipml up``, fresh home, shared real data), waits for every app to be
ready, then opens each page ``--rounds`` times in a fresh context and once more in a new tab of that context (warm
cache), and prints one JSON line per load with, in ms from navigation start:

- ``html``: the document answered; ``static``: the last of Streamlit's own files (``/static/``) fetched before the
  websocket opened; ``files`` / ``kib`` / ``encoded``: how many, how many KiB on the wire, which Content-Encoding and
  Cache-Control they came with;
- ``ws_open``: the websocket's handshake sent; ``rerun_sent``: the browser's first message (the rerun request);
  ``first_delta`` / ``last_frame``: the first and last message of the script run received before the figure
  (``last_frame - rerun_sent`` is the session's script run server-side plus the transfer);
- ``lazy``: files fetched after the websocket opened (chart libraries: vega, deck.gl …), each with start, end, KiB;
- ``busy_before_ws`` / ``busy_after_ws``: the browser's main thread in long tasks (> 50 ms) before and after the
  websocket opened (parsing and running the frontend; drawing elements and charts);
- ``ready``: the figure of ``run.py`` (script idle with main content; its MutationObserver).

    .venv/bin/python benchmarks/page_load/trace.py [--rounds 2] [--pages covid,home] [--env KEY=VALUE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import REPO, emit, free_port, tree_rss_mib  # noqa: E402
from run import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    CONTENT,
    IDLE,
    SETTLE,
    VIEWPORT,
    WATCH,
    environment,
    first_start,
    load,
    pages,
    stop,
)

NAME = "page_load_trace"
LONGTASKS = """(() => {
  const L = window.__lt = [];
  try {
    new PerformanceObserver(list => { for (const e of list.getEntries()) L.push([e.startTime, e.duration]); })
      .observe({type: 'longtask', buffered: true});
  } catch (e) {}
})();"""


class Recorder:
    """CDP Network events of one page, in ms from the navigation's request (the document's requestWillBeSent)."""

    def __init__(self, page: Any) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.requests: dict[str, dict[str, Any]] = {}
        self.t0: float | None = None
        self.ws_open: float | None = None
        self.sent: list[float] = []
        self.received: list[tuple[float, int]] = []
        self.cdp.send("Network.enable")
        self.cdp.on("Network.requestWillBeSent", self.will_send)
        self.cdp.on("Network.responseReceived", self.response)
        self.cdp.on("Network.loadingFinished", self.finished)
        self.cdp.on("Network.webSocketWillSendHandshakeRequest", self.ws_created)
        self.cdp.on("Network.webSocketFrameSent", lambda e: self.sent.append(self.ms(e["timestamp"])))
        self.cdp.on("Network.webSocketFrameReceived",
                    lambda e: self.received.append((self.ms(e["timestamp"]), len(e["response"]["payloadData"]))))

    def ms(self, timestamp: float) -> float:
        if self.t0 is None:
            self.t0 = timestamp
        return (timestamp - self.t0) * 1000

    def will_send(self, e: dict[str, Any]) -> None:
        if e["type"] == "Document" and self.t0 is None:
            self.t0 = e["timestamp"]
        self.requests[e["requestId"]] = {"url": e["request"]["url"], "start": self.ms(e["timestamp"]),
                                         "type": e.get("type")}

    def response(self, e: dict[str, Any]) -> None:
        r = self.requests.get(e["requestId"])
        if r is not None:
            headers = {k.lower(): v for k, v in e["response"]["headers"].items()}
            r.update(status=e["response"]["status"], encoding=headers.get("content-encoding", "none"),
                     cache=headers.get("cache-control", "-"), from_cache=e["response"].get("fromDiskCache", False)
                     or e["response"].get("fromMemoryCache", False))

    def finished(self, e: dict[str, Any]) -> None:
        r = self.requests.get(e["requestId"])
        if r is not None:
            r.update(end=self.ms(e["timestamp"]), bytes=e.get("encodedDataLength", 0))

    def ws_created(self, e: dict[str, Any]) -> None:
        if self.ws_open is None:
            self.ws_open = self.ms(e["timestamp"])


def one_load(context: Any, ui: str, path: str) -> dict[str, Any]:
    page = context.new_page()
    rec = Recorder(page)
    page.goto(f"{ui}{path}")
    deadline = time.monotonic() + 60
    while True:
        page.wait_for_selector(IDLE, timeout=max(deadline - time.monotonic(), 1) * 1000)
        page.wait_for_timeout(SETTLE * 1000)
        if page.locator(IDLE).count() and page.locator(CONTENT).count():
            break
    marks = page.evaluate("window.__pl")
    longtasks = page.evaluate("window.__lt")
    nav_ms = page.evaluate("performance.getEntriesByType('navigation')[0].responseEnd")
    ready = marks["firstReady"]
    # CDP's clock starts at the document request; performance.now() at navigation start: nearly the same moment
    ws = rec.ws_open if rec.ws_open is not None else float("nan")
    done = [r for r in rec.requests.values() if "end" in r]
    static = [r for r in done if "/static/" in r["url"]]
    before = [r for r in static if r["start"] <= ws]
    lazy = [r for r in done if r["start"] > ws and "/_stcore/" not in r["url"]]
    frames = [t for t, _ in rec.received if t <= ready + 50]
    out = {
        "path": path, "ready": round(ready), "html": round(nav_ms),
        "static": round(max((r["end"] for r in before), default=0)),
        "files": len(before), "kib": round(sum(r.get("bytes", 0) for r in before) / 1024),
        "encoded": sorted({r.get("encoding", "?") for r in before}),
        "cache": sorted({r.get("cache", "?") for r in before})[:3],
        "from_cache": sum(1 for r in before if r.get("from_cache")),
        "ws_open": round(ws), "rerun_sent": round(rec.sent[0]) if rec.sent else None,
        "first_delta": round(frames[0]) if frames else None, "last_frame": round(frames[-1]) if frames else None,
        "frames": len(frames), "frame_kib": round(sum(n for t, n in rec.received if t <= ready + 50) / 1024),
        "lazy": [[r["url"].rsplit("/", 1)[-1][:40], round(r["start"]), round(r["end"]),
                  round(r.get("bytes", 0) / 1024)] for r in sorted(lazy, key=lambda r: r["start"])],
        "busy_before_ws": round(sum(d for s, d in longtasks if s < ws)),
        "busy_after_ws": round(sum(d for s, d in longtasks if s >= ws and s < ready)),
        "longest": round(max((d for _, d in longtasks), default=0)),
        "app_element": round(marks["app"] or 0), "script_running": round(marks["running"] or 0),
    }
    page.close()
    return out


def ui_pid(home: Path) -> int | None:
    """The Streamlit process of this home (``streamlit run`` with ``SHIPML_HOME=<home>``)."""
    marker = f"SHIPML_HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"streamlit\0run\0" in (entry / "cmdline").read_bytes() and \
                        marker in (entry / "environ").read_bytes().split(b"\0"):
                    return int(entry.name)
            except OSError:
                continue
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pages", default="", help="comma-separated names (home, covid, ...); default all")
    parser.add_argument("--env", action="append", default=[],
                        help="KEY=VALUE added to the product's environment (e.g. a STREAMLIT_* setting to compare)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    wanted = [p for p in pages() if not args.pages or p[0] in args.pages.split(",")]
    with tempfile.TemporaryDirectory(prefix="shipml-page-trace-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        api_port, ui_port = free_port(), free_port()
        api, ui = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
        env = environment(home, api_port, ui_port, False)
        env.update(dict(item.split("=", 1) for item in args.env))
        with (home / "up.log").open("wb") as out:
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "shipml.cli", "up"], env=env, cwd=REPO, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            first_start(proc, t0, api, ui, home)
            time.sleep(5)
            pid = ui_pid(home)
            rss_before = tree_rss_mib(pid) if pid else None
            results: dict[str, dict[str, list[dict[str, Any]]]] = {}
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _name, path in wanted:  # a first visit of each page (cold caches of the API and the UI)
                    context = browser.new_context(viewport=VIEWPORT)
                    context.add_init_script(WATCH)
                    context.add_init_script(LONGTASKS)
                    first = one_load(context, ui, path)
                    context.close()
                    print(json.dumps({"first_visit": True, "load": load(), **first}), flush=True)
                for _ in range(args.rounds):
                    for name, path in wanted:
                        context = browser.new_context(viewport=VIEWPORT)
                        context.add_init_script(WATCH)
                        context.add_init_script(LONGTASKS)
                        try:
                            fresh = one_load(context, ui, path)
                            warm = one_load(context, ui, path)
                        finally:
                            context.close()
                        entry = results.setdefault(name, {"fresh": [], "warm": []})
                        entry["fresh"].append(fresh)
                        entry["warm"].append(warm)
                        print(json.dumps({"kind": "fresh", "load": load(), **fresh}), flush=True)
                        print(json.dumps({"kind": "warm", "load": load(), **warm}), flush=True)
                browser.close()
            if pid:  # the UI's memory (without a full GC after every run it may hold more garbage between GCs)
                emit(NAME, "UI process RSS after the loads", tree_rss_mib(pid), "MiB",
                     before_the_loads_mib=round(rss_before or 0, 1), load_average=load())
            for name, entry in results.items():
                for kind in ("fresh", "warm"):
                    runs = entry[kind]
                    emit(NAME, f"{name} {kind}: median ms", statistics.median(r["ready"] for r in runs), "ms",
                         **{k: statistics.median(r[k] for r in runs) for k in
                            ("html", "static", "ws_open", "rerun_sent", "last_frame", "busy_before_ws",
                             "busy_after_ws") if all(r[k] is not None for r in runs)}, load_average=load())
        finally:
            stop(proc, home)


if __name__ == "__main__":
    main()
