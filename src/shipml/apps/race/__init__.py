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

from shipml.apps.race.settings import RaceSettings
from shipml.core.app import App, Service

SERVICES = (
    Service("processor", "shipml.apps.race.live:run_processor",
            "raw pings → every runner's state → published standings, ≤1 s batches",
            enabled="shipml.apps.race.tasks:processor_enabled"),
    Service("simulator", "shipml.apps.race.tasks:run_simulator",
            "keeps the SIMULATED demo race moving through the HTTP ingest",
            enabled="shipml.apps.race.tasks:simulator_enabled"),
    Service("mqtt", "shipml.apps.race.mqtt:run_mqtt",
            "MQTT subscriber (OwnTracks / ping JSON), on when SHIPML_MQTT_URL is set",
            enabled="shipml.apps.race.tasks:mqtt_enabled"),
)


APP = App(
    name="race",
    title="Race leaderboard",
    icon=":material/sprint:",
    router="shipml.apps.race.api:router",
    status="shipml.apps.race.tasks:status",
    services=SERVICES,
    prepare="shipml.apps.race.tasks:prepare",
    page=Path(__file__).parent / "page.py",
    commands="shipml.apps.race.cli:commands",
    settings=RaceSettings,
)
