"""Long-running services: heartbeats and lag in health; the launcher restarts a dead child with backoff."""

import sys

from rich.console import Console

import sample_app
from platform_fixtures import wait_for
from shipml.core import services
from shipml.launcher import Supervised


def test_a_beating_service_is_ok_with_its_lag_and_counters(platform):
    assert services.status([sample_app.APP])["demo.beater"]["ok"] is False
    services.beat("demo", "beater", lag_seconds=0.5, processed=42)
    status = services.status([sample_app.APP])["demo.beater"]
    assert status["ok"] and status["lag_seconds"] == 0.5 and status["processed"] == 42


def test_a_crashed_child_is_restarted_with_backoff_and_says_so(tmp_path):
    console = Console(record=True, width=200)
    child = Supervised("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"], env={},
                       log_path=tmp_path / "crasher.log")
    child.start()
    assert child.proc is not None
    child.proc.wait()
    child.check(console)
    assert "crasher exited with code 3; restarting in 1 s" in console.export_text()
    wait_for(lambda: child.check(console) or child.restarts == 1, what="the restart")
    assert "crasher restarted (restart 1)" in console.export_text()
    child.proc.wait()
    child.check(console)
    assert "restarting in 2 s" in console.export_text()  # the backoff doubles
