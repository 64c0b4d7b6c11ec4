"""A Spark session for the scale-out paths (extra ``spark``): ``local[*]`` by default, a cluster by
``SHIPML_SPARK_MASTER`` (e.g. ``spark://host:7077``). The embedded paths need none of it."""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import Any

from shipml.core.errors import ShipmlError
from shipml.settings import get_settings


class SparkUnavailable(ShipmlError):
    status_code = 503
    code = "spark_unavailable"


@cache
def _session(master: str, app_name: str) -> Any:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers need this environment's packages
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable("pyspark is not installed: pip install 'shipml[spark]'") from exc
    return (SparkSession.builder.master(master).appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate())


def session(app_name: str = "shipml") -> Any:
    """The process's Spark session on the configured master (created once)."""
    return _session(get_settings().spark_master, app_name)
