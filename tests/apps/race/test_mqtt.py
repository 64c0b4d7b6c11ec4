"""The MQTT subscriber against the real Mosquitto (services pass only: ``SHIPML_TEST_SERVICES=1``)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest

from apps.race import simrace
from platform_fixtures import SERVICES, wait_for
from shipml.apps.race import rawlog
from shipml.apps.race.mqtt import run_mqtt

pytestmark = pytest.mark.skipif(not SERVICES, reason="needs the Mosquitto service (SHIPML_TEST_SERVICES=1)")


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
        publisher.publish(topic, json.dumps(body), qos=1).wait_for_publish(5)
    publisher.loop_stop()
    publisher.disconnect()
    wait_for(lambda: rawlog.read_race("mq").height >= 2, timeout=10, what="the pings on disk")
    thread.join(15)
    stored = rawlog.read_race("mq")
    assert sorted(stored["device"].to_list()) == ["ana/phone", "sim-1"]
    assert counts == {"messages": 4, "pings": 2, "ignored": 1, "bad": 1}
