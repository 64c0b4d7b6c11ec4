"""The MQTT subscriber service: OwnTracks locations (or ping objects / lists) from a broker into the raw store.

On when ``SHIPML_MQTT_URL`` is set (``mqtt://host:1883``). It subscribes to ``SHIPML_RACE_MQTT_TOPIC``
(default ``owntracks/+/+``) with QoS 1 and stores each message's pings durably (group commit) before paho
acknowledges it, so a message the broker delivered is never lost. The device is the topic's last two levels
(``owntracks/<user>/<device>`` → ``user/device``), or the ``device`` field of a ping object.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Any
from urllib.parse import urlparse

import polars as pl

from shipml.core.errors import ShipmlError

from . import definition, ingest, rawlog
from .settings import mqtt_url, settings

log = logging.getLogger(__name__)


def frame_from_message(topic: str, payload: bytes) -> pl.DataFrame | None:
    """The pings of one MQTT message (None when it carries no position)."""
    message: Any = json.loads(payload)
    if isinstance(message, dict) and "_type" in message:
        device = "/".join(topic.split("/")[-2:]) if topic.count("/") >= 2 else None
        return ingest.owntracks_frame(message, device)
    items = message if isinstance(message, list) else message.get("pings", [message])
    if len(items) > ingest.MAX_BATCH:
        raise ValueError(f"at most {ingest.MAX_BATCH} pings per message")
    pings = [ingest.PingIn.model_validate(item) for item in items]
    return ingest.batch_frame(pings, source="mqtt")


class Subscriber:
    """Stores what arrives; counts stored, ignored and bad messages."""

    def __init__(self, race: str) -> None:
        self.race = race
        self.counts = {"messages": 0, "pings": 0, "ignored": 0, "bad": 0}
        self.pending: queue.Queue[pl.DataFrame] = queue.Queue()

    def on_message(self, topic: str, payload: bytes) -> None:
        self.counts["messages"] += 1
        try:
            frame = frame_from_message(topic, payload)
        except (ValueError, ShipmlError, AttributeError, TypeError) as exc:
            self.counts["bad"] += 1
            log.info("bad MQTT message on %s: %s", topic, exc)
            return
        if frame is None:
            self.counts["ignored"] += 1
            return
        rawlog.store(self.race, frame)  # durable before the callback returns (and paho acknowledges)
        self.counts["pings"] += frame.height


def run_mqtt(max_seconds: float | None = None, ready: threading.Event | None = None) -> dict[str, int]:
    """The ``mqtt`` service: subscribe and store until stopped (or ``max_seconds``)."""
    import paho.mqtt.client as mqtt

    from shipml.core import services

    url = urlparse(mqtt_url() or "mqtt://127.0.0.1:1883")
    s = settings()
    race = s.mqtt_race or s.race
    definition.load(race)  # a clear error when the race is not defined
    subscriber = Subscriber(race)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"shipml-race-{race}", clean_session=False)
    if url.username:
        client.username_pw_set(url.username, url.password)

    def on_connect(c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        c.subscribe(s.mqtt_topic, qos=1)
        log.info("MQTT: connected to %s, subscribed to %s (%s)", url.netloc, s.mqtt_topic, reason)
        if ready is not None:
            ready.set()

    client.on_connect = on_connect
    client.on_message = lambda _c, _u, msg: subscriber.on_message(msg.topic, bytes(msg.payload))
    client.connect(url.hostname or "127.0.0.1", url.port or 1883, keepalive=30)
    client.loop_start()
    started = beat_at = time.monotonic()
    try:
        while max_seconds is None or time.monotonic() - started < max_seconds:
            time.sleep(0.2)
            if time.monotonic() - beat_at >= 2:
                beat_at = time.monotonic()
                try:
                    services.beat("race", "mqtt", lag_seconds=0.0, **subscriber.counts)
                except Exception:
                    log.warning("could not record the MQTT subscriber's heartbeat", exc_info=True)
    except KeyboardInterrupt:
        pass
    finally:
        client.loop_stop()
        client.disconnect()
    return subscriber.counts
