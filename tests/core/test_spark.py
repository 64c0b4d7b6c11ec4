"""The Spark session factory runs a real (local[*]) job, and a grouped pandas UDF gives the numpy answer; its
settings reach the SparkConf, nothing is pinned to loopback on a cluster, and a cluster without a shared checkpoint
location is refused with the reason."""

import socket
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest

from shipml.core import spark
from shipml.settings import Settings, get_settings

pytestmark = pytest.mark.spark


def test_a_grouped_job_on_local_spark_matches_numpy():
    session = spark.session("shipml-test")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"key": rng.integers(0, 5, 200).astype(str), "value": rng.normal(size=200)})

    def per_group(group: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"key": [group["key"].iloc[0]], "total": [group["value"].sum()]})

    result = (session.createDataFrame(frame).groupBy("key").applyInPandas(per_group, "key string, total double")
              .toPandas().set_index("key")["total"].sort_index())
    expected = frame.groupby("key")["value"].sum().sort_index()
    assert np.allclose(result.to_numpy(), expected.to_numpy())
    assert session.sparkContext.master.startswith("local")


@pytest.fixture
def spark_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Settings]]:
    """Set ``SHIPML_SPARK_*`` variables (others unset) and read the settings afresh."""

    def use(**values: object) -> Settings:
        for name in SPARK_SETTINGS:
            monkeypatch.delenv(f"SHIPML_SPARK_{name.upper()}", raising=False)
        for name, value in values.items():
            monkeypatch.setenv(f"SHIPML_SPARK_{name.upper()}", str(value))
        get_settings.cache_clear()
        return get_settings()

    yield use
    get_settings.cache_clear()


SPARK_SETTINGS = ("master", "driver_host", "bind_address", "driver_port", "block_manager_port", "checkpoint",
                  "java_options")
JVM = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
       "spark.executor.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_cluster_without_a_shared_checkpoint_is_refused_with_the_reason(spark_env) -> None:
    spark_env(master="spark://192.0.2.10:7077")
    with pytest.raises(spark.SparkMisconfigured, match="set SHIPML_SPARK_CHECKPOINT to a location every node shares"):
        spark.session("shipml-test")
    spark_env(master="spark://192.0.2.10:7077", checkpoint="/srv/checkpoints")
    with pytest.raises(spark.SparkMisconfigured, match="'/srv/checkpoints' is not a shared URI"):
        spark.checkpoint_location("race", "r1")
    s = spark_env(master="spark://192.0.2.10:7077", checkpoint="hdfs://nn:8020/shipml/")
    spark.check(s)
    assert spark.checkpoint_location("race", "r1") == "hdfs://nn:8020/shipml/race/r1"


def test_nothing_is_pinned_to_loopback_on_a_cluster(spark_env) -> None:
    s = spark_env(master="spark://192.0.2.10:7077", checkpoint="file:///mnt/shared/shipml")
    assert spark.spark_conf(s) == JVM  # Spark's own choice of address: the host's, never forced to 127.0.0.1
    s = spark_env(master="spark://192.0.2.10:7077", checkpoint="s3a://bucket/shipml", driver_host="10.1.2.3",
                  bind_address="0.0.0.0", driver_port=40000, block_manager_port=40001)
    assert spark.spark_conf(s) == {"spark.driver.host": "10.1.2.3", "spark.driver.bindAddress": "0.0.0.0",
                                   "spark.driver.port": "40000", "spark.blockManager.port": "40001",
                                   "spark.driver.blockManager.port": "40001", **JVM}
    local = spark.spark_conf(spark_env())
    assert local == {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1", **JVM}
    s = spark_env(master="spark://192.0.2.10:7077", checkpoint="file:///mnt/shared/shipml", java_options=" ")
    assert spark.spark_conf(s) == {}  # the JVM's own defaults


def test_the_settings_reach_the_running_sessions_conf(spark_env) -> None:
    driver_port, block_port = _free_port(), _free_port()
    spark_env(driver_port=driver_port, block_manager_port=block_port)
    conf = spark.session("shipml-test").sparkContext.getConf()
    assert conf.get("spark.driver.port") == str(driver_port)
    assert conf.get("spark.blockManager.port") == str(block_port)
    assert conf.get("spark.driver.host") == "127.0.0.1" and conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert JVM["spark.executor.extraJavaOptions"] in conf.get("spark.executor.extraJavaOptions")  # after Spark's own
    with socket.socket() as sock:  # the driver listens on the port it was given
        assert sock.connect_ex(("127.0.0.1", driver_port)) == 0
    spark_env()
    assert spark.session("shipml-test").sparkContext.getConf().get("spark.driver.port") != str(driver_port)
