"""The MQTT subscriber: acknowledgements after durable storage, and against the real Mosquitto (services pass
only: ``SHIPML_TEST_SERVICES=1``)."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
import uuid
from typing import Any

import polars as pl
import pytest

from apps.race import simrace
from platform_fixtures import SERVICES, wait_for
from shipml.apps.race import rawlog
from shipml.apps.race.mqtt import ConsumerDown, Subscriber, run_mqtt

needs_broker = pytest.mark.skipif(not SERVICES, reason="needs the Mosquitto service (SHIPML_TEST_SERVICES=1)")


def test_a_message_is_acknowledged_only_once_stored_and_kept_while_the_store_fails(platform: Any) -> None:
    race = simrace.define("acks", 3)
    lat, lon = race.course.lat[3], race.course.lon[3]
    acked: list[int] = []
    subscriber = Subscriber("acks", ack=lambda mid, _qos: acked.append(mid))
    for mid in (1, 2, 3):
        ping = {"device": f"sim-{mid}", "t": time.time(), "lat": lat, "lon": lon}
        subscriber.on_message("gw/1", json.dumps(ping).encode(), mid, 1)
    subscriber.on_message("gw/1", b"{not json", 4, 1)  # bad: acknowledged at once, nothing to keep
    assert acked == [4] and rawlog.read_race("acks").height == 0
    shutil.rmtree(rawlog.raw_dir("acks"), ignore_errors=True)
    rawlog.raw_dir("acks").parent.mkdir(parents=True, exist_ok=True)
    rawlog.raw_dir("acks").write_text("in the way")  # the store cannot write
    assert subscriber.flush() == 0 and acked == [4]
    rawlog.raw_dir("acks").unlink()
    assert subscriber.flush() == 3 and sorted(acked) == [1, 2, 3, 4]
    assert sorted(rawlog.read_race("acks")["device"].to_list()) == ["sim-1", "sim-2", "sim-3"]
    assert subscriber.counts == {"messages": 4, "pings": 3, "ignored": 0, "bad": 1}


HUGE = "1" + "0" * 400
POISON = [  # every one of these stopped the stream (an exception in paho's network thread) or could
    '{"_type": "location", "lat": 47.37, "lon": 8.54, "tst": ' + HUGE + '}',
    '{"_type": "location", "lat": ' + HUGE + ', "lon": 8.54, "tst": 1}',
    '{"_type": "location", "lat": 47.37, "lon": 8.54, "tst": 1, "tid": "\\ud800"}',
    '{"_type": "location", "lat": 47.37, "lon": 8.54, "tst": {"a": 1}}',
    "[" * 5000 + "]" * 5000,
    '{"pings": ' + "[" * 2000 + "]" * 2000 + "}",
    '{"device": "a", "t": ' + HUGE + ', "lat": 1, "lon": 2}',
    '{"pings": "garbage"}', "42", "{not json",
]


def test_every_poisonous_message_is_counted_by_reason_and_acknowledged() -> None:
    acked: list[int] = []
    subscriber = Subscriber("nowhere", ack=lambda mid, _qos: acked.append(mid))
    for mid, body in enumerate(POISON):
        subscriber.on_message("owntracks/ana/phone", body.encode(), mid, 1)
    subscriber.on_message("owntracks/ana/phone", b"\xff\xfe not utf-8", 99, 1)
    assert sorted(acked) == [*range(len(POISON)), 99]
    assert subscriber.counts == {"messages": len(POISON) + 1, "pings": 0, "ignored": 0, "bad": len(POISON) + 1}
    assert sum(subscriber.bad_reasons.values()) == len(POISON) + 1
    assert set(subscriber.bad_reasons) <= {"invalid_input", "invalid_pings"}, subscriber.bad_reasons


def test_the_subscriber_exits_when_it_has_lost_its_broker_for_too_long(platform: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A broker that accepts the connection and then goes away: the service's own loop raises (its heartbeat
    stops, ``shipml up`` restarts it) instead of living on without consuming."""
    simrace.define("gone", 3)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    monkeypatch.setenv("SHIPML_MQTT_URL", f"mqtt://127.0.0.1:{port}")
    monkeypatch.setenv("SHIPML_RACE_MQTT_RACE", "gone")
    monkeypatch.setenv("SHIPML_RACE_MQTT_MAX_DISCONNECTED_S", "1")
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            run_mqtt(max_seconds=60)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    connection, _ = server.accept()
    connection.close()  # the broker is gone: the connection drops, and nothing listens any more
    server.close()
    thread.join(30)
    assert not thread.is_alive() and len(outcome) == 1
    assert isinstance(outcome[0], ConsumerDown), outcome


@needs_broker
def test_owntracks_and_ping_messages_are_stored(platform: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import paho.mqtt.client as mqtt

    race = simrace.define("mq", 5)
    prefix = f"shipml-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SHIPML_MQTT_URL", "mqtt://127.0.0.1:1883")
    monkeypatch.setenv("SHIPML_RACE_MQTT_TOPIC", f"{prefix}/+/+")
    monkeypatch.setenv("SHIPML_RACE_MQTT_RACE", "mq")
    ready = threading.Event()
    counts: dict[str, int] = {}
    thread = threading.Thread(target=lambda: counts.update(run_mqtt(max_seconds=8, ready=ready)), daemon=True)
    thread.start()
    assert ready.wait(10), "the subscriber did not connect"
    lat, lon = race.course.lat[3], race.course.lon[3]
    now = time.time()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", 1883)
    publisher.loop_start()
    messages = [
        (f"{prefix}/ana/phone", {"_type": "location", "lat": lat, "lon": lon, "tst": int(now), "tid": "ap"}),
        (f"{prefix}/gw/1", {"pings": [{"device": "sim-1", "t": now, "lat": lat, "lon": lon}]}),
        (f"{prefix}/ana/phone", {"_type": "lwt", "tst": int(now)}),  # not a position: ignored
        (f"{prefix}/gw/1", {"pings": "garbage"}),  # counted as bad, never crashes the subscriber
    ]
    for topic, body in messages:
        publisher.publish(topic, json.dumps(body), qos=1).wait_for_publish(30)
    for body in POISON:  # none of these stops the stream: the good message after them is stored
        publisher.publish(f"{prefix}/ana/phone", body, qos=1).wait_for_publish(30)
    after = {"device": "sim-2", "t": now + 1, "lat": lat, "lon": lon}
    publisher.publish(f"{prefix}/gw/1", json.dumps(after), qos=1).wait_for_publish(30)
    publisher.loop_stop()
    publisher.disconnect()
    pings = lambda: rawlog.read_race("mq").filter(pl.col("kind") == rawlog.PING)  # noqa: E731
    wait_for(lambda: pings().height >= 2, what="the pings on disk")
    thread.join(60)
    assert sorted(pings()["device"].to_list()) == ["sim-1", "sim-2"]  # ana/phone is not in the race: counted
    assert counts == {"messages": 5 + len(POISON), "pings": 2, "ignored": 1, "bad": 1 + len(POISON)}
    assert rawlog.edge_counts(rawlog.read_race("mq")) == {"unknown_device": 1}
