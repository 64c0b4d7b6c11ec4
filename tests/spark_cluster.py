"""A real Spark standalone cluster for the tests: one master and one worker (1 core, 1 GB; or more workers, e.g. for
a benchmark) started with ``spark-class`` on free ports, the workers registered before it is used (polled on the
master's JSON page), all stopped at the end.

As root (with ``unshare``), the worker runs in its own mount namespace: a fresh ``/tmp`` (tmpfs) with only the
cluster's shared folder bind-mounted back at its path, so that, like a separate host, it sees none of the driver's
temporary files (pytest's folders, Spark's driver-side scratch), only the shared storage and the installed
environment. Elsewhere it runs as a plain process (``Cluster.isolated`` says which).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

STAGE_PARENT = Path("/var/tmp")  # outside /tmp: the mount point the shared folder crosses the worker's fresh /tmp by


@dataclass
class Cluster:
    master_url: str
    web_url: str
    host: str
    shared: Path
    isolated: bool
    started_s: float
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def alive_workers(self) -> int:
        return int(httpx.get(f"{self.web_url}/json/", timeout=5).json().get("aliveworkers", 0))

    def executor_pids(self, app_id: str) -> list[int]:
        """The executor JVMs the cluster's worker runs for one application (children of our worker)."""
        pids = []
        for proc in Path("/proc").iterdir():
            try:
                command = (proc / "cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError):
                continue
            if b"org.apache.spark.executor.CoarseGrainedExecutorBackend" in command and app_id.encode() in command:
                pids.append(int(proc.name))
        return pids


def routable_address() -> str:
    """This host's address as other hosts would reach it (not loopback), else 127.0.0.1 on a host with none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("203.0.113.1", 9))  # TEST-NET-3; no packet is sent, only the route is chosen
            address = str(sock.getsockname()[0])
        except OSError:
            return "127.0.0.1"
    return address if address != "0.0.0.0" else "127.0.0.1"


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def can_isolate() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                          capture_output=True).returncode == 0


def _env(host: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_", "SHIPML_"))}
    bin_dir = str(Path(sys.executable).parent)
    return {**env, "SPARK_LOCAL_IP": host, "PYSPARK_PYTHON": sys.executable,
            "PATH": os.pathsep.join([bin_dir, env.get("PATH", "")])}


@contextmanager
def standalone_cluster(timeout_s: float = 240.0, workers: int = 1) -> Iterator[Cluster]:
    """A master and ``workers`` workers; yields once they are registered; stops them all (and their executors)."""
    base = Path(tempfile.mkdtemp(prefix="shipml-cluster-"))
    shared, logs = base / "shared", base / "logs"
    shared.mkdir()
    logs.mkdir()
    host = routable_address()
    port, web = free_port(host), free_port(host)
    cluster = Cluster(f"spark://{host}:{port}", f"http://{host}:{web}", host, shared, can_isolate(), 0.0, logs)
    stage = Path(tempfile.mkdtemp(prefix="shipml-cluster-stage-", dir=STAGE_PARENT)) if cluster.isolated else None
    begin = time.monotonic()
    try:
        master = [str(spark_class()), "org.apache.spark.deploy.master.Master", "--host", host, "--port", str(port),
                  "--webui-port", str(web)]
        daemons = [("master", master, _env(host))]
        for number in range(workers):
            worker_port, worker_web = free_port(host), free_port(host)
            work_dir = "/tmp/spark-worker" if cluster.isolated else str(base / f"worker{number or ''}")
            worker = [str(spark_class()), "org.apache.spark.deploy.worker.Worker", cluster.master_url, "--host",
                      host, "--port", str(worker_port), "--webui-port", str(worker_web), "--cores", "1", "--memory",
                      "1g", "--work-dir", work_dir]
            worker_env = {**_env(host), "SPARK_LOCAL_DIRS": f"{work_dir}/local"}
            if cluster.isolated:
                script = (f'mount --bind "{shared}" "{stage}" && mount -t tmpfs -o size=4g tmpfs /tmp && '
                          f'mkdir -p "{shared}" "{work_dir}/local" && mount --move "{stage}" "{shared}" && exec "$@"')
                worker = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "worker", *worker]
            daemons.append((f"worker{number or ''}", worker, worker_env))
        for name, command, env in daemons:
            with open(logs / f"{name}.log", "wb") as out:
                cluster.procs.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                      start_new_session=True))
        while True:
            for proc in cluster.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a Spark daemon exited ({proc.returncode}); see {logs}")
            try:
                if cluster.alive_workers() >= workers:
                    break
            except (httpx.HTTPError, ValueError):
                pass  # the master's web UI is not up yet (or answers before its JSON page is ready)
            if time.monotonic() - begin > timeout_s:
                raise RuntimeError(f"no worker registered within {timeout_s:.0f} s; see {logs}")
            time.sleep(0.25)
        cluster.started_s = time.monotonic() - begin
        yield cluster
    finally:
        for proc in reversed(cluster.procs):  # the worker first: it stops its executors
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        if stage is not None:
            stage.rmdir()
        shutil.rmtree(base, ignore_errors=True)
