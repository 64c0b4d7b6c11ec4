"""The Spark path (Structured Streaming, local[*]) gives the embedded processor's standings on the same stored
raw pings (trails and the edge's counts included), in one run and across a restart from its checkpoint, and sends
the driver only the runners a micro-batch changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apps.race import simrace
from shipml.apps.race import definition, ingest, publish, rawlog
from shipml.apps.race.live import RaceWorker
from shipml.apps.race.processor import RaceProcessor
from shipml.apps.race.spark_path import Gathered, follow, restore, spark_standings, start_query
from shipml.apps.race.standings import Standings

pytestmark = pytest.mark.spark


def _embedded(name: str) -> RaceWorker:
    worker = RaceWorker(definition.load(name))
    while worker.step(settle_s=0.0):
        pass
    return worker


def _assert_same(q: RaceProcessor, p: RaceProcessor) -> None:
    assert (q.accepted, q.rejected, q.ignored, q.clock) == (p.accepted, p.rejected, p.ignored, p.clock)
    for name in ("progress_m", "progress_t", "last_t", "status", "speed_mps", "dnf_reason"):
        np.testing.assert_array_equal(getattr(q, name), getattr(p, name), err_msg=name)
    np.testing.assert_array_equal(q.splits_s, p.splits_s)
    for name in ("trail_t", "trail_m", "trail_head"):  # the runner's track the live page draws
        np.testing.assert_array_equal(getattr(q, name), getattr(p, name), err_msg=name)
    got, expected = Standings(q), Standings(p)
    np.testing.assert_array_equal(got.order, expected.order)
    np.testing.assert_array_equal(got.rank, expected.rank)


def test_spark_equals_the_embedded_processor(platform: Any) -> None:
    race = simrace.define("sparky", 150)
    frames = simrace.chunks(race, minutes=45)
    for i, frame in enumerate(frames):
        rawlog.write_file(race.name, frame)
        if i == len(frames) // 2:
            ingest.command(race, "7", dnf=True)  # an admin DNF in the middle of the stream
    rawlog.write_file(race.name, frames[3].with_columns(device=rawlog.pl.lit("nobody")))  # unknown devices
    received = float(frames[-1]["received"][0])
    rawlog.write_file(race.name, rawlog.count_rows({"unknown_device": 7, "over_rate": 3}, received))  # the edge's
    p = _embedded(race.name).processor
    q = spark_standings(definition.load(race.name), partitions=3).processor
    _assert_same(q, p)
    assert q.status[race.bib_index["7"]] == 3 and p.accepted > 10_000 and p.rejected["unknown_device"] > 7
    assert q.rejected["over_rate"] == 3
    assert (p.status == 2).any() and (p.status == 1).any()  # the race has finishers and runners still out


def test_spark_resumes_from_its_checkpoint_with_the_same_standings(platform: Any, tmp_path: Path) -> None:
    race = simrace.define("sparkstop", 80)
    frames = simrace.chunks(race, minutes=40)
    half = len(frames) // 2
    for frame in frames[:half]:
        rawlog.write_file(race.name, frame)
    checkpoint = tmp_path / "checkpoint"
    first = Gathered(definition.load(race.name))
    start_query(first.race, checkpoint, first, partitions=2).awaitTermination()
    rawlog.write_file(race.name, frames[half - 1])  # pings already applied: every one a duplicate (or ignored)
    again = Gathered(first.race)
    restore(again, checkpoint, partitions=2)
    start_query(again.race, checkpoint, again, partitions=2).awaitTermination()
    assert again.batches == 1 and again.changed == 0  # nobody's standing changed: no runner sent to the driver
    assert again.processor.rejected["duplicate"] > first.processor.rejected["duplicate"]
    for frame in frames[half:]:
        rawlog.write_file(race.name, frame)
    second = Gathered(definition.load(race.name))  # a new driver: what came before is read back from the state
    restore(second, checkpoint, partitions=2)
    _assert_same(second.processor, again.processor)
    start_query(second.race, checkpoint, second, partitions=2).awaitTermination()
    assert second.batches >= 1 and 0 < second.changed <= race.runners * second.batches
    _assert_same(second.processor, _embedded(race.name).processor)


def test_a_followed_race_publishes_what_the_live_page_reads(platform: Any) -> None:
    race = simrace.define("sparkfollow", 60)
    frames = simrace.chunks(race, minutes=30)
    for frame in frames[:10]:
        rawlog.write_file(race.name, frame)
    query, gathered = follow(definition.load(race.name), partitions=2)
    try:
        query.processAllAvailable()
        first = publish.current(gathered.race)
        assert first is not None and first.meta["engine"] == "spark" and first.processor.accepted > 0
        for frame in frames[10:]:
            rawlog.write_file(race.name, frame)
        query.processAllAvailable()
    finally:
        query.stop()
    view = publish.current(gathered.race)
    assert view is not None and view.processor.version > first.processor.version
    assert view.meta["lag_p99_s"] is not None and view.meta["lag_p99_s"] >= 0  # timing-ok: present, not fast
    expected = _embedded(race.name).processor
    _assert_same(gathered.processor, expected)
    np.testing.assert_array_equal(view.standings.order, Standings(expected).order)


def test_a_cluster_without_a_shared_checkpoint_exits_2_with_the_reason(platform: Any, monkeypatch) -> None:
    from typer.testing import CliRunner

    from shipml.apps.race.cli import commands
    from shipml.settings import get_settings

    simrace.define("sparkrefused", 5)
    for checkpoint, reason in ((None, "set SHIPML_SPARK_CHECKPOINT"), ("/srv/ckpt", "is not a shared URI")):
        monkeypatch.setenv("SHIPML_SPARK_MASTER", "spark://192.0.2.10:7077")
        if checkpoint:
            monkeypatch.setenv("SHIPML_SPARK_CHECKPOINT", checkpoint)
        get_settings.cache_clear()
        for args in (["spark", "sparkrefused"], ["spark", "sparkrefused", "--follow"]):
            result = CliRunner().invoke(commands, args)
            assert result.exit_code == 2 and reason in " ".join(result.output.split()), result.output
    get_settings.cache_clear()
