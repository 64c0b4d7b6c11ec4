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
from typing import TYPE_CHECKING, Any

from shipml.apps.race.settings import RaceSettings
from shipml.core.app import App, Service

if TYPE_CHECKING:
    from fastapi import APIRouter


def _router() -> APIRouter:
    from shipml.apps.race.api import router

    return router


def _status() -> dict[str, Any]:
    from shipml.apps.race.tasks import status

    return status()


def _prepare(say: Any) -> None:
    from shipml.apps.race.tasks import prepare

    prepare(say)


def _processor() -> None:
    from shipml.apps.race.live import run_processor

    run_processor()


def _simulator() -> None:
    from shipml.apps.race.tasks import run_simulator

    run_simulator()


def _processor_enabled() -> bool:
    from shipml.apps.race.tasks import processor_enabled

    return processor_enabled()


def _simulator_enabled() -> bool:
    from shipml.apps.race.tasks import simulator_enabled

    return simulator_enabled()


def _mqtt() -> None:
    from shipml.apps.race.mqtt import run_mqtt

    run_mqtt()


def _mqtt_enabled() -> bool:
    from shipml.apps.race.settings import mqtt_url

    return mqtt_url() is not None


def _services() -> list[Service]:
    return [
        Service("processor", _processor, "raw pings → every runner's state → published standings, ≤1 s batches",
                enabled=_processor_enabled, stale_seconds=30.0),
        Service("simulator", _simulator, "keeps the SIMULATED demo race moving through the HTTP ingest",
                enabled=_simulator_enabled, stale_seconds=30.0),
        Service("mqtt", _mqtt, "MQTT subscriber (OwnTracks / ping JSON), on when SHIPML_MQTT_URL is set",
                enabled=_mqtt_enabled, stale_seconds=30.0),
    ]


def _commands() -> Any:
    from shipml.apps.race.cli import commands

    return commands


APP = App(
    name="race",
    title="Race leaderboard",
    icon=":material/sprint:",
    router=_router,
    status=_status,
    services=_services,
    prepare=_prepare,
    page=Path(__file__).parent / "page.py",
    commands=_commands,
    settings=RaceSettings,
)
