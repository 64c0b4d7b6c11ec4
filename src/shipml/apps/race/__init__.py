"""race: a live leaderboard of a mass race fed by GPS pings.

The platform-independent heart lives in small modules:

    tracks      read GPX / TCX / CSV activity files into one track frame
    course      a course in local metres: distance along it, checkpoints, spatial index
    matching    vectorised map matching disambiguated by each runner's previous progress
    rules       the sport and the race's thresholds, as one value object
    pings       a micro-batch of pings and the reasons a ping is rejected
    processor   the state of every runner in numpy arrays, advanced batch by batch
    standings   ranks overall and per category, gaps, leaderboard pages
    replay      real track files through the processor in race time

and the app around it:

    settings    SHIPML_RACE_… and SHIPML_MQTT_URL
    demo        the shipped (generated) course and simulated participants
    definition  a race on disk: course, checkpoints, start/waves, participants, sport
    rawlog      raw pings, durable, one Arrow file per write in per-minute folders
    ingest      batch / OsmAnd / OwnTracks parsing and edge checks
    live        the processor service; publish: the standings it publishes; queries: what the API answers
    mqtt        the MQTT subscriber service; simulate: the simulator; spark_path: the Spark path
    api, page, cli, tasks
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from shipml.apps.race.settings import RaceSettings, mqtt_url
from shipml.core.app import App, Service


def _tasks() -> ModuleType:  # imported on first use: reading the declaration stays cheap
    from shipml.apps.race import tasks

    return tasks


def _api() -> ModuleType:
    from shipml.apps.race import api

    return api


def _live() -> ModuleType:
    from shipml.apps.race import live

    return live


def _mqtt() -> ModuleType:
    from shipml.apps.race import mqtt

    return mqtt


def _cli() -> ModuleType:
    from shipml.apps.race import cli

    return cli


def _services() -> list[Service]:
    return [
        Service("processor", lambda: _live().run_processor(),
                "raw pings → every runner's state → published standings, ≤1 s batches",
                enabled=lambda: _tasks().processor_enabled(), stale_seconds=30.0),
        Service("simulator", lambda: _tasks().run_simulator(),
                "keeps the SIMULATED demo race moving through the HTTP ingest",
                enabled=lambda: _tasks().simulator_enabled(), stale_seconds=30.0),
        Service("mqtt", lambda: _mqtt().run_mqtt(),
                "MQTT subscriber (OwnTracks / ping JSON), on when SHIPML_MQTT_URL is set",
                enabled=lambda: mqtt_url() is not None, stale_seconds=30.0),
    ]


APP = App(
    name="race",
    title="Race leaderboard",
    icon=":material/sprint:",
    router=lambda: _api().router,
    status=lambda: _tasks().status(),
    services=_services,
    prepare=lambda say: _tasks().prepare(say),
    page=Path(__file__).parent / "page.py",
    commands=lambda: _cli().commands,
    settings=RaceSettings,
)
