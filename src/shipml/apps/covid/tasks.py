"""Covid jobs: refresh from the configured source (every ``SHIPML_COVID_REFRESH_MINUTES``) and train
the case forecaster. The CLI calls the same functions in-process; the API submits them as jobs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from shipml.apps.covid import data
from shipml.apps.covid.model import CaseForecast, backtest, candidates, from_params
from shipml.core import jobs, registry
from shipml.core.datasets import Snapshot
from shipml.core.progress import Progress, no_progress
from shipml.settings import get_settings

MODEL = "covid_cases_forecast"
METRIC = "backtest_mae"
CASES = "всего"  # the original export's column of new cases per day


def ingest(source: str | None = None, progress: Progress = no_progress) -> dict[str, Any]:
    return data.refresh(source or get_settings().covid_source, progress)


def _cases(clean: pl.DataFrame) -> tuple[np.ndarray, Any]:
    frame = clean.select("date", CASES).sort("date")
    return frame[CASES].cast(pl.Float64).to_numpy(), frame["date"][-1]


def evaluate(progress: Progress = no_progress) -> list[dict[str, Any]]:
    """Backtest every candidate configuration (and the champion's) on the newest snapshot."""
    snap, clean = data.load_clean()
    series, last_day = _cases(clean)
    rows = [{"model": m.params["kind"], "params": m.params, METRIC: backtest(m.params, series, last_day)}
            for m in candidates()]
    version, champion = registry.champion(MODEL).get()
    if champion is not None:
        rows.append({"model": f"champion v{version}", "params": champion.forecaster.params,
                     METRIC: backtest(champion.forecaster.params, series, last_day)})
    return rows


def train(progress: Progress = no_progress) -> dict[str, Any]:
    """Pick the best candidate by backtest, log it, and promote it if it beats the champion's config
    refit on the same cut-offs."""
    snap, clean = data.load_clean()
    series, last_day = _cases(clean)
    progress(0.1, "backtesting candidates")
    scored = [(backtest(m.params, series, last_day), m) for m in candidates()]
    score, best = min(scored, key=lambda pair: pair[0])
    return register(best.params, score, snap, series, last_day, progress)


def register(params: dict[str, Any], score: float, snap: Snapshot, series: np.ndarray, last_day: Any,
             progress: Progress = no_progress) -> dict[str, Any]:
    progress(0.5, "logging to the registry")
    fitted = CaseForecast(from_params(params).fit(series, last_day), last_day)
    holdout = f"rolling origin: 4 cut-offs x 14 days ending {last_day} ({snap.name} v{snap.version})"
    version = registry.log_model(MODEL, fitted, params=params, metrics={METRIC: score}, dataset=snap,
                                 holdout=holdout)
    progress(0.8, "comparing with the champion")
    champion_version = registry.champion_version(MODEL)
    champion_score = None
    if champion_version is not None:
        champion = registry.load_version(MODEL, champion_version)
        champion_score = backtest(champion.forecaster.params, series, last_day)
    decision = registry.promote_if_better(MODEL, version, metric=METRIC, candidate_score=score,
                                          champion_score=champion_score, higher_is_better=False)
    progress(1.0, decision.reason)
    return {**decision.to_dict(), METRIC: score, "params": params}


@jobs.job("covid", "refresh")
def refresh_job(ctx: jobs.JobContext, source: str | None = None) -> dict[str, Any]:
    return ingest(source, ctx.progress)


@jobs.job("covid", "train")
def train_job(ctx: jobs.JobContext) -> dict[str, Any]:
    return train(ctx.progress)


jobs.periodic("covid", "refresh", every_minutes=lambda s: s.covid_refresh_minutes)


def prepare(say: Any) -> None:
    """For ``shipml up``: refresh from the configured source, falling back to synthetic data when it
    cannot be had and nothing is stored yet; train a forecaster if there is no champion."""
    from shipml.core import datasets
    from shipml.core.errors import RejectedData, SourceUnavailable

    source = get_settings().covid_source
    try:
        result = ingest(source)
        say(f"covid: {result['status']} data version {result['version']} ({result['rows']} days) from {source}")
    except (SourceUnavailable, RejectedData) as exc:
        last = datasets.latest(data.DATASET)
        if last is None:
            say(f"[yellow]covid: {exc.message}[/yellow]")
            say("[yellow]covid: OFFLINE — using SYNTHETIC data, labelled as such in the UI[/yellow]")
            ingest(data.SYNTHETIC)
        else:
            kind = "synthetic" if last.synthetic else "real"
            say(f"[yellow]covid: refresh failed ({exc.message}); serving last good version {last.version} "
                f"({kind})[/yellow]")
    if registry.champion_version(MODEL) is None:
        result = train()
        say(f"covid: trained {MODEL} v{result['version']} ({METRIC}={result[METRIC]:.1f})")
