"""Race settings: ``SHIPML_RACE_…`` (the demo race, the processor's pace, the simulator) and ``SHIPML_MQTT_URL``.

With nothing set, ``shipml up`` defines a simulated race named ``demo`` on the course shipped with the app (a
generated 10 km course with an out-and-back and a lap, see :mod:`.demo`) and keeps it moving with the simulator
service. ``SHIPML_RACE_COURSE`` / ``SHIPML_RACE_PARTICIPANTS`` / ``SHIPML_RACE_START`` define a real race instead.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shipml.settings import get_settings


class RaceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPML_RACE_", extra="ignore")

    race: str = Field("demo", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="the race `shipml up` prepares")
    course: Path | None = Field(None, description="course file (GPX/TCX/CSV); unset = the generated demo course")
    participants: Path | None = Field(None, description="participants CSV (bib,name,category[,device,wave]); "
                                                       "unset = simulated runners")
    start: datetime | None = Field(None, description="gun time (ISO 8601); unset = a minute after `shipml up`")
    sport: str = Field("running", description="running, walking or cycling (its largest plausible speed)")
    checkpoint_every_m: float = Field(5000.0, gt=0, description="checkpoint spacing along the course")
    mqtt_topic: str = Field("owntracks/+/+", description="MQTT topic pattern the subscriber listens to; the device "
                                                        "is the topic's last two levels joined by '/'")
    mqtt_max_disconnected_s: float = Field(60.0, gt=0, le=3600, description="the MQTT subscriber exits (and is "
                                           "restarted) after this long without a connection to the broker")
    mqtt_race: str | None = Field(None, description="the race MQTT pings belong to (default: `race`)")
    simulate: bool = Field(True, description="under `shipml up`, keep a simulated race moving when no "
                                             "participants file is set")
    simulate_runners: int = Field(3000, ge=1, le=2_000_000, description="runners of the simulated demo race")
    simulate_speedup: float = Field(10.0, gt=0, le=1000, description="race seconds per wall second in the demo")
    engine: Literal["embedded", "spark"] = Field("embedded", description="what the processor service runs: the "
                                                 "embedded processor or the Spark streaming job (SHIPML_SPARK_MASTER)")
    batch_seconds: float = Field(0.5, gt=0, le=1.0, description="the processor's micro-batch period")
    settle_seconds: float = Field(0.3, ge=0, le=5, description="a stored file is read once this old (writers "
                                                               "still renaming)")
    save_every_seconds: float = Field(10.0, gt=0, description="how often the processor saves its state")
    keep_history_every_seconds: float = Field(10.0, gt=0, description="leaders' progress sampling period")
    stale_after_s: float = Field(120.0, gt=0, description="a running runner without a ping this long is stale")
    device_rate: str = Field("60/minute", description="pings one device may send (a token bucket: a steady ping a "
                             "second, a backlog of 60 at once); the excess is counted as rate_limited, not stored")
    client_rate: str = Field("30/second", description="ingest requests one client address may make to one race "
                             "(shared through Redis when SHIPML_REDIS_URL is set); the ingest key's holder too")
    bytes_per_ping: int = Field(400, ge=50, le=100_000, description="raw bytes a ping may take on disk, for a race's "
                                "storage budget (participants × duration × 1 ping/s × this × budget_margin)")
    budget_margin: float = Field(2.0, ge=1, le=100, description="the storage budget's margin")
    track_minutes: int = Field(3, ge=0, le=60, description="raw minutes scanned for a runner's recent track")


    @field_validator("device_rate", "client_rate")
    @classmethod
    def _a_rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate like '30/second' or '60/minute'") from exc
        return value


class MqttSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIPML_", extra="ignore")

    mqtt_url: str | None = Field(None, description="mqtt://host:port of a broker; unset = no MQTT subscriber")


def settings() -> RaceSettings:
    return RaceSettings()


def mqtt_url() -> str | None:
    return MqttSettings().mqtt_url


def races_dir() -> Path:
    folder = get_settings().resolved_home / "race"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
