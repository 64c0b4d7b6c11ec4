"""``shipml race replay --json`` as the issue specifies it, a clear error for a malformed file, and a simulator
smoke test through the real HTTP ingest (an API process on a free port)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from platform_fixtures import wait_for
from shipml.apps.race import definition, rawlog
from shipml.apps.race.cli import commands
from shipml.apps.race.live import RaceWorker

runner = CliRunner()


def test_replay_prints_one_json_line_per_race_minute_and_one_at_the_end(shared_data: Path) -> None:
    folder = shared_data / "race" / "tracks_msimms"
    tracks = [folder / "run_03_garmin.gpx", folder / "20130309_run_garmin_fr405cx.tcx"]
    result = runner.invoke(commands, ["replay", "--course", str(tracks[0]), "--track", str(tracks[0]),
                                      "--track", str(tracks[1]), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    times = [datetime.fromisoformat(line["t"]).timestamp() for line in lines]
    assert all(b - a == 60 for a, b in zip(times[:-2], times[1:-1], strict=True)) and 0 < times[-1] - times[-2] <= 60
    final = lines[-1]["standings"]
    assert {s["runner"] for s in final} == {"run_03_garmin", "20130309_run_garmin_fr405cx"}
    assert all(set(s) == {"runner", "rank", "distance_m", "status"} for s in final)
    assert [s["rank"] for s in final] == [1, 2]


def test_replay_of_the_malformed_tcx_is_a_clear_error(shared_data: Path) -> None:
    folder = shared_data / "race" / "tracks_runpandas"
    result = runner.invoke(commands, ["replay", "--course", str(folder / "basic.tcx"), "--track",
                                      str(folder / "malformed.tcx"), "--json"])
    assert result.exit_code == 2
    assert "malformed.tcx" in result.output and "not well-formed XML" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_simulator_sends_a_race_through_the_http_ingest(platform: Any, tmp_path: Path) -> None:
    port = _free_port()
    with (tmp_path / "api.log").open("wb") as log:  # the child holds its own copy of the descriptor
        api = subprocess.Popen([sys.executable, "-m", "shipml.cli", "api", "--port", str(port)],
                               env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/api/race/races", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, what="the API")
        result = runner.invoke(commands, ["simulate", "--runners", "40", "--speedup", "100", "--race", "smoke",
                                          "--api-url", url, "--seconds", "4"])
        assert result.exit_code == 0, result.output
        assert "pace fit:" in result.output and '"activities"' in result.output
    finally:
        api.terminate()
        api.wait(timeout=30)
    assert rawlog.read_race("smoke").height > 0
    worker = RaceWorker(definition.load("smoke"))
    worker.step(settle_s=0.0)
    p = worker.processor
    assert p.accepted > 0 and (p.status == 1).sum() > 20 and p.progress_m.max() > 0


def test_define_prints_the_race_with_its_ingest_key_kept_across_redefinitions(platform: Any, tmp_path: Path) -> None:
    from apps.race import live_race

    course, people = tmp_path / "course.gpx", tmp_path / "people.csv"
    course.write_text(live_race.course_gpx())
    people.write_text("bib,name,category\n1,Ana,W\n2,Ben,M\n")
    args = ["define", "cli", "--course", str(course), "--participants", str(people), "--start", "2026-05-01T09:00"]
    first = runner.invoke(commands, args)
    assert first.exit_code == 0, first.output
    key = json.loads(first.output)["ingest_key"]
    assert len(key) >= 16 and definition.load("cli").definition.ingest_key == key
    again = runner.invoke(commands, [*args, "--title", "renamed"])
    assert again.exit_code == 0 and json.loads(again.output)["ingest_key"] == key
