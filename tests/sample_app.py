"""A tiny app declared through the real contract, for the core tests: a constant forecaster whose known answer is
the mean (or the median) of the values it is fit on, a schedule, and a service that beats."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import polars as pl
from fastapi import APIRouter

from shipml.core import datasets, services
from shipml.core.app import App, Schedule, Service
from shipml.core.errors import RejectedData, SourceOffline
from shipml.core.training import ModelSpec, TrainingData

DATASET = "demo_values"


class Constant:
    """Predicts one number: the mean or the median of what it was fit on."""

    def __init__(self, kind: str) -> None:
        self.params = {"kind": kind}
        self.value: float | None = None

    def fit(self, values: np.ndarray) -> Constant:
        self.value = float(np.mean(values) if self.params["kind"] == "mean" else np.median(values))
        return self

    def predict(self, _input: Any = None) -> float:
        assert self.value is not None
        return self.value


def store(values: list[float]) -> int:
    """Store a new version of the demo data; returns its version."""
    return datasets.save(DATASET, pl.DataFrame({"y": values}), source="test").snapshot.version


def load() -> TrainingData[np.ndarray]:
    snap = datasets.require_latest(DATASET)
    return TrainingData(snap, snap.read()["y"].to_numpy())


def evaluate(configs: Any, values: np.ndarray, _progress: Any) -> dict[str, dict[str, float]]:
    """MAE on the last quarter of the values, every configuration fit on the first three quarters."""
    cut = len(values) * 3 // 4
    return {name: {"mae": float(np.mean(np.abs(Constant(p["kind"]).fit(values[:cut]).predict() - values[cut:])))}
            for name, p in configs.items()}


def spec(candidates: tuple[str, ...] = ("mean", "median")) -> ModelSpec[np.ndarray, Constant]:
    return ModelSpec(name="demo_constant", metric="mae", higher_is_better=False, holdout="last quarter",
                     load=load, candidates=lambda: {k: {"kind": k} for k in candidates},
                     make=lambda p: Constant(p["kind"]), evaluate=evaluate,
                     fit=lambda model, values: model.fit(values), tolerance=0.10)


router = APIRouter()


@router.get("/values/{key}")
def value(key: str) -> dict[str, str]:
    return {"key": key}


def beat_forever() -> None:
    while True:
        services.beat("demo", "beater", lag_seconds=0.5, processed=1)
        time.sleep(0.2)


def status() -> dict[str, Any]:
    return {"data": datasets.freshness(DATASET)}


def ingest(source: str | None, _progress: Any) -> dict[str, Any]:
    return {"status": "stored", "version": store([1.0, 2.0, 3.0, 4.0]), "rows": 4, "source": source or "test"}


def read_values(source: str | None, _progress: Any) -> dict[str, Any]:
    """An ingest through the platform's one refresh path: ``synthetic`` (labelled), ``offline…`` (unreachable, as
    a network source would be), ``bad…`` (rejected by validation), or comma-separated values."""
    source = source or "synthetic"

    def read() -> datasets.Incoming:
        if source == "synthetic":
            return datasets.Incoming(pl.DataFrame({"y": [1.0, 2.0, 3.0, 4.0]}), "synthetic", synthetic=True)
        if source.startswith("offline"):
            raise SourceOffline(f"{source} cannot be reached")
        if source.startswith("bad"):
            raise RejectedData(f"{source}: not numbers")
        return datasets.Incoming(pl.DataFrame({"y": [float(v) for v in source.split(",")]}), source)

    return datasets.refresh(DATASET, source, read).describe()


APP = App(
    name="demo",
    title="Demo",
    status="sample_app:status",
    router="sample_app:router",
    ingest="sample_app:ingest",
    models=("sample_app:spec",),
    schedules=(Schedule("ingest", every_minutes=lambda: int(os.environ.get("DEMO_EVERY_MINUTES", "15")),
                        params={"source": "scheduled"}),),
    services=(Service("beater", run="sample_app:beat_forever", stale_seconds=5),),
)


def quick_spec() -> ModelSpec[np.ndarray, Constant]:
    """The first start's quick candidates: the mean only."""
    return spec(("mean",))
