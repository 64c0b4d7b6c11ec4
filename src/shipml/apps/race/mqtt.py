"""The MQTT subscriber service: OwnTracks locations (or ping objects / lists) from a broker into the raw store.

On when ``SHIPML_MQTT_URL`` is set (``mqtt://host:1883``). It subscribes to ``SHIPML_RACE_MQTT_TOPIC``
(default ``owntracks/+/+``) with QoS 1 and acknowledges a message only once its pings are stored durably, so a
message the broker delivered is never lost: if the subscriber dies first, the broker delivers it again. Messages
are stored in groups (one write every ``FLUSH_SECONDS``, or sooner when ``FLUSH_MESSAGES`` wait, the broker's
usual in-flight window) and acknowledged together after it. The device is the topic's last two levels
(``owntracks/<user>/<device>`` → ``user/device``), or the ``device`` field of a ping object.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import polars as pl

from shipml.core.errors import ShipmlError

from . import definition, ingest, rawlog
from .rawlog import WRITE_TIMEOUT_S
from .settings import mqtt_url, settings

log = logging.getLogger(__name__)


FLUSH_SECONDS = 0.02
FLUSH_MESSAGES = 16


def frame_from_message(topic: str, payload: bytes) -> pl.DataFrame | None:
    """The pings of one MQTT message (None when it carries no position)."""
    message: Any = json.loads(payload)
    if isinstance(message, dict) and "_type" in message:
        device = "/".join(topic.split("/")[-2:]) if topic.count("/") >= 2 else None
        return ingest.owntracks_frame(message, device)
    if not isinstance(message, list | dict):
        raise ValueError("a message is an OwnTracks object, a ping, a list of pings or {\"pings\": [...]}")
    items = message if isinstance(message, list) or "pings" in message else [message]
    return ingest.frame_of(ingest.batch_items(items), "mqtt")


Ack = Callable[[int, int], Any]


class Subscriber:
    """Stores what arrives in groups and acknowledges each message after its group is on disk; counts stored,
    ignored and bad messages."""

    def __init__(self, race: str, ack: Ack | None = None) -> None:
        self.race = race
        self.ack = ack or (lambda _mid, _qos: None)
        self.counts = {"messages": 0, "pings": 0, "ignored": 0, "bad": 0}
        self._waiting: list[tuple[pl.DataFrame, int, int]] = []
        self._ready = threading.Condition()

    def on_message(self, topic: str, payload: bytes, mid: int = 0, qos: int = 0) -> None:
        self.counts["messages"] += 1
        try:
            frame = frame_from_message(topic, payload)
        except (ValueError, ShipmlError, AttributeError, TypeError) as exc:
            self.counts["bad"] += 1
            log.info("bad MQTT message on %s: %s", topic, exc)
            self.ack(mid, qos)  # nothing to keep: redelivering it would not make it good
            return
        if frame is None or frame.is_empty():
            self.counts["ignored"] += 1
            self.ack(mid, qos)
            return
        with self._ready:
            self._waiting.append((frame, mid, qos))
            if len(self._waiting) >= FLUSH_MESSAGES:
                self._ready.notify()

    def flush(self) -> int:
        """Store what waits as one durable write, then acknowledge it; returns how many messages."""
        with self._ready:
            group, self._waiting = self._waiting, []
        if not group:
            return 0
        try:
            rawlog.store(self.race, pl.concat([frame for frame, _, _ in group], how="vertical_relaxed"))
        except Exception:  # not acknowledged: kept to retry here, or delivered again by the broker
            log.exception("could not store %d MQTT message(s); retrying", len(group))
            with self._ready:
                self._waiting[:0] = group
            return 0
        for frame, mid, qos in group:
            self.counts["pings"] += frame.height
            self.ack(mid, qos)
        return len(group)

    def keep_flushing(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._ready:
                if len(self._waiting) < FLUSH_MESSAGES:
                    self._ready.wait(FLUSH_SECONDS)
            self.flush()
        self.flush()


def run_mqtt(max_seconds: float | None = None, ready: threading.Event | None = None) -> dict[str, int]:
    """The ``mqtt`` service: subscribe and store until stopped (or ``max_seconds``)."""
    import paho.mqtt.client as mqtt

    from shipml.core import services

    url = urlparse(mqtt_url() or "mqtt://127.0.0.1:1883")
    s = settings()
    race = s.mqtt_race or s.race
    definition.load(race)  # a clear error when the race is not defined
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"shipml-race-{race}", clean_session=False,
                         manual_ack=True)
    subscriber = Subscriber(race, ack=client.ack)
    stop = threading.Event()
    flusher = threading.Thread(target=subscriber.keep_flushing, args=(stop,), name="race-mqtt-flush", daemon=True)
    flusher.start()
    if url.username:
        client.username_pw_set(url.username, url.password)

    def on_connect(c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        c.subscribe(s.mqtt_topic, qos=1)
        log.info("MQTT: connected to %s, subscribed to %s (%s)", url.netloc, s.mqtt_topic, reason)
        if ready is not None:
            ready.set()

    client.on_connect = on_connect
    client.on_message = lambda _c, _u, msg: subscriber.on_message(msg.topic, bytes(msg.payload), msg.mid, msg.qos)
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
        stop.set()
        flusher.join(WRITE_TIMEOUT_S)  # what was stored is acknowledged before the connection closes
        client.loop_stop()
        client.disconnect()
    return subscriber.counts
