"""First start and page loads of the real product (issue 20: API and UI within 15 s, each page's main content < 1 s).

Starts ``python -m shipml.cli up`` the way the e2e fixture does (``tests/e2e/conftest.py``): a fresh temporary
``SHIPML_HOME``, free ports, its own process group, the shared real data (``../shared/data``: covid export, cycling
folder, shows folder; parking and race on their simulated data), ``SHIPML_FIRST_RUN_FULL_TRAINING=false`` (the
full comparison of candidates would run as a background job during the page loads; ``--full-training`` keeps it).

First start, from ``Popen`` (each endpoint polled every 0.1 s): until ``/api/health`` answers 200 (and, beside it,
until the launcher has started its API process: the rest is that process booting), until the UI's
``/_stcore/health`` answers 200, until each app's ``/api/<app>/status`` has no ``preparing`` (its first run is
done: data and a first champion), and until every app is so.

Then headless Chromium (``/usr/bin/chromium``, the e2e fixture's arguments), a fresh browser context per load, opens
Home and every app page, ``--rounds`` rounds (round 1 is every page's first visit since the start); after each
load, the same page once more in a new tab of that context (Streamlit's scripts and styles then come from the
browser's cache, as for a returning visitor). The time to main
content is read in the page, from navigation start (``performance.now()``): the first moment the Streamlit script is
idle (``[data-testid="stApp"][data-test-script-state="notRunning"]``) while the main area shows at least one element
(``[data-testid="stMain"] [data-testid="stElementContainer"]``), recorded by a MutationObserver installed before the
page's own scripts. The load counts only once the waiting logic of ``StreamlitPage.wait_idle`` accepts it (idle, a
0.6 s settle, still idle and showing content); the settle is not in the figure. Beside it, where the time went: the
HTML answered (``responseEnd``), the Streamlit app element appeared, the script started running; and the API
requests made during the load (the API's own ``/metrics`` histogram by method and route, diffed around the load:
the server-side time, without the UI's HTTP client; the simulated race's pings left out). Last, the cost of one
cheap request asked the way the UI asks (``httpx.get``, a new client each call) against one kept client.

Stops the product with Ctrl-C (SIGINT to the process group) and reports how long that took and whether any process
of the home was left.

    .venv/bin/python benchmarks/page_load/run.py [--rounds 3] [--settle 120] [--full-training]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import REPO, SHARED, emit, free_port  # noqa: E402

NAME = "page_load"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
CONTENT = '[data-testid="stMain"] [data-testid="stElementContainer"]'
START_TIMEOUT = 180.0
PREPARE_TIMEOUT = 900.0
SETTLE = 0.6
# installed before the page's own scripts: when the app element appears, when the script first runs, and every
# change of "idle and showing main content", in ms from navigation start
WATCH = """(() => {
  const T = window.__pl = {app: null, running: null, firstReady: null, readyAt: null, ready: false, flips: 0};
  const check = () => {
    const now = performance.now();
    const app = document.querySelector('[data-testid="stApp"]');
    if (app && T.app === null) T.app = now;
    if (app && app.getAttribute('data-test-script-state') === 'running' && T.running === null) T.running = now;
    const ready = !!document.querySelector('IDLE') && !!document.querySelector('CONTENT');
    if (ready && !T.ready) { T.readyAt = now; if (T.firstReady === null) T.firstReady = now; T.flips += 1; }
    T.ready = ready;
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true});
})();""".replace("IDLE", IDLE).replace("CONTENT", CONTENT)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def pages() -> list[tuple[str, str]]:
    from shipml.apps import INSTALLED

    return [("home", "/")] + [(app, f"/{app}") for app in INSTALLED]


def environment(home: Path, api_port: int, ui_port: int, full_training: bool) -> dict[str, str]:
    covid = SHARED / "covid" / "datasets_data.csv"
    if not covid.is_file():
        raise SystemExit(f"shared data missing: {covid} (see ARCHITECTURE.md, 'Data for tests')")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPML_")}
    env.update({
        "SHIPML_HOME": str(home), "SHIPML_API_PORT": str(api_port), "SHIPML_UI_PORT": str(ui_port),
        "SHIPML_API_URL": f"http://127.0.0.1:{api_port}", "SHIPML_COVID_SOURCE": str(covid),
        "SHIPML_CYCLING_SOURCE": str(SHARED / "cycling"), "SHIPML_SHOWS_SOURCE": str(SHARED / "shows"),
        "SHIPML_FIRST_RUN_FULL_TRAINING": "true" if full_training else "false", "PYTHONUNBUFFERED": "1",
    })
    return env


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def log_tail(home: Path, lines: int = 40) -> str:
    text = ""
    for log in [home / "up.log", *sorted((home / "logs").glob("*.log"))]:
        if log.exists():
            text += f"\n--- {log.name} ---\n" + log.read_text(errors="replace")[-2000:]
    return "\n".join(text.splitlines()[-lines:])


def api_process_started(home: Path) -> bool:
    """Whether the launcher has started its API child (``shipml.cli api`` with this home)."""
    marker = f"SHIPML_HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"shipml.cli\0api\0" in (entry / "cmdline").read_bytes() and \
                        marker in (entry / "environ").read_bytes().split(b"\0"):
                    return True
            except OSError:
                continue
    return False


def first_start(proc: subprocess.Popen[bytes], t0: float, api: str, ui: str, home: Path) -> dict[str, Any]:
    """Seconds from ``Popen`` to the API's and the UI's health, and to each app's first run being over."""
    from shipml.apps import INSTALLED

    out: dict[str, Any] = {"api": None, "ui": None, "api_process": None, "apps": {}, "jobs": {}}
    deadline = t0 + START_TIMEOUT
    while out["api"] is None or out["ui"] is None:
        if out["api_process"] is None and api_process_started(home):
            out["api_process"] = time.perf_counter() - t0
        if proc.poll() is not None:
            raise SystemExit(f"`shipml up` exited with {proc.returncode}:\n{log_tail(home)}")
        if time.perf_counter() > deadline:
            raise SystemExit(f"`shipml up` not answering after {START_TIMEOUT:.0f} s:\n{log_tail(home)}")
        if out["api"] is None and answers(f"{api}/api/health"):
            out["api"] = time.perf_counter() - t0
        if out["ui"] is None and answers(f"{ui}/_stcore/health"):
            out["ui"] = time.perf_counter() - t0
        time.sleep(0.1)
    waiting = list(INSTALLED)
    deadline = t0 + PREPARE_TIMEOUT
    while waiting:
        if proc.poll() is not None:
            raise SystemExit(f"`shipml up` exited with {proc.returncode}:\n{log_tail(home)}")
        if time.perf_counter() > deadline:
            raise SystemExit(f"{', '.join(waiting)} still preparing after {PREPARE_TIMEOUT:.0f} s")
        for app in list(waiting):
            try:
                status = httpx.get(f"{api}/api/{app}/status", timeout=30).json()
            except (httpx.HTTPError, ValueError):
                continue
            if status.get("preparing") is None:
                out["apps"][app] = time.perf_counter() - t0
                waiting.remove(app)
            else:
                out["jobs"][app] = status["preparing"]["job_id"]
        time.sleep(0.1)
    for app, job_id in out["jobs"].items():  # did the first run end well?
        out["jobs"][app] = httpx.get(f"{api}/api/jobs/{job_id}", timeout=30).json().get("status")
    return out


def api_requests(api: str) -> dict[str, tuple[float, float]]:
    """(requests, seconds) so far by method and route, from the API's /metrics; without /metrics itself and the
    simulated race's pings (posted by its simulator, not by a page)."""
    text = httpx.get(f"{api}/metrics", timeout=30).text
    out: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "shipml_http_request_seconds":
            continue
        for sample in family.samples:
            route = sample.labels.get("route", "")
            if route == "/metrics" or route.endswith("/pings"):
                continue
            entry = out.setdefault(f"{sample.labels.get('method')} {route}", [0.0, 0.0])
            if sample.name.endswith("_count"):
                entry[0] = sample.value
            elif sample.name.endswith("_sum"):
                entry[1] = sample.value
    return {route: (n, s) for route, (n, s) in out.items()}


def api_during(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]) -> dict[str, Any]:
    routes = {}
    for route, (n, s) in after.items():
        n0, s0 = before.get(route, (0.0, 0.0))
        if n > n0:
            routes[route] = {"requests": int(n - n0), "ms": round((s - s0) * 1000, 1)}
    return dict(sorted(routes.items(), key=lambda kv: -kv[1]["ms"]))


def measure(page: Any, ui: str, api: str, path: str) -> dict[str, Any]:
    """One load: goto, then ``StreamlitPage.wait_idle``'s waiting; the in-page timings."""
    before = api_requests(api)
    t0 = time.perf_counter()
    page.goto(f"{ui}{path}")
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)
    deadline = time.monotonic() + 60
    while True:  # StreamlitPage.wait_idle
        left = deadline - time.monotonic()
        if left <= 0:
            raise SystemExit(f"{path} did not finish running in 60 s")
        page.wait_for_selector(IDLE, timeout=left * 1000)
        page.wait_for_timeout(SETTLE * 1000)
        if page.locator(IDLE).count() and page.locator(CONTENT).count():
            break
    accepted = time.perf_counter() - t0
    marks = page.evaluate("window.__pl")
    nav = page.evaluate("""(() => {
        const n = performance.getEntriesByType('navigation')[0];
        const r = performance.getEntriesByType('resource');
        return {html: n.responseEnd, loaded: n.loadEventEnd, resources: r.length,
                kb: r.reduce((s, e) => s + (e.transferSize || 0), 0) / 1024}; })()""")
    exceptions = page.locator('[data-testid="stException"]').count()
    after = api_requests(api)
    return {"first_ready_ms": marks["firstReady"], "stable_ready_ms": marks["readyAt"], "flips": marks["flips"],
            "html_ms": nav["html"], "load_event_ms": nav["loaded"], "app_element_ms": marks["app"],
            "script_running_ms": marks["running"], "resources": nav["resources"],
            "transferred_kb": round(nav["kb"]), "accepted_by_wait_idle_s": accepted, "exceptions": exceptions,
            "api": api_during(before, after)}


def open_page(browser: Any, ui: str, api: str, path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A load in a fresh context (empty browser cache), then the same page again in a new tab of that context (the
    browser's cache warm: a returning visitor)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(WATCH)
    try:
        fresh = measure(context.new_page(), ui, api, path)
        again = measure(context.new_page(), ui, api, path)
    finally:
        context.close()
    return fresh, again


def client_overhead(api: str, n: int = 30) -> tuple[float, float]:
    """Median ms of a cheap answer (``/api/health``, computed at most once a second) asked the way the UI asked
    before its pooled client (``httpx.get``: a new client, so a new connection and SSL context, each call) and with
    one kept client, as ``ui/client.py`` asks now."""
    url = f"{api}/api/health"
    each, kept = [], []
    with httpx.Client(timeout=30) as client:
        client.get(url)
        for _ in range(n):
            t = time.perf_counter()
            httpx.get(url, timeout=30)
            each.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            client.get(url)
            kept.append((time.perf_counter() - t) * 1000)
    return statistics.median(each), statistics.median(kept)


def stop(proc: subprocess.Popen[bytes], home: Path) -> tuple[float, int | None, list[int]]:
    """Ctrl-C the process group: seconds until ``shipml up`` exited, its exit code, processes of the home left."""
    t0 = time.perf_counter()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        code: int | None = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        code = None
    took = time.perf_counter() - t0
    time.sleep(2)
    marker = f"SHIPML_HOME={home}".encode()
    left = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        left.append(int(entry.name))
            except OSError:
                continue
    if code is None or left:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return took, code, left


def settle(limit: float, quiet: float = 1.0) -> tuple[float, float]:
    """Wait (at most ``limit`` s) until the 1-min load average is under ``quiet``: a quiet machine with ``shipml up``
    running, not one still busy with the first runs that just ended. Seconds waited and the load then."""
    t0 = time.perf_counter()
    while load() >= quiet and time.perf_counter() - t0 < limit:
        time.sleep(1)
    return round(time.perf_counter() - t0, 1), load()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=120.0,
                        help="after every app is ready, wait up to this many s for the 1-min load average to fall "
                             "under 1 before the page loads (0: measure at once, as before 2026-12-04)")
    parser.add_argument("--full-training", action="store_true",
                        help="keep the first run's full comparison of candidates (a background job)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="shipml-page-load-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        api_port, ui_port = free_port(), free_port()
        api, ui = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
        env = environment(home, api_port, ui_port, args.full_training)
        load_before = load()
        with (home / "up.log").open("wb") as out:
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-m", "shipml.cli", "up"], env=env, cwd=REPO, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            start = first_start(proc, t0, api, ui, home)
            common = {"load_average_at_start": load_before, "load_average": load(),
                      "full_training": args.full_training}
            emit(NAME, "shipml up → /api/health answers 200", start["api"], "s", target="< 15 s on a quiet machine",
                 api_process_started_s=round(start["api_process"] or -1, 2), **common)
            emit(NAME, "shipml up → the UI's /_stcore/health answers 200", start["ui"], "s",
                 target="< 15 s on a quiet machine", **common)
            for app, seconds in start["apps"].items():
                emit(NAME, f"shipml up → {app} ready (its status no longer preparing)", seconds, "s",
                     first_run=start["jobs"].get(app, "not seen preparing"), **common)
            emit(NAME, "shipml up → every app ready", max(start["apps"].values()), "s", **common)
            time.sleep(5)  # let the last first run's aftermath (its job record, the API's champion reload) pass
            settled, load_pages = settle(args.settle)
            emit(NAME, "every app ready → the 1-min load average under 1 (the product's own first runs over)",
                 settled, "s", load_average=load_pages, settle_limit_s=args.settle)
            loads: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in pages()}
            revisits: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in pages()}
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for _ in range(args.rounds):
                    for name, path in pages():
                        fresh, again = open_page(browser, ui, api, path)
                        loads[name].append(fresh)
                        revisits[name].append(again)
                browser.close()
            each, kept = client_overhead(api)
            emit(NAME, "GET /api/health with a new client per call (httpx.get, as the UI asked before), median",
                 each, "ms",
                 with_one_kept_client_ms=round(kept, 2), load_average=load())
            for name, path in pages():
                runs = loads[name]
                firsts = [r["first_ready_ms"] for r in runs]
                rounds = [{k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()} for r in runs]
                emit(NAME, f"{path} ({name}): navigation start → script idle with main content, median of "
                     f"{len(runs)} fresh contexts", statistics.median(firsts), "ms", target="< 1000 ms",
                     rounds_ms=[round(v) for v in firsts], rounds=rounds, load_average=load())
                warm = [r["first_ready_ms"] for r in revisits[name]]
                emit(NAME, f"{path} ({name}): the same, again in a new tab of the same context (browser cache warm), "
                     f"median of {len(warm)}", statistics.median(warm), "ms", target="< 1000 ms",
                     rounds_ms=[round(v) for v in warm],
                     rounds=[{k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()}
                             for r in revisits[name]], load_average=load())
        finally:
            took, code, left = stop(proc, home)
        emit(NAME, "Ctrl-C → shipml up exited", took, "s", exit_code=code, processes_left=left,
             load_average=load())


if __name__ == "__main__":
    main()
