"""The MQTT subscriber service: OwnTracks locations (or ping objects / lists) from a broker into the raw store.

On when ``SHIPML_MQTT_URL`` is set (``mqtt://host:1883``). It subscribes to ``SHIPML_RACE_MQTT_TOPIC``
(default ``owntracks/+/+``) with QoS 1 and acknowledges a message only once its pings are stored durably, so a
message the broker delivered is never lost: if the subscriber dies first, the broker delivers it again. Messages
are stored in groups (one write every ``FLUSH_SECONDS``, or sooner when ``FLUSH_MESSAGES`` wait, the broker's
usual in-flight window) and acknowledged together after it. The device is the topic's last two levels
(``owntracks/<user>/<device>`` → ``user/device``), or the ``device`` field of a ping object.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import polars as pl
from pydantic import ValidationError

from shipml.core.errors import InvalidInput, ShipmlError

from . import definition, ingest, policy, rawlog
from .rawlog import WRITE_TIMEOUT_S
from .settings import mqtt_url, settings

log = logging.getLogger(__name__)


FLUSH_SECONDS = 0.02
FLUSH_MESSAGES = 16


def frame_from_message(topic: str, payload: bytes) -> pl.DataFrame | None:
    """The pings of one MQTT message (None when it carries no position)."""
    message: Any = ingest.decode_json(payload)
    if isinstance(message, dict) and "_type" in message:
        device = "/".join(topic.split("/")[-2:]) if topic.count("/") >= 2 else None
        return ingest.owntracks_frame(message, device)
    if not isinstance(message, list | dict):
        raise InvalidInput("a message is an OwnTracks object, a ping, a list of pings or {\"pings\": [...]}")
    items = message if isinstance(message, list) or "pings" in message else [message]
    return ingest.frame_of(ingest.batch_items(items), "mqtt")


def reason_of(exc: Exception) -> str:
    """Why a message was turned away, as a short stable word for the counters."""
    if isinstance(exc, ShipmlError):
        return exc.code
    if isinstance(exc, ValidationError):
        return "invalid_pings"
    return f"unreadable_{type(exc).__name__}"  # anything else a hostile payload can raise: counted by its kind


Ack = Callable[[int, int], Any]


class Subscriber:
    """Stores what arrives in groups and acknowledges each message after its group is on disk; counts stored,
    ignored and bad messages (and why they were bad)."""

    def __init__(self, race: str, ack: Ack | None = None) -> None:
        self.race = race
        self.ack = ack or (lambda _mid, _qos: None)
        self.counts = {"messages": 0, "pings": 0, "ignored": 0, "bad": 0}
        self.bad_reasons: dict[str, int] = {}
        self.not_stored: dict[str, int] = {}  # pings the ingest policy turned away, by reason
        self._waiting: list[tuple[pl.DataFrame, int, int]] = []
        self._ready = threading.Condition()

    def on_message(self, topic: str, payload: bytes, mid: int = 0, qos: int = 0) -> None:
        """Never raises: a message that cannot be read is counted by reason and acknowledged (redelivering it
        would not make it good, and an exception here would stop the stream)."""
        self.counts["messages"] += 1
        try:
            frame = frame_from_message(topic, payload)
            if frame is not None and not frame.is_empty():
                kept, dropped = policy.admit(definition.load(self.race), frame)
                self._count(dropped)
                policy.pending.add(self.race, dropped)
        except Exception as exc:  # OverflowError, RecursionError, UnicodeError, ...: one message, never the stream
            reason = reason_of(exc)
            self.counts["bad"] += 1
            self.bad_reasons[reason] = self.bad_reasons.get(reason, 0) + 1
            log.info("bad MQTT message on %s (%s): %s", topic[:200], reason, str(exc)[:200])
            self.ack(mid, qos)
            return
        if frame is None or frame.is_empty():
            self.counts["ignored"] += 1
            self.ack(mid, qos)
            return
        if kept.is_empty():  # every ping turned away by the policy (counted above)
            self.ack(mid, qos)
            return
        with self._ready:
            self._waiting.append((kept, mid, qos))
            if len(self._waiting) >= FLUSH_MESSAGES:
                self._ready.notify()

    def flush(self) -> int:
        """Store what waits as one durable write, then acknowledge it; returns how many messages."""
        with self._ready:
            group, self._waiting = self._waiting, []
        if not group:
            return 0
        try:
            policy.check_budget(definition.load(self.race))
        except policy.StorageBudgetExceeded as exc:  # for good: acknowledged, counted, not stored
            log.warning("%s (%d MQTT message(s) dropped)", exc.message, len(group))
            self._count({policy.OVER_BUDGET: sum(frame.height for frame, _, _ in group)})
            for _, mid, qos in group:
                self.ack(mid, qos)
            return len(group)
        except Exception:
            log.warning("could not check the storage budget of race %s; storing", self.race, exc_info=True)
        counts = policy.pending.take(self.race)
        frames = [frame for frame, _, _ in group] + ([rawlog.count_rows(counts, time.time())] if counts else [])
        try:
            rawlog.store(self.race, pl.concat(frames, how="vertical_relaxed"))
        except Exception:  # not acknowledged: kept to retry here, or delivered again by the broker
            log.exception("could not store %d MQTT message(s); retrying", len(group))
            policy.pending.add(self.race, counts)
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

    def _count(self, dropped: dict[str, int]) -> None:
        for reason, n in dropped.items():
            self.not_stored[reason] = self.not_stored.get(reason, 0) + n

    def details(self) -> dict[str, Any]:
        return {**self.counts, "bad_reasons": dict(self.bad_reasons), "not_stored": dict(self.not_stored)}


class ConsumerDown(RuntimeError):
    """The subscriber cannot consume (connection lost too long, or its flusher died): the service exits and
    ``shipml up`` restarts it."""


def run_mqtt(max_seconds: float | None = None, ready: threading.Event | None = None) -> dict[str, int]:
    """The ``mqtt`` service: subscribe and store until stopped (or ``max_seconds``).

    The network loop runs here, in the service's own loop, and so does the heartbeat: the beat is written only
    while messages are being consumed (or the connection is being retried, for at most
    ``SHIPML_RACE_MQTT_MAX_DISCONNECTED_S``); past that, or if the flusher thread dies, :class:`ConsumerDown` is
    raised, the heartbeat goes stale in ``/api/health`` and ``shipml up`` restarts the service."""
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
        log.info("MQTT: connected to %s, subscribing to %s (%s)", url.netloc, s.mqtt_topic, reason)

    def on_subscribe(_c: Any, _u: Any, _mid: Any, _reasons: Any, _p: Any = None) -> None:
        # ready once the broker has confirmed the subscription: a message published before that would not be ours
        if ready is not None:
            ready.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = lambda _c, _u, msg: subscriber.on_message(msg.topic, bytes(msg.payload), msg.mid, msg.qos)
    client.connect(url.hostname or "127.0.0.1", url.port or 1883, keepalive=30)
    started = beat_at = time.monotonic()
    connected_at = started
    try:
        while max_seconds is None or time.monotonic() - started < max_seconds:
            if client.loop(timeout=0.2) == mqtt.MQTT_ERR_SUCCESS:
                connected_at = time.monotonic()
            else:
                if time.monotonic() - connected_at > s.mqtt_max_disconnected_s:
                    raise ConsumerDown(f"MQTT: no connection to {url.netloc} for "
                                       f"{s.mqtt_max_disconnected_s:.0f} s")
                try:
                    client.reconnect()
                except OSError as exc:
                    log.warning("MQTT: reconnecting to %s failed (%s)", url.netloc, exc)
                    stop.wait(1.0)
            if not flusher.is_alive():
                raise ConsumerDown("MQTT: the flusher thread died; nothing would be acknowledged")
            if time.monotonic() - beat_at >= 2:
                beat_at = time.monotonic()
                try:
                    services.beat("race", "mqtt", lag_seconds=0.0, connected=client.is_connected(),
                                  **subscriber.details())
                except Exception:
                    log.warning("could not record the MQTT subscriber's heartbeat", exc_info=True)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        flusher.join(WRITE_TIMEOUT_S)  # what was stored is acknowledged before the connection closes
        client.loop(timeout=0.1)  # send those acknowledgements
        client.disconnect()
    return subscriber.counts
