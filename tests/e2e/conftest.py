"""End-to-end harness: the real product (``shipml up``) on free ports and real data, driven by Chromium.

``product`` starts ``python -m shipml.cli up`` once per session in its own home folder and process group,
waits for the API and the UI, and at the end stops it like a user does (Ctrl-C = SIGINT) and checks that
no child process is left behind. ``ui`` is a Playwright page with Streamlit-aware helpers: wait for a run
to finish, fail on an exception box, wait for charts, save a screenshot to ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from platform_fixtures import REDIS, SERVICES, drop_pg_database, fresh_pg_database
from shipml.apps import INSTALLED

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 180.0  # a bound on waiting for `shipml up` to answer (apps prepare afterwards), not a timing figure
PREPARE_TIMEOUT = 600.0  # a bound on every app's first run (data and a first model), on a loaded machine
STOP_TIMEOUT = 20.0
VIEWPORT = {"width": 1400, "height": 1000}
WAIT_MS = 30_000  # a bound on any wait for the page (a loaded machine may take seconds to draw a grid), not a figure

expect.set_options(timeout=WAIT_MS)  # Playwright's 5 s default failed on CI: a grid's first draw on a loaded machine


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


def shared_data_dir() -> Path:
    """``../shared/data`` next to the repository (``SHIPML_SHARED_DATA`` overrides)."""
    configured = os.environ.get("SHIPML_SHARED_DATA")
    return Path(configured) if configured else REPO.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def processes_with_home(home: Path) -> list[int]:
    """Pids of live processes started with ``SHIPML_HOME=<home>`` (the product and every child)."""
    markers = {f"SHIPML_HOME={home}".encode(), f"SHIPML_HOME={home.resolve()}".encode()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if markers & set((entry / "environ").read_bytes().split(b"\0")):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


@dataclass
class Product:
    home: Path
    api_url: str
    ui_url: str
    api_port: int
    ui_port: int
    log: Path
    process: subprocess.Popen[bytes]

    def token(self) -> str:
        return (self.home / "admin_token").read_text().strip()

    def get(self, path: str, **params: Any) -> Any:
        """GET an API path; the JSON answer (a 4xx or 5xx fails the test)."""
        response = httpx.get(f"{self.api_url}{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def run_job(self, path: str, timeout: float = 90.0, **params: Any) -> dict[str, Any]:
        """POST an admin action, then poll its job until it ends; returns the job record."""
        response = httpx.post(f"{self.api_url}{path}", params=params, timeout=30,
                              headers={"Authorization": f"Bearer {self.token()}"})
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.get(f"/api/jobs/{job_id}")
            if job["status"] in ("done", "failed"):
                return job
            time.sleep(0.3)
        pytest.fail(f"job {job_id} did not end within {timeout:.0f} s")

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        for child in sorted((self.home / "logs").glob("*.log")):
            text += f"\n--- {child.name} ---\n" + child.read_text(errors="replace")[-3000:]
        return "\n".join(text.splitlines()[-lines:])


def _wait_until_up(product: Product) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    api_ok = ui_ok = False
    while time.monotonic() < deadline:
        if product.process.poll() is not None:
            pytest.fail(f"`shipml up` exited with code {product.process.returncode}:\n{product.log_tail()}")
        try:
            api_ok = api_ok or httpx.get(f"{product.api_url}/api/health", timeout=5).status_code == 200
            ui_ok = ui_ok or httpx.get(f"{product.ui_url}/_stcore/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            pass
        if api_ok and ui_ok:
            return
        time.sleep(0.5)
    pytest.fail(f"`shipml up` not ready after {START_TIMEOUT:.0f} s (api ok: {api_ok}, ui ok: {ui_ok}):\n"
                f"{product.log_tail()}")


def _wait_until_prepared(product: Product) -> None:
    """Wait until no app's first run is under way (each app's status stops saying ``preparing``)."""
    deadline = time.monotonic() + PREPARE_TIMEOUT
    apps = list(INSTALLED)
    while apps and time.monotonic() < deadline:
        if product.process.poll() is not None:
            pytest.fail(f"`shipml up` exited with code {product.process.returncode}:\n{product.log_tail()}")
        apps = [app for app in apps if product.get(f"/api/{app}/status").get("preparing") is not None]
        time.sleep(1.0)
    if apps:
        pytest.fail(f"{', '.join(apps)} still preparing after {PREPARE_TIMEOUT:.0f} s:\n{product.log_tail()}")


def _interrupt(proc: subprocess.Popen[bytes]) -> bool:
    """Ctrl-C a process group; kill it if it is still there after STOP_TIMEOUT. True if it stopped in time."""
    if proc.poll() is not None:
        return True
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return False


def _stop(product: Product) -> None:
    """Ctrl-C the product; then check every child is gone and both ports are free."""
    if not _interrupt(product.process):
        pytest.fail(f"`shipml up` did not stop within {STOP_TIMEOUT:.0f} s of Ctrl-C:\n"
                    f"{product.log_tail()}")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (processes_with_home(product.home)
                                           or listening(product.api_port) or listening(product.ui_port)):
        time.sleep(0.2)
    left = processes_with_home(product.home)
    ports = [p for p in (product.api_port, product.ui_port) if listening(p)]
    for pid in left:  # do not leak them into the rest of the run; they are ours
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left and not ports, (
        f"Ctrl-C left child processes {left} / listening ports {ports} behind:\n{product.log_tail()}")


@pytest.fixture(scope="session")
def covid_source() -> Path:
    source = shared_data_dir() / "covid" / "datasets_data.csv"
    if not source.is_file():
        pytest.fail(f"shared test data missing: {source} (see ARCHITECTURE.md, 'Data for tests')")
    return source


@pytest.fixture(scope="session")
def product(tmp_path_factory: pytest.TempPathFactory, covid_source: Path) -> Iterator[Product]:
    """The whole product, started with ``shipml up`` on free ports and the real covid export."""
    home = tmp_path_factory.mktemp("shipml-home")
    api_port, ui_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPML_")}  # hermetic
    env.update({
        "SHIPML_HOME": str(home), "SHIPML_API_PORT": str(api_port), "SHIPML_UI_PORT": str(ui_port),
        "SHIPML_API_URL": api_url, "SHIPML_COVID_SOURCE": str(covid_source), "PYTHONUNBUFFERED": "1",
        "SHIPML_CYCLING_SOURCE": str(covid_source.parent.parent / "cycling"),
        "SHIPML_SHOWS_SOURCE": str(covid_source.parent.parent / "shows"),
        # the first champion is enough here: the full comparison in the background is the lifecycle's (tested in
        # tests/core) and would only slow the browser tests on a 2-core machine
        "SHIPML_FIRST_RUN_FULL_TRAINING": "false",
    })
    pg_name = None
    if SERVICES:  # the same product on the PostgreSQL and Redis services
        pg_name, env["SHIPML_DATABASE_URL"] = fresh_pg_database()
        env["SHIPML_REDIS_URL"] = REDIS
        env["SHIPML_QUEUE_NAME"] = f"shipml-e2e-{api_port}"
    log = home / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "shipml.cli", "up"], env=env, cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    product = Product(home, api_url, f"http://127.0.0.1:{ui_port}", api_port, ui_port, log, proc)
    try:
        _wait_until_up(product)
        _wait_until_prepared(product)
        yield product
    finally:
        _stop(product)
        if pg_name:
            drop_pg_database(pg_name)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class StreamlitPage:
    """A browser tab on the product's UI, with the waits a Streamlit page needs."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def open(self, path: str = "/") -> StreamlitPage:
        self.page.goto(f"{self.base_url}{path}")
        self.page.wait_for_selector('[data-testid="stApp"]')
        return self.wait_idle()

    def wait_idle(self, timeout: float = 60.0, settle: float = 0.6) -> StreamlitPage:
        """Wait until the script has run to the end, the page stays idle for ``settle`` seconds and shows
        something; then fail if it shows an exception."""
        idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
        content = '[data-testid="stMain"] [data-testid="stElementContainer"]'
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"the page at {self.page.url} did not finish running in {timeout:.0f} s")
            self.page.wait_for_selector(idle, timeout=left * 1000)
            self.page.wait_for_timeout(settle * 1000)
            if self.page.locator(idle).count() and self.page.locator(content).count():
                break
        self.assert_no_exception()
        return self

    def assert_no_exception(self) -> None:
        boxes = self.page.locator('[data-testid="stException"]')
        if boxes.count():
            pytest.fail(f"Streamlit exception on {self.page.url}:\n{boxes.first.inner_text()}")
        for text in self.page.locator('[data-testid="stAlert"]').all_inner_texts():
            if "Traceback" in text:
                pytest.fail(f"traceback shown on {self.page.url}:\n{text}")

    def wait_for_charts(self, scope: str = "", count: int = 1, timeout: float = 30.0) -> None:
        """Wait until ``count`` Vega charts under ``scope`` (a CSS selector) have drawn their marks."""
        selector = f'{scope} [data-testid="stVegaLiteChart"]'.strip()
        self.page.wait_for_function(
            """([selector, count]) => {
                const charts = [...document.querySelectorAll(selector)];
                return charts.filter(c => c.querySelector('canvas, svg .mark-group')).length >= count;
            }""", arg=[selector, count], timeout=timeout * 1000)

    def screenshot(self, name: str, *, whole: bool = True) -> Path:
        """The whole page (Streamlit scrolls inside ``stMain``, so the viewport grows to fit it first), or with
        ``whole=False`` what the viewport shows (a long document such as the API reference)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if not whole:
            path = SCREENSHOTS / name
            self.page.screenshot(path=str(path))
            return path
        height = self.page.evaluate(
            "() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight")
        self.page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height)})
        self.page.mouse.move(0, 0)  # no hover toolbar or tooltip in the picture
        self.page.wait_for_timeout(800)
        path = SCREENSHOTS / name
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(VIEWPORT)
        return path


def _tab(browser: Browser, base_url: str) -> Iterator[StreamlitPage]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield StreamlitPage(page, base_url)
    context.close()


@pytest.fixture
def ui(browser: Browser, product: Product) -> Iterator[StreamlitPage]:
    yield from _tab(browser, product.ui_url)


@pytest.fixture
def ui_without_api(browser: Browser, tmp_path: Path) -> Iterator[StreamlitPage]:
    """The UI alone (``shipml ui``), pointed at a port where no API listens."""
    ui_port, dead_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPML_")}
    env.update({"SHIPML_HOME": str(tmp_path), "SHIPML_API_URL": f"http://127.0.0.1:{dead_port}"})
    log = tmp_path / "ui.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "shipml.cli", "ui", "--port", str(ui_port)], env=env,
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`shipml ui` did not come up:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{ui_port}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield from _tab(browser, f"http://127.0.0.1:{ui_port}")
    finally:
        _interrupt(proc)
