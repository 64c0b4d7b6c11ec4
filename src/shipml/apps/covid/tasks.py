"""Covid work: refresh from the configured source (every ``SHIPML_COVID_REFRESH_MINUTES``, declared in the app) and
the case forecaster's model spec for the platform's lifecycle. The CLI calls the same functions in-process; the API
submits them as jobs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from shipml.apps.covid import MODEL, data  # MODEL: the app's declaration names it
from shipml.apps.covid.model import CaseForecast, backtest, candidates
from shipml.apps.covid.settings import settings
from shipml.core.progress import Progress, no_progress
from shipml.core.training import ModelSpec, TrainingData

METRIC = "backtest_mae"
CASES = "всего"  # the original export's column of new cases per day


def ingest(source: str | None = None, progress: Progress = no_progress) -> dict[str, Any]:
    return data.refresh(source or settings().source, progress)


Cases = tuple[np.ndarray, Any]  # new cases per day, and the last day


def _cases(clean: pl.DataFrame) -> Cases:
    frame = clean.select("date", CASES).sort("date")
    return frame[CASES].cast(pl.Float64).to_numpy(), frame["date"][-1]


def _load() -> TrainingData[Cases]:
    snap, clean = data.load_clean()
    return TrainingData(snap, _cases(clean))


def _evaluate(configs: Any, cases: Cases, progress: Progress) -> dict[str, dict[str, Any]]:
    series, last_day = cases
    out = {}
    for i, (name, params) in enumerate(configs.items()):
        progress(i / len(configs), f"backtesting {name}")
        out[name] = {METRIC: backtest(params, series, last_day)}
    return out


def _fit(forecast: CaseForecast, cases: Cases) -> CaseForecast:
    series, last_day = cases
    return forecast.fit(series, last_day)


def model_spec() -> ModelSpec[Cases, CaseForecast]:
    """The 14-day case forecaster: candidates backtested on the same rolling origins."""
    return ModelSpec(
        name=MODEL, metric=METRIC, higher_is_better=False,
        holdout="rolling origin: 4 cut-offs x 14 days ending on the last day of the data",
        load=_load, candidates=lambda: {_label(m.params): m.params for m in candidates()},
        make=CaseForecast.make, evaluate=_evaluate, fit=_fit,
        tolerance=0.25,  # MAE moves with the level of the epidemic between data versions; a broken fit is far worse
    )


def _label(params: dict[str, Any]) -> str:
    return "_w".join(str(v) for v in params.values())
