"""The Spark paths on a real standalone cluster (a master and one worker started with ``spark-class``; the worker
in its own mount namespace, seeing only the shared folder): the race's standings from stored pings and parking's
hourly active tickets equal the embedded answers. Every test is seconds of work; the cluster starts once per run
(one module: ``--dist loadfile`` gives it one xdist worker)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platform_fixtures import platform_context
from spark_cluster import Cluster, standalone_cluster

pytestmark = pytest.mark.spark


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    from shipml.core import spark

    with standalone_cluster() as started:
        print(f"\nSpark standalone cluster up in {started.started_s:.1f} s (worker isolated: {started.isolated})")
        try:
            yield started
        finally:
            spark.stop()  # before the cluster goes: the next test in this process starts its own session


@pytest.fixture
def on_cluster(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A platform whose home is on the shared folder and whose Spark session runs on the cluster."""
    home = cluster.shared / f"home-{uuid.uuid4().hex[:8]}"
    for key, value in {"SHIPML_SPARK_MASTER": cluster.master_url, "SHIPML_SPARK_DRIVER_HOST": cluster.host,
                       "SHIPML_SPARK_BIND_ADDRESS": cluster.host,
                       "SHIPML_SPARK_CHECKPOINT": f"file://{cluster.shared}/checkpoints"}.items():
        monkeypatch.setenv(key, value)
    with platform_context(home, monkeypatch) as settings:
        yield settings


def test_the_worker_sees_only_the_shared_folder(cluster: Cluster, on_cluster: Any, tmp_path: Path) -> None:
    from shipml.core.spark import session

    private = tmp_path / "driver-only.txt"
    private.write_text("not shared")
    shared = cluster.shared / "shared.txt"
    shared.write_text("shared")
    spark = session("shipml-cluster-test")
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == cluster.master_url and conf.get("spark.driver.host") == cluster.host
    seen = spark.sparkContext.parallelize([0], 1).map(
        lambda _: (os.path.exists(str(private)), os.path.exists(str(shared)), os.getpid())).collect()[0]
    assert seen[1] and seen[2] != os.getpid()  # an executor's process, reading the shared folder
    if cluster.isolated:
        assert not seen[0]  # the driver's temporary files are not there, as on another host


def test_race_standings_on_the_cluster_equal_the_embedded_ones(on_cluster: Any, cluster: Cluster) -> None:
    from apps.race import simrace
    from apps.race.test_spark import _assert_same, _embedded
    from shipml.apps.race import definition, ingest, rawlog
    from shipml.apps.race.spark_path import spark_standings

    race = simrace.define("cluster", 40)
    frames = simrace.chunks(race, minutes=40, every_s=120.0)  # 20 raw files: 20 small tasks
    for i, frame in enumerate(frames):
        rawlog.write_file(race.name, frame)
        if i == len(frames) // 2:
            ingest.command(race, "5", dnf=True)
    expected = _embedded(race.name).processor
    got = spark_standings(definition.load(race.name), partitions=2).processor
    _assert_same(got, expected)
    assert expected.accepted > 1000 and got.status[race.bib_index["5"]] == 3
    assert not list((cluster.shared / "checkpoints" / "race" / race.name).glob("recompute-*"))  # cleaned up


def test_parking_hourly_counts_on_the_cluster_equal_polars(on_cluster: Any, cluster: Cluster,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date

    import polars as pl
    from polars.testing import assert_frame_equal

    from shipml.apps.parking.bundle import reference
    from shipml.apps.parking.ingest import occupancy
    from shipml.apps.parking.synthetic import simulate_tickets

    per = reference().per_neighbourhood.filter(pl.col("neighbourhood_id").is_in([101, 104, 201]))
    folder = cluster.shared / f"tickets-{uuid.uuid4().hex[:8]}"  # on shared storage, as every node needs them
    simulate_tickets(folder, date(2024, 3, 28), date(2024, 4, 2), per, scale=0.05, seed=7)  # Q1, Q2: two tasks
    expected, report, _ = occupancy(folder)
    monkeypatch.setenv("SHIPML_PARKING_ENGINE", "spark")
    got, spark_report, _ = occupancy(folder)
    assert_frame_equal(got, expected)
    assert spark_report == report and report["rows_kept"] > 500
    assert got.filter(pl.col("hour").dt.date() == date(2024, 3, 31)).height == 23 * 3  # the spring-forward day


def test_a_followed_race_on_the_cluster_resumes_from_its_shared_checkpoint(on_cluster: Any, cluster: Cluster) -> None:
    from apps.race import simrace
    from apps.race.test_spark import _assert_same, _embedded
    from shipml.apps.race import definition, publish, rawlog
    from shipml.apps.race.spark_path import Gathered, checkpoint_dir, follow, restore

    race = simrace.define("clusterfollow", 30)
    frames = simrace.chunks(race, minutes=30, every_s=180.0)
    for frame in frames[:5]:
        rawlog.write_file(race.name, frame)
    query, first = follow(definition.load(race.name), partitions=2)
    try:
        query.processAllAvailable()
    finally:
        query.stop()
    checkpoint = checkpoint_dir(first.race, 2)
    assert checkpoint.startswith(f"file://{cluster.shared}/checkpoints/race/{race.name}/")
    assert (cluster.shared / "checkpoints" / "race" / race.name).is_dir()  # written where every node sees it
    probe = Gathered(definition.load(race.name))
    restore(probe, checkpoint, partitions=2)  # the state store read back from the shared URI
    _assert_same(probe.processor, first.processor)
    for frame in frames[5:]:
        rawlog.write_file(race.name, frame)
    query, second = follow(definition.load(race.name), partitions=2)  # a new driver: state read back from it
    try:
        query.processAllAvailable()
    finally:
        query.stop()
    view = publish.current(second.race)  # what the live page reads
    assert view is not None and view.meta["engine"] == "spark"
    expected = _embedded(race.name).processor
    _assert_same(second.processor, expected)
    assert view.processor.accepted == expected.accepted


def test_a_killed_executor_loses_no_state(on_cluster: Any, cluster: Cluster) -> None:
    """The executor holding the race's state is killed between micro-batches; the cluster starts another, which
    reads the state from the shared checkpoint: the standings still equal the embedded ones."""
    import signal

    from apps.race import simrace
    from apps.race.test_spark import _assert_same, _embedded
    from shipml.apps.race import definition, rawlog
    from shipml.apps.race.spark_path import follow
    from shipml.core.spark import session

    race = simrace.define("clusterkill", 30)
    frames = simrace.chunks(race, minutes=30, every_s=180.0)
    for frame in frames[:5]:
        rawlog.write_file(race.name, frame)
    query, gathered = follow(definition.load(race.name), partitions=2)
    try:
        query.processAllAvailable()
        app_id = session().sparkContext.applicationId
        killed = cluster.executor_pids(app_id)
        assert len(killed) == 1
        os.kill(killed[0], signal.SIGKILL)
        for frame in frames[5:]:
            rawlog.write_file(race.name, frame)
        query.processAllAvailable()  # on a new executor, the state store loaded from the checkpoint
        survivors = cluster.executor_pids(app_id)
    finally:
        query.stop()
    assert survivors and killed[0] not in survivors
    _assert_same(gathered.processor, _embedded(race.name).processor)


def test_ticket_files_only_the_driver_sees_are_refused_with_the_reason(on_cluster: Any, cluster: Cluster,
                                                                      tmp_path: Path) -> None:
    if not cluster.isolated:
        pytest.skip("the worker shares this host's files unless it runs in its own mount namespace (root, unshare)")
    from datetime import date

    import polars as pl

    from shipml.apps.parking.bundle import reference
    from shipml.apps.parking.spaces import neighbourhood_names
    from shipml.apps.parking.spark_tickets import SparkTickets
    from shipml.apps.parking.synthetic import simulate_tickets
    from shipml.core.spark import SparkUnavailable

    per = reference().per_neighbourhood.filter(pl.col("neighbourhood_id") == 101)
    simulate_tickets(tmp_path, date(2024, 3, 4), date(2024, 3, 5), per, scale=0.05)  # the driver's own disk
    with pytest.raises(SparkUnavailable, match="every node needs them at the same path, on shared storage"):
        SparkTickets.read(tmp_path, neighbourhood_names(per))
