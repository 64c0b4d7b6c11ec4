"""The race app end to end, on embedded defaults, on this machine (127.0.0.1 only, bounded loops).

1. Batch endpoint → durable raw store → processor service → published leaderboard: a ladder of offered rates
   (pings/s, 10,000 pings per request, runners pinging at the offered rate), each held ``--hold`` seconds; for
   each: the rate stored, processing lag p50/p99 (acknowledged → visible in the standings the API serves,
   measured from outside by polling ``/stats``) and the memory of API + processor. Stops at the first rate
   whose lag p99 exceeds 2 s or that the API cannot absorb.
2. OsmAnd ingest rate (one position per request, ``--threads`` clients) and MQTT ingest rate (QoS 1 through the
   local Mosquitto into the subscriber service, when a broker answers on 127.0.0.1:1883).
3. The same stored raw pings (the first ``--spark-pings`` of the ladder) through the embedded processor and
   through the Spark Structured Streaming path, each from scratch: pings/s, the ratio, and whether the standings
   are the same.
4. Leaderboard, category page, runner and search p99 at ``--query-runners`` (default 1,000,000) runners.

``--database-url`` runs it on another database (PostgreSQL) instead of the embedded SQLite.

    .venv/bin/python benchmarks/race_e2e/run.py [--runners 100000] [--rates 5000,10000,20000,40000] [--hold 20]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import httpx  # noqa: E402
import numpy as np  # noqa: E402
from _common import emit, free_port, tree_cpu_s, tree_rss_mib  # noqa: E402

NAME = "race_e2e"
SHIPML = [sys.executable, "-m", "shipml.cli"]
TOKEN = "race-e2e-benchmark-token"  # the admin token: gateway batches need it (or the race's ingest key)
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*SHIPML, *args], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_api(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/race/races", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the API did not answer within 60 s")


def define(env: dict[str, str], name: str, runners: int, minutes_ago: float) -> None:
    code = ("from datetime import UTC, datetime, timedelta\n"
            "from shipml.apps.race import definition, demo\n"
            "from shipml.apps.race.definition import RaceDefinition\n"
            f"start = datetime.now(UTC) - timedelta(minutes={minutes_ago})\n"
            f"d = RaceDefinition(name='{name}', title='bench', start=start)\n"
            f"people = definition.read_participants(demo.participants({runners}))\n"
            "definition.define(d, demo.course_gpx().encode(), people)\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


class Field:
    def __init__(self, runners: int, gun: float) -> None:
        from shipml.apps.race.course import Course
        from shipml.apps.race.demo import course_latlon

        self.course = Course(*course_latlon())
        rng = np.random.default_rng()
        self.speed = rng.uniform(2.2, 4.0, runners)
        self.gun, self.rng, self.runners = gun, rng, runners
        self.devices = np.array([f"sim-{i + 1}" for i in range(runners)])
        self.cursor = 0

    def body(self, n: int) -> bytes:
        idx = (self.cursor + np.arange(n)) % self.runners
        self.cursor = (self.cursor + n) % self.runners
        now = time.time()
        d = np.minimum(self.speed[idx] * (now - self.gun), self.course.length_m - 10)
        x, y = self.course.xy_at(d)
        lat, lon = self.course.unproject(x + self.rng.normal(0, 4, n), y + self.rng.normal(0, 4, n))
        pings = ",".join(f'{{"device":"{dv}","t":{now:.3f},"lat":{a:.7f},"lon":{o:.7f}}}'  # cheaper than dicts
                         for dv, a, o in zip(self.devices[idx].tolist(), lat.tolist(), lon.tolist(), strict=True))
        return f'{{"pings":[{pings}]}}'.encode()


def processed(client: httpx.Client, race: str) -> tuple[int, float]:
    s = client.get(f"/api/race/{race}/stats").json()
    return s["accepted"] + sum(s["rejected"].values()) + sum(s["ignored"].values()), s["published_age_s"]


def ladder(base: str, race: str, field: Field, rates: list[int], hold: float, pids: list[int]) -> None:
    client = httpx.Client(base_url=base, timeout=60)
    sent_total = processed(client, race)[0]
    for rate in rates:
        acks: list[tuple[float, int]] = []  # (ack time, cumulative pings acknowledged)
        lock = threading.Lock()
        per_request = min(10_000, rate)
        requests_per_s = rate / per_request
        stop_at = time.monotonic() + hold
        failed = {"n": 0}

        def sender(offset: float, stop_at: float = stop_at, per_request: int = per_request,
                   failed: dict[str, int] = failed, lock: threading.Lock = lock,
                   acks: list[tuple[float, int]] = acks, requests_per_s: float = requests_per_s) -> None:
            nonlocal sent_total
            local = httpx.Client(base_url=base, timeout=60, headers=AUTH)
            next_t = time.monotonic() + offset
            while next_t < stop_at:
                time.sleep(max(0.0, next_t - time.monotonic()))
                body = field.body(per_request)
                r = local.post(f"/api/race/{race}/pings", content=body, headers={"content-type": "application/json"})
                if r.status_code != 200:
                    failed["n"] += 1
                with lock:
                    sent_total += per_request
                    acks.append((time.time(), sent_total))
                next_t += 2.0 / requests_per_s

        threads = [threading.Thread(target=sender, args=(i / requests_per_s,)) for i in range(2)]
        cpu_before = [tree_cpu_s(p) for p in pids] + [time.process_time()]
        started = time.monotonic()
        for t in threads:
            t.start()
        seen: list[tuple[float, int]] = []
        rss = 0.0
        while any(t.is_alive() for t in threads) or (seen and seen[-1][1] < sent_total and
                                                     time.monotonic() - started < hold + 30):
            count, age = processed(client, race)
            seen.append((time.time() - age, count))
            rss = max(rss, sum(tree_rss_mib(p) for p in pids))
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        cpu = [after - before for after, before in zip([*(tree_cpu_s(p) for p in pids), time.process_time()],
                                                       cpu_before, strict=True)]
        lags = []
        for ack_t, cumulative in acks:
            visible = next((t for t, c in seen if c >= cumulative and t >= ack_t - 5), None)
            lags.append(np.inf if visible is None else max(0.0, visible - ack_t))
        lags_a = np.array(lags)
        sending_s = max(hold, (acks[-1][0] - acks[0][0]) + 1.0 / requests_per_s) if acks else hold
        stored = len(acks) * per_request / sending_s  # what the API absorbed (senders may overrun the hold)
        p99 = float(np.percentile(lags_a, 99)) if lags else float("inf")
        emit(NAME, f"batch endpoint held at {rate:,} pings/s offered", stored, "pings/s stored",
             lag_p50_s=round(float(np.percentile(lags_a, 50)), 3), lag_p99_s=round(p99, 3),
             memory_mib=round(rss), failed_requests=failed["n"], runners=field.runners, hold_s=hold,
             sending_s=round(sending_s, 1), wall_s=round(elapsed, 1),
             cores_used={"api": round(cpu[0] / elapsed, 2), "processor": round(cpu[1] / elapsed, 2),
                         "load_generator": round(cpu[2] / elapsed, 2)})
        if p99 > 2.0 or stored < 0.9 * rate:
            break


def osmand_rate(base: str, race: str, field: Field, seconds: float, threads: int) -> None:
    count = {"n": 0}
    stop_at = time.monotonic() + seconds
    lat, lon = field.course.lat[5], field.course.lon[5]

    def worker(k: int) -> None:
        c = httpx.Client(base_url=base, timeout=30)
        i = k
        while time.monotonic() < stop_at:
            r = c.get(f"/api/race/{race}/osmand", params={"id": f"sim-{i % field.runners + 1}", "lat": lat,
                                                           "lon": lon, "timestamp": int(time.time())})
            if r.status_code == 200:
                count["n"] += 1
            i += threads

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    emit(NAME, "OsmAnd ingest (one position per request)", count["n"] / seconds, "positions/s", clients=threads)


def mqtt_rate(env: dict[str, str], home: Path, race: str, messages: int) -> None:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
    except OSError:
        emit(NAME, "MQTT ingest", float("nan"), "messages/s", note="no broker on 127.0.0.1:1883")
        return
    import paho.mqtt.client as mqtt

    from shipml.apps.race import rawlog  # noqa: F401  (home set below)

    prefix = f"bench{os.getpid()}"
    menv = {**env, "SHIPML_MQTT_URL": "mqtt://127.0.0.1:1883", "SHIPML_RACE_MQTT_TOPIC": f"{prefix}/+/+",
            "SHIPML_RACE_MQTT_RACE": race}
    sub = start(["service", "race", "mqtt"], menv, home / "mqtt.log")
    deadline = time.monotonic() + 120
    while "subscribed to" not in (home / "mqtt.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.2)  # messages published before the subscription exists are not kept by the broker
    before = count_raw(home, race)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    started = time.monotonic()
    wave = 500  # below the broker's queue per client (mosquitto keeps 1,000 by default and drops the rest)
    for first in range(0, messages, wave):
        infos = [pub.publish(f"{prefix}/u{i % 1000}/phone", json.dumps(
            {"_type": "location", "lat": 46.5, "lon": 6.6, "tst": int(time.time())}), qos=1)
            for i in range(first, min(first + wave, messages))]
        for info in infos:
            info.wait_for_publish(60)
        while count_raw(home, race) - before < first and time.monotonic() - started < 120:
            time.sleep(0.05)
    while count_raw(home, race) - before < messages and time.monotonic() - started < 120:
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    pub.loop_stop()
    stored = count_raw(home, race) - before
    stop(sub)
    emit(NAME, "MQTT ingest (OwnTracks, QoS 1, stored durably)", stored / elapsed, "messages/s", messages=messages,
         stored=stored)


SPARK_VS_EMBEDDED = """
import json, sys, time
import numpy as np
from shipml.apps.race import definition
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.spark_path import spark_standings
from shipml.apps.race.standings import Standings
from shipml.core.spark import session
race = definition.load(sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
worker, pings = RaceWorker(race), 0
while (n := worker.step(settle_s=0.0)):
    pings += n
embedded = Standings(worker.processor)
embedded_s, embedded_cpu = time.perf_counter() - t0, time.process_time() - c0
t0 = time.perf_counter()
session("shipml-race")
startup_s = time.perf_counter() - t0
t0 = time.perf_counter()
spark = spark_standings(race, partitions=int(sys.argv[2]))
spark_s = time.perf_counter() - t0
p, q = worker.processor, spark.processor
same = bool((embedded.order == spark.order).all() and (embedded.rank == spark.rank).all()
            and p.accepted == q.accepted and p.rejected == q.rejected
            and np.array_equal(p.progress_m, q.progress_m))
print(json.dumps({"pings": pings, "embedded_s": embedded_s, "embedded_cpu_s": embedded_cpu, "spark_s": spark_s,
                  "spark_startup_s": startup_s, "same": same}))
"""


def spark_vs_embedded(env: dict[str, str], home: Path, race: str, runners: int, pings: int, partitions: int) -> None:
    """The same stored raw pings (the first ``pings`` or so of the run) through both paths, from scratch."""
    import polars as pl

    files = sorted((home / "race" / race / "raw").glob("*/*.arrow"), key=lambda f: f.name)
    if not files:
        return
    copy = f"{race}-spark"
    define(env, copy, runners, minutes_ago=30)
    total = 0
    for f in files:
        target = home / "race" / copy / "raw" / f.parent.name / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(f, target)  # same bytes, same key, same modification time
        total += pl.scan_ipc(f).select(pl.len()).collect().item()
        if total >= pings:
            break
    out = subprocess.run([sys.executable, "-c", SPARK_VS_EMBEDDED, copy, str(partitions)], env=env, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    r = json.loads(out)
    extra = {"runners": runners, "files": len(list((home / "race" / copy / "raw").glob("*/*.arrow"))),
             "same_standings": r["same"], "partitions": partitions}
    emit(NAME, "embedded processor over the stored raw pings, from scratch", r["pings"] / r["embedded_s"],
         "pings/s", cpu_s=round(r["embedded_cpu_s"], 1), pings=r["pings"], **extra)
    emit(NAME, "Spark Structured Streaming path (local[*]) over the same pings", r["pings"] / r["spark_s"],
         "pings/s", spark_session_start_s=round(r["spark_startup_s"], 1), pings=r["pings"],
         ratio_embedded_over_spark=round(r["spark_s"] / r["embedded_s"], 1), **extra)


def count_raw(home: Path, race: str) -> int:
    import polars as pl

    paths = list((home / "race" / race / "raw").glob("*/*.arrow"))
    return int(pl.scan_ipc(paths).select(pl.len()).collect().item()) if paths else 0


def queries(env: dict[str, str], home: Path, runners: int, samples: int) -> None:
    code = f"""
import numpy as np, time
from shipml.apps.race import definition, demo, publish
from shipml.apps.race.definition import RaceDefinition
from shipml.apps.race.standings import Standings
from datetime import UTC, datetime, timedelta
d = RaceDefinition(name='big', title='big', start=datetime.now(UTC) - timedelta(hours=1))
definition.define(d, demo.course_gpx().encode(), definition.read_participants(demo.participants({runners})))
race = definition.load('big')
p = race.new_processor()
rng = np.random.default_rng()
p.progress_m[:] = rng.uniform(0, race.course.length_m * 0.99, p.runners)
p.last_t[:] = time.time() - rng.uniform(0, 10, p.runners)
p.progress_t[:] = p.last_t
p.status[:] = 1
p.speed_mps[:] = 3.0
x, y = race.course.xy_at(p.progress_m)
p.last_x[:], p.last_y[:] = x, y
p.version = 1
publish.publish(race, p, Standings(p), {{}})
"""
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    port = free_port()
    api = start(["api", "--port", str(port)], env, home / "api-big.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_api(base)
        c = httpx.Client(base_url=base, timeout=30)
        rng = np.random.default_rng()
        import polars as pl

        names = pl.read_parquet(home / "race" / "big" / "participants.parquet")["name"]

        def typo() -> str:  # a name of the field (over 900,000 distinct in a million) with a letter dropped
            name = str(names[int(rng.integers(0, names.len()))])
            cut = int(rng.integers(1, len(name) - 1))
            return name[:cut] + name[cut + 1:]

        cases = {
            "leaderboard top 10": lambda: "/api/race/big/leaderboard?limit=10",
            "leaderboard page 50 at offset 500,000": lambda: "/api/race/big/leaderboard?limit=50&offset=500000",
            "category leaderboard": lambda: "/api/race/big/leaderboard?category=F40&limit=10&offset=1000",
            "one runner (no track)": lambda: f"/api/race/big/runners/{rng.integers(1, runners)}?track=false",
            "search by bib": lambda: f"/api/race/big/search?q={rng.integers(1, runners)}",
            "search by name with a typo": lambda: f"/api/race/big/search?q={quote(typo())}",
        }
        for figure, path in cases.items():
            c.get(path())  # warm (first touch of the memory maps, name index)
            times = []
            for _ in range(samples if "name" not in figure else max(5, samples // 20)):
                t0 = time.perf_counter()
                r = c.get(path())
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text
            emit(NAME, f"{figure} at {runners:,} runners", float(np.percentile(times, 99)), "ms p99",
                 p50_ms=round(float(np.percentile(times, 50)), 2), samples=len(times))
    finally:
        stop(api)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runners", type=int, default=100_000)
    parser.add_argument("--rates", default="5000,10000,20000,40000,80000")
    parser.add_argument("--hold", type=float, default=20.0)
    parser.add_argument("--osmand-seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--mqtt-messages", type=int, default=5000)
    parser.add_argument("--query-runners", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--skip", default="", help="comma list of: ladder,osmand,mqtt,spark,queries")
    parser.add_argument("--spark-pings", type=int, default=2_000_000, help="stored pings replayed through both paths")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--database-url", default=None, help="e.g. postgresql+psycopg://127.0.0.1/test")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    with tempfile.TemporaryDirectory(prefix="race-bench-") as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPML_")}
        env.update(SHIPML_HOME=str(home), OPENBLAS_NUM_THREADS="1", SHIPML_MAX_BODY_BYTES="2000000",
                   SHIPML_ADMIN_TOKEN=TOKEN)
        if args.database_url:
            env["SHIPML_DATABASE_URL"] = args.database_url
        if not {"ladder", "osmand", "mqtt"} <= skip:
            define(env, "bench", args.runners, minutes_ago=30)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            api = start(["api", "--port", str(port)], env, home / "api.log")
            processor = start(["service", "race", "processor"], env, home / "processor.log")
            try:
                wait_api(base)
                while True:  # the processor's first publication
                    try:
                        processed(httpx.Client(base_url=base), "bench")
                        break
                    except (KeyError, httpx.HTTPError, json.JSONDecodeError):
                        time.sleep(0.5)
                gun = (datetime.now(UTC) - timedelta(minutes=30)).timestamp()
                field = Field(args.runners, gun)
                if "ladder" not in skip:
                    ladder(base, "bench", field, [int(r) for r in args.rates.split(",")], args.hold,
                           [api.pid, processor.pid])
                if "osmand" not in skip:
                    osmand_rate(base, "bench", field, args.osmand_seconds, args.threads)
            finally:
                stop(api)
                stop(processor)
            if "mqtt" not in skip:
                mqtt_rate(env, home, "bench", args.mqtt_messages)
            if "spark" not in skip and "ladder" not in skip:
                spark_vs_embedded(env, home, "bench", args.runners, args.spark_pings, args.partitions)
        if "queries" not in skip:
            queries(env, home, args.query_runners, args.samples)


if __name__ == "__main__":
    main()
