"""A Spark session for the scale-out paths (extra ``spark``): ``local[*]`` by default, a cluster by
``SHIPML_SPARK_MASTER`` (e.g. ``spark://host:7077``). The embedded paths need none of it.

On ``local[...]`` the driver listens on 127.0.0.1 only. On a cluster nothing is pinned to loopback: the driver's
advertised address (``SHIPML_SPARK_DRIVER_HOST``), the address it binds (``SHIPML_SPARK_BIND_ADDRESS``) and its
ports (``SHIPML_SPARK_DRIVER_PORT``, ``SHIPML_SPARK_BLOCK_MANAGER_PORT``; unset: Spark's choice) are settings, and
the streaming queries' checkpoints and state live under ``SHIPML_SPARK_CHECKPOINT``, which must then be a URI that
every node reads and writes the same (``file://`` on a shared mount, ``hdfs://``, ``s3a://`` …): a session on a
cluster is refused, with the reason, until it is.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any
from urllib.parse import urlparse

from shipml.core.errors import ShipmlError
from shipml.settings import Settings, get_settings

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
SHARED_SCHEMES = ("file", "hdfs", "viewfs", "s3a", "gs", "abfs", "abfss", "wasbs")


class SparkUnavailable(ShipmlError):
    status_code = 503
    code = "spark_unavailable"


class SparkMisconfigured(SparkUnavailable):
    """The settings cannot give a working session (e.g. a cluster without a shared checkpoint location)."""

    code = "spark_misconfigured"


def is_local(master: str) -> bool:
    return master.strip().startswith("local")


def check(s: Settings) -> None:
    """Refuse a configuration that would only seem to work: on a cluster, the checkpoint must be shared."""
    master = s.spark_master
    if is_local(master):
        return
    where = s.spark_checkpoint
    if not where:
        raise SparkMisconfigured(
            f"SHIPML_SPARK_MASTER is {master}, a cluster: set SHIPML_SPARK_CHECKPOINT to a location every node "
            "shares (file:///mnt/shared/shipml on a shared mount, hdfs://…, s3a://…); Structured Streaming keeps "
            "its state there, and on an executor's local disk it is lost with the executor")
    scheme = urlparse(where).scheme
    if scheme not in SHARED_SCHEMES:
        raise SparkMisconfigured(
            f"SHIPML_SPARK_CHECKPOINT={where!r} is not a shared URI: on a cluster ({master}) give it with its "
            f"scheme ({', '.join(s + '://' for s in SHARED_SCHEMES)}), e.g. file:///mnt/shared/shipml for a mount "
            "that every node has at that path")


def spark_conf(s: Settings) -> dict[str, str]:
    """The Spark properties the settings give (besides the fixed ones of :func:`session`)."""
    local = is_local(s.spark_master)
    conf: dict[str, str] = {}
    host = s.spark_driver_host or (LOOPBACK if local else None)
    bind = s.spark_bind_address or (LOOPBACK if local and not s.spark_driver_host else None)
    if host:
        conf["spark.driver.host"] = host
    if bind:
        conf["spark.driver.bindAddress"] = bind
    if s.spark_driver_port:
        conf["spark.driver.port"] = str(s.spark_driver_port)
    # the JVMs' options (SHIPML_SPARK_JAVA_OPTIONS): by default the client JIT only and the serial collector. Our
    # queries move few rows (blocks of pings, one row per group of series) and do their work in Python: a fresh
    # process's JVM spent most of its CPU compiling itself (C2) and in G1's threads, 2–3× the CPU of this setting,
    # cold and warm (benchmarks/race_spark)
    if s.spark_java_options.strip():
        conf["spark.driver.extraJavaOptions"] = conf["spark.executor.extraJavaOptions"] = s.spark_java_options
    if s.spark_block_manager_port:
        conf["spark.blockManager.port"] = str(s.spark_block_manager_port)
        conf["spark.driver.blockManager.port"] = str(s.spark_block_manager_port)
    return conf


_lock = threading.Lock()
_current: tuple[tuple[str, tuple[tuple[str, str], ...]], Any] | None = None


def _start(master: str, conf: dict[str, str], app_name: str) -> Any:
    if is_local(master):
        os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)  # no warning about a hostname resolving to loopback
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers need this environment's packages
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable("pyspark is not installed: pip install 'shipml[spark]'") from exc
    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.session.timeZone", "UTC"))
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.config("spark.python.daemon.module", __name__).getOrCreate()


def session(app_name: str = "shipml") -> Any:
    """The process's Spark session on the configured master (created once; a process whose Spark settings change
    stops its session and starts one on the new settings, since a process holds one Spark context)."""
    global _current
    s = get_settings()
    check(s)
    conf = spark_conf(s)
    key = (s.spark_master, tuple(sorted(conf.items())))
    with _lock:
        if _current is not None and _current[0] == key:
            return _current[1]
        if _current is not None:
            log.info("Spark settings changed: stopping the session on %s", _current[0][0])
            _current[1].stop()
            _current = None
        spark = _start(s.spark_master, conf, app_name)
        _current = (key, spark)
        return spark


def stop() -> None:
    """Stop the process's session, if any (e.g. before its cluster goes away)."""
    global _current
    with _lock:
        if _current is not None:
            _current[1].stop()
            _current = None


def checkpoint_location(*parts: str) -> str | None:
    """``SHIPML_SPARK_CHECKPOINT``/``parts``, or None when the setting is unset (only allowed on ``local[...]``:
    the caller then keeps its checkpoint under the home folder)."""
    s = get_settings()
    check(s)
    if not s.spark_checkpoint:
        return None
    return "/".join([s.spark_checkpoint.rstrip("/"), *parts])


def _hadoop_path(location: str) -> tuple[Any, Any]:
    spark = session()
    path = spark._jvm.org.apache.hadoop.fs.Path(location)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path


def location_exists(location: str) -> bool:
    """Whether a path or URI exists, as Spark sees it (any Hadoop file system)."""
    fs, path = _hadoop_path(location)
    return bool(fs.exists(path))


def delete_location(location: str) -> None:
    """Remove a path or URI and everything under it, as Spark sees it."""
    fs, path = _hadoop_path(location)
    fs.delete(path, True)


def _python_daemon() -> None:
    """The Python workers' daemon (``spark.python.daemon.module``, run as ``python -m shipml.core.spark``): Spark's
    own (``pyspark.daemon``), with pyspark imported from the installed package, whose modules are compiled once,
    rather than from the ``pyspark.zip`` Spark puts first on the workers' path, which holds no compiled modules: each
    fresh daemon and worker compiled pyspark again (1.0 CPU-s to import what a pandas UDF needs, 0.4 compiled). Only
    when the installed pyspark is the zip's version (a cluster's Spark may be another one): the zips then go to the
    end of the path. The forked workers inherit it."""
    import re
    import zipfile
    from importlib.metadata import version

    zips = [p for p in sys.path if re.fullmatch(r"pyspark\.zip|py4j-.*\.zip", os.path.basename(p))]
    try:
        shipped = next(p for p in zips if os.path.basename(p) == "pyspark.zip")
        with zipfile.ZipFile(shipped) as z:
            found = re.search(r"__version__[^=]*=\s*[\"']([^\"']+)", z.read("pyspark/version.py").decode())
        if found and found.group(1) == version("pyspark"):
            sys.path[:] = [p for p in sys.path if p not in zips] + zips
    except Exception:  # anything unexpected (no zip, no installed pyspark): Spark's path as it is
        pass
    from pyspark import daemon

    daemon.manager()


if __name__ == "__main__":
    _python_daemon()
