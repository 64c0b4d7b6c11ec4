"""The MQTT subscriber: acknowledgements after durable storage, and against the real Mosquitto (services pass
only: ``SHIPML_TEST_SERVICES=1``)."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from typing import Any

import pytest

from apps.race import simrace
from platform_fixtures import SERVICES, wait_for
from shipml.apps.race import rawlog
from shipml.apps.race.mqtt import Subscriber, run_mqtt

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
        publisher.publish(topic, json.dumps(body), qos=1).wait_for_publish(5)
    publisher.loop_stop()
    publisher.disconnect()
    wait_for(lambda: rawlog.read_race("mq").height >= 2, timeout=10, what="the pings on disk")
    thread.join(15)
    stored = rawlog.read_race("mq")
    assert sorted(stored["device"].to_list()) == ["ana/phone", "sim-1"]
    assert counts == {"messages": 4, "pings": 2, "ignored": 1, "bad": 1}
