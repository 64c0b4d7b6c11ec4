"""``shipml up``: prepare every app, start API + worker + UI as child processes, stop them all on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console

from shipml.apps import INSTALLED, module
from shipml.core import db
from shipml.settings import get_settings

UI_MAIN = Path(__file__).parent / "ui" / "main.py"


def ui_command(port: int) -> list[str]:
    s = get_settings()
    return [sys.executable, "-m", "streamlit", "run", str(UI_MAIN), "--server.port", str(port),
            "--server.address", s.api_host, "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal"]


def _children() -> dict[str, list[str]]:
    s = get_settings()
    shipml = [sys.executable, "-m", "shipml.cli"]
    return {
        "api": shipml + ["api", "--host", s.api_host, "--port", str(s.api_port)],
        "worker": shipml + ["worker"],
        "ui": ui_command(s.ui_port),
    }


def _wait_healthy(url: str, procs: dict[str, subprocess.Popen[bytes]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs.values()):
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


def prepare_apps(console: Console) -> None:
    """Refresh each app's data (synthetic when offline) and train what has no champion."""
    for name in INSTALLED:
        console.rule(f"[bold]{name}")
        module(name, "tasks").prepare(console.print)


def run_all(console: Console, prepare: bool = True) -> int:
    s = get_settings()
    home = s.resolved_home
    db.migrate()
    token_is_new = s.token_is_new()
    token = s.token()
    if prepare:
        # in a child process: what preparing imports (MLflow, training) must not stay in this supervisor's memory
        done = subprocess.run([sys.executable, "-m", "shipml.cli", "prepare"],
                              env={**os.environ, "SHIPML_HOME": str(home)})
        if done.returncode != 0:
            console.print("[red]✗ preparing the apps failed (see above)[/red]")
            return done.returncode
    api_url = f"http://{s.api_host}:{s.api_port}"
    env = {**os.environ, "SHIPML_HOME": str(home), "SHIPML_API_URL": api_url, "PYTHONUNBUFFERED": "1"}
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for name, cmd in _children().items():
            log_file = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
            procs[name] = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                           start_new_session=True)
        if not _wait_healthy(f"{api_url}/api/health", procs, timeout=120):
            dead = [n for n, p in procs.items() if p.poll() is not None]
            console.print(f"[red]✗ the API did not come up (exited: {', '.join(dead) or 'none'}); "
                          f"see {logs}[/red]")
            return 1
        console.rule("[bold green]shipml is up")
        console.print(f"  UI      http://{s.api_host}:{s.ui_port}")
        console.print(f"  API     {api_url}/docs   (health: {api_url}/api/health)")
        console.print(f"  MLflow  {s.tracking_uri}")
        console.print(f"  home    {home}   logs: {logs}")
        if token_is_new:
            console.print(f"  admin token (shown once; kept in {home / 'admin_token'}): [bold]{token}[/bold]")
        console.print("  Ctrl-C stops everything.")
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    console.print(f"[red]✗ {name} exited with code {proc.returncode}; see {logs / name}.log[/red]")
                    return 1
            time.sleep(0.5)
        console.print("stopping…")
        return 0
    finally:
        _stop(procs, console)
