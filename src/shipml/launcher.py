"""``shipml up``: start API + worker + UI + the apps' services as child processes, then queue each app's first run
(``<app>.prepare``: data and a first champion) so that pages answer at once and show the progress; restart any child
that dies (with backoff, saying so), start a service once it is enabled (the race's processor once a race is
defined), stop them all on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from rich.console import Console

from shipml.apps import get, installed
from shipml.core import db
from shipml.core.app import App
from shipml.settings import get_settings

UI_MAIN = Path(__file__).parent / "ui" / "main.py"


def ui_command(port: int) -> list[str]:
    s = get_settings()
    # Streamlit's command line, with what the pages import loaded before it serves (ui/serve.py)
    return [sys.executable, "-m", "shipml.ui.serve", "run", str(UI_MAIN), "--server.port", str(port),
            "--server.address", s.api_host, "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal",
            # no full garbage collection after every script run: 0.06–0.3 s a run on the UI's heap, holding the GIL
            # before the run's last message goes out (benchmarks/page_load, issue 20); Python's own GC still runs
            "--runner.postScriptGC", "false",
            # no "magic" (a bare expression written to the page): no page relies on it (tests/ui/test_serve.py), and
            # Streamlit rewrites each script's syntax tree for it whenever its script cache is empty, which is
            # after every moment with no visitor connected: 7–30 ms per script on a first visit
            "--runner.magicEnabled", "false"]


def _children() -> dict[str, list[str]]:
    s = get_settings()
    shipml = [sys.executable, "-m", "shipml.cli"]
    children = {
        "api": shipml + ["api", "--host", s.api_host, "--port", str(s.api_port)],
        "worker": shipml + ["worker"],
        "ui": ui_command(s.ui_port),
    }
    for app in installed():
        for service in app.services:
            if service.is_enabled():
                children[f"{app.name}.{service.name}"] = shipml + ["service", app.name, service.name]
    return children


class Supervised:
    """One child process, restarted with exponential backoff (1 s doubling to 60 s; reset after a minute up)."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name, self.cmd, self.env, self.log_path = name, cmd, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.backoff = 1.0
        self.started = 0.0
        self.restart_at: float | None = None
        self.restarts = 0

    def start(self) -> None:
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=log_file, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.started = time.monotonic()
        self.restart_at = None

    def check(self, console: Console) -> None:
        """Restart the process when it has died and its backoff has passed."""
        now = time.monotonic()
        if self.proc is not None and self.proc.poll() is not None and self.restart_at is None:
            if now - self.started > 60:
                self.backoff = 1.0
            self.restart_at = now + self.backoff
            console.print(f"[yellow]! {self.name} exited with code {self.proc.returncode}; restarting in "
                          f"{self.backoff:.0f} s (log: {self.log_path})[/yellow]")
            self.backoff = min(self.backoff * 2, 60.0)
        if self.restart_at is not None and now >= self.restart_at:
            self.restarts += 1
            self.start()
            console.print(f"[green]↻ {self.name} restarted (restart {self.restarts})[/green]")


def _wait_healthy(url: str, api: subprocess.Popen[bytes], timeout: float, stopping: list[int]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping:
        if api.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2).status_code in (200, 503):
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def _stop(procs: dict[str, subprocess.Popen[bytes]], console: Console) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            console.print(f"[yellow]{name} did not stop in time; killed[/yellow]")


class FirstRuns:
    """The apps' first runs, queued as jobs once the API answers; each app's lines are printed when it is ready."""

    def __init__(self, console: Console, api_url: str) -> None:
        from shipml.core import jobs, platform

        self.console = console
        self.api_url = api_url
        self.pending: dict[str, str] = {}
        full = get_settings().first_run_full_training
        for app in installed():
            if platform.prepares(app):
                platform.register_first_run(app)
                self.pending[app.name] = jobs.submit(app.name, "prepare", dedup=True, full_training=full)

    def announce(self) -> None:
        """Say which apps are preparing; warm the others' pages at once."""
        for app in installed():
            if app.name not in self.pending:
                warm(app, self.api_url)
        if self.pending:
            self.console.print(f"  preparing {', '.join(self.pending)} in the background: each page shows its "
                               "progress", soft_wrap=True)

    def check(self) -> None:
        from shipml.core import jobs

        for name, job_id in list(self.pending.items()):
            record = jobs.get(job_id)
            if record["status"] not in ("done", "failed"):
                continue
            del self.pending[name]
            say = _section(self.console, name)
            if record["status"] == "failed":
                say(f"[red]✗ {name}: preparing failed: {record['error']} (log: worker.log)[/red]")
                continue
            for line in (record["result"] or {}).get("said", []):
                say(line)
            say(f"[green]✓ {name} ready[/green]")
            warm(get(name), self.api_url)


def warm(app: App, api_url: str) -> None:
    """Ask the app's :attr:`~shipml.core.app.App.warm` paths once, in the background, so that its first visitor does
    not pay the API's cold caches; an answer that fails is left to the page to show."""
    if not app.warm:
        return

    def run() -> None:
        with httpx.Client(base_url=f"{api_url}/api/{app.name}", timeout=60) as client:
            for path in app.warm:
                try:
                    client.get(path() if callable(path) else path)
                except httpx.HTTPError:
                    pass

    threading.Thread(target=run, name=f"warm-{app.name}", daemon=True).start()


def prepare_apps(console: Console) -> None:
    """Each app's first run (:mod:`shipml.core.first_run`): its data (synthetic when offline), a champion where
    there is none, and its own step."""
    from shipml.core.first_run import prepare

    for app in installed():
        prepare(app, _section(console, app.name))


def _section(console: Console, title: str) -> Callable[[str], None]:
    """A ``say`` that opens the app's section on its first line: an app with nothing to say prints no header."""
    opened = False

    def say(message: str) -> None:
        nonlocal opened
        if not opened:
            console.rule(f"[bold]{title}")
            opened = True
        console.print(message)

    return say


def run_all(console: Console, prepare: bool = True) -> int:
    """Run the product until Ctrl-C (exit code 130) or SIGTERM (0)."""
    stopping: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children: dict[str, Supervised] = {}
    try:
        code = _serve(console, prepare, children, stopping)
    finally:
        _stop({n: c.proc for n, c in children.items() if c.proc is not None}, console)
    return 130 if stopping and stopping[0] == signal.SIGINT else code


def _serve(console: Console, prepare: bool, children: dict[str, Supervised], stopping: list[int]) -> int:
    s = get_settings()
    home = s.resolved_home
    db.migrate()
    token_is_new = s.token_is_new()
    token = s.token()
    api_url = f"http://{s.api_host}:{s.api_port}"
    env = {**os.environ, "SHIPML_HOME": str(home), "SHIPML_API_URL": api_url, "PYTHONUNBUFFERED": "1"}
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    # queued before anything answers: from its first answer, each app's status says that it is preparing
    first_runs = FirstRuns(console, api_url) if prepare else None
    for name, cmd in _children().items():
        if stopping:
            return 0
        children[name] = Supervised(name, cmd, env, logs / f"{name}.log")
        children[name].start()
    api = children["api"].proc
    assert api is not None
    if not _wait_healthy(f"{api_url}/api/health", api, timeout=120, stopping=stopping):
        if stopping:
            return 0
        console.print(f"[red]✗ the API did not come up (exit code {api.poll()}); see {logs / 'api.log'}[/red]")
        return 1
    console.rule("[bold green]shipml is up")
    console.print(f"  UI      http://{s.api_host}:{s.ui_port}", soft_wrap=True)
    console.print(f"  API     {api_url}/docs   (health: {api_url}/api/health)", soft_wrap=True)
    console.print(f"  MLflow  {s.tracking_uri}", soft_wrap=True)
    console.print(f"  home    {home}   logs: {logs}", soft_wrap=True)
    if token_is_new:
        console.print(f"  admin token (shown once; kept in {home / 'admin_token'}): [bold]{token}[/bold]",
                      soft_wrap=True)
    elif s.admin_token:
        console.print("  admin token: SHIPML_ADMIN_TOKEN", soft_wrap=True)
    else:
        console.print(f"  admin token: in {home / 'admin_token'}", soft_wrap=True)
    console.print(f"  CLI     {Path(sys.executable).parent / 'shipml'} (or `source .venv/bin/activate`, then "
                  "`shipml --help`)", soft_wrap=True)
    if first_runs is not None:
        first_runs.announce()
    console.print("  Ctrl-C stops everything.")
    last_services_check = 0.0
    while not stopping:
        for child in children.values():
            child.check(console)
        if first_runs is not None:
            first_runs.check()
        if time.monotonic() - last_services_check > 2.0:  # a service starts once it is enabled
            last_services_check = time.monotonic()
            for name, cmd in _children().items():
                if name not in children:
                    children[name] = Supervised(name, cmd, env, logs / f"{name}.log")
                    children[name].start()
                    console.print(f"  started {name}")
        time.sleep(0.5)
    console.print("stopping…")
    return 0
