"""How long the race's board stands still after the processor is killed (SIGKILL) and restarted.

``shipml api`` and the processor service (``shipml service race processor``) on embedded defaults, a race of
``--runners`` runners (1,000,000 by default) fed ``--rate`` pings/s through the batch endpoint by a thread of this
process. Once the processor has published for ``--warm`` seconds (past a state save), it is killed with SIGKILL,
started again after ``--backoff`` seconds (the supervisor of ``shipml up`` waits 1 s before the first restart),
and ``/stats`` is polled every 0.1 s until the published version is above the last one before the kill and its
race clock past it: the time from the kill to then is the figure ("the board moves again"). Repeated ``--kills``
times; the versions seen are checked to only increase. The processor's log tells where the time went (state
restored, first publication after the start).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/race_restart/run.py [--runners 1000000] [--rate 20000]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import httpx  # noqa: E402
import numpy as np  # noqa: E402
from _common import emit, free_port  # noqa: E402

NAME = "race_restart"
TOKEN = "race-restart-benchmark-token"
SHIPML = [sys.executable, "-m", "shipml.cli"]
DEFINE = """
import sys
from datetime import UTC, datetime, timedelta
from shipml.apps.race import definition, demo
from shipml.apps.race.definition import RaceDefinition
d = RaceDefinition(name="bench", title="bench", start=datetime.now(UTC) - timedelta(minutes=30))
definition.define(d, demo.course_gpx().encode(), definition.read_participants(demo.participants(int(sys.argv[1]))))
"""


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([*SHIPML, *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stats(client: httpx.Client) -> dict[str, object] | None:
    try:
        r = client.get("/api/race/bench/stats")
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


class Feed(threading.Thread):
    """Pings of every runner in turn at ``rate`` per second, 10,000 a request, moving along the course."""

    def __init__(self, base: str, runners: int, rate: int, gun: float) -> None:
        super().__init__(daemon=True)
        from shipml.apps.race.course import Course
        from shipml.apps.race.demo import course_latlon

        self.course = Course(*course_latlon())
        self.base, self.runners, self.rate, self.gun = base, runners, rate, gun
        self.speed = np.random.default_rng().uniform(2.2, 4.0, runners)
        self.stopping = threading.Event()
        self.failed = 0

    def run(self) -> None:
        client = httpx.Client(base_url=self.base, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"})
        per_request, cursor = min(10_000, self.rate), 0
        next_t = time.monotonic()
        while not self.stopping.is_set():
            idx = (cursor + np.arange(per_request)) % self.runners
            cursor = (cursor + per_request) % self.runners
            now = time.time()
            d = np.minimum(self.speed[idx] * (now - self.gun), self.course.length_m - 10)
            lat, lon = self.course.position_at(d)
            body = ",".join(f'{{"device":"sim-{i + 1}","t":{now:.3f},"lat":{a:.7f},"lon":{o:.7f}}}'
                            for i, a, o in zip(idx.tolist(), lat.tolist(), lon.tolist(), strict=True))
            r = client.post("/api/race/bench/pings", content=f'{{"pings":[{body}]}}'.encode(),
                            headers={"content-type": "application/json"})
            self.failed += r.status_code != 200
            next_t += per_request / self.rate
            time.sleep(max(0.0, next_t - time.monotonic()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runners", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=20_000, help="pings per second offered")
    parser.add_argument("--warm", type=float, default=25.0, help="seconds of processing before each kill")
    parser.add_argument("--backoff", type=float, default=1.0, help="seconds between the kill and the restart")
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="race-restart-") as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPML_")}
        env.update(SHIPML_HOME=str(home), OPENBLAS_NUM_THREADS="1", SHIPML_ADMIN_TOKEN=TOKEN, COLUMNS="400",
                   SHIPML_MAX_BODY_BYTES="2000000")
        subprocess.run([sys.executable, "-c", DEFINE, str(args.runners)], env=env, check=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api = start(["api", "--port", str(port)], env, home / "api.log")
        client = httpx.Client(base_url=base, timeout=10)
        deadline = time.monotonic() + 120
        while True:  # the API up (and its migrations done) before the processor starts
            try:
                if client.get("/api/race/races").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the API did not answer within 120 s")
            time.sleep(0.2)
        log = home / "processor.log"
        processor = start(["service", "race", "processor"], env, log)
        feed = None
        try:
            deadline = time.monotonic() + 300
            while stats(client) is None:  # the API up and the processor's first publication
                if time.monotonic() > deadline:
                    raise SystemExit("no standings within 300 s")
                time.sleep(0.5)
            feed = Feed(base, args.runners, args.rate, time.time() - 1800)
            feed.start()
            versions: list[int] = []
            moved_after = []
            for kill in range(args.kills):
                time.sleep(args.warm)
                killed_at = time.monotonic()
                os.killpg(processor.pid, signal.SIGKILL)
                processor.wait()
                before = stats(client)  # the dead processor's last publication
                assert before is not None
                time.sleep(args.backoff)
                processor = start(["service", "race", "processor"], env, log)
                while True:
                    now = stats(client)
                    if now is not None:
                        versions.append(int(now["version"]))  # type: ignore[call-overload]
                        if now["version"] > before["version"] and now["clock"] > before["clock"]:  # type: ignore[operator]
                            break
                    if time.monotonic() - killed_at > 300:
                        raise SystemExit("the board did not move within 300 s of the kill")
                    time.sleep(0.1)
                moved_after.append(time.monotonic() - killed_at)
                emit(NAME, f"board moves again after a SIGKILL of the processor (kill {kill + 1})", moved_after[-1],
                     "s", goal=5, version_before=before["version"], version_after=now["version"],
                     backoff_s=args.backoff, runners=args.runners, rate=args.rate,
                     load_average=os.getloadavg()[0])
            text = " ".join(log.read_text(errors="replace").split())  # the log wraps long lines
            loaded = [float(s) for s in re.findall(r"definition loaded ([\d.]+) s after the process", text)][1:]
            restored = [float(s) for s in re.findall(r"state restored in ([\d.]+) s", text)][1:]
            first = [float(s) for s in re.findall(r"after the worker started, ([\d.]+) s after the process", text)][1:]
            emit(NAME, "board moves again after a SIGKILL, median", float(np.median(moved_after)), "s", goal=5,
                 each=[round(m, 2) for m in moved_after], versions_only_increase=versions == sorted(versions),
                 race_loaded_after_process_start_s=loaded, worker_state_restored_s=restored,
                 first_publication_after_process_start_s=first, failed_requests=feed.failed,
                 runners=args.runners, rate=args.rate)
        finally:
            if feed is not None:
                feed.stopping.set()
            for proc in (processor, api):
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=60)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(proc.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
