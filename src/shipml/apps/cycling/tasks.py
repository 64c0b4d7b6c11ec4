"""Cycling jobs: ingest (synthetic, scrape or a folder) and train the similarity models.

Training evaluates every candidate on the same holdout (10 % of finished results, seed 0) and the same
specialty check, logs each to MLflow, and promotes by the specialty lift: how much more often a rider's 10
nearest neighbours share the rider's dominant specialty than 10 random riders do. Specialty labels come
from the riders table and are used for evaluation only, never as a training input.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import polars as pl

from shipml.apps.cycling import data
from shipml.apps.cycling.evaluation import evaluate as evaluate_model
from shipml.apps.cycling.factor_model import FactorModel
from shipml.apps.cycling.model import CosineBaseline, SimilarityModel, fit_results
from shipml.core import datasets, jobs, registry
from shipml.core.errors import RejectedData, SourceUnavailable
from shipml.core.progress import Progress, no_progress
from shipml.settings import get_settings

MODEL = "cycling_similarity"
METRIC = "specialty_lift"
HOLDOUT = "10% of finished results held out (seed 0); specialty agreement of 10 neighbours, riders with >= 5 results"
PCS = "https://www.procyclingstats.com"




def candidates() -> dict[str, Callable[[], SimilarityModel]]:
    """The configurations compared at every training run (name → factory of an unfitted model)."""
    return {
        "cosine_baseline": lambda: CosineBaseline(),
        "factor_als": lambda: FactorModel(),
    }


def ingest(source: str | None = None, progress: Progress = no_progress) -> dict[str, Any]:
    """Ingest results and riders; the answer describes the results version (like every app's ingest), with
    the riders version under ``riders``."""
    outcome: dict[str, Any] = data.ingest(source or get_settings().cycling_source, progress)
    return {**outcome["results"], **{k: v for k, v in outcome.items() if k != "results"}}


def _figures(factory: Callable[[], SimilarityModel], results: pl.DataFrame, riders: pl.DataFrame) -> dict[str, Any]:
    figures = evaluate_model(factory, results, riders, seed=0)
    figures[METRIC] = figures["specialty_ratio"]
    return figures


def evaluate(progress: Progress = no_progress) -> list[dict[str, Any]]:
    """Figures of every candidate (and of the champion's configuration) on the current data."""
    _, results, riders = data.load()
    rows = []
    factories = dict(candidates())
    version = registry.champion_version(MODEL)
    if version is not None:
        champion = registry.load_version(MODEL, version)
        factories[f"champion v{version}"] = lambda: copy.deepcopy(champion)
    for i, (name, factory) in enumerate(factories.items()):
        progress(i / len(factories), f"evaluating {name}")
        rows.append({"model": name, **registry.numeric_metrics(_figures(factory, results, riders))})
    progress(1.0, "done")
    return rows


def train(progress: Progress = no_progress) -> dict[str, Any]:
    """Evaluate, log and register every candidate; the best one becomes champion if it beats the current."""
    snap, results, riders = data.load()
    factories = candidates()
    decisions = []
    scored: list[tuple[str, dict[str, Any], SimilarityModel]] = []
    for i, (name, factory) in enumerate(factories.items()):
        progress(0.05 + 0.8 * i / len(factories), f"evaluating {name}")
        figures = _figures(factory, results, riders)
        scored.append((name, figures, fit_results(factory(), results)))
    progress(0.85, "comparing with the champion")
    champion_version = registry.champion_version(MODEL)
    champion_score = None
    if champion_version is not None:
        champion = registry.load_version(MODEL, champion_version)
        champion_score = _figures(lambda: copy.deepcopy(champion), results, riders)[METRIC]
    for name, figures, model in sorted(scored, key=lambda s: s[1][METRIC]):  # best last, so it ends champion
        version = registry.log_model(MODEL, model, params={"candidate": name, **model.params},
                                     metrics=registry.numeric_metrics(figures), dataset=snap, holdout=HOLDOUT)
        decision = registry.promote_if_better(MODEL, version, metric=METRIC, candidate_score=figures[METRIC],
                                              champion_score=champion_score, higher_is_better=True)
        if decision.promoted:
            champion_score = figures[METRIC]
        decisions.append({**decision.to_dict(), "candidate": name, METRIC: figures[METRIC],
                          "holdout_spearman": figures["holdout_spearman"]})
    progress(1.0, "; ".join(f"{d['candidate']}: {d['reason']}" for d in decisions))
    best = decisions[-1]
    return {**best, "decisions": decisions}


def prepare(say: Any) -> None:
    """For ``shipml up``: data when there is none, and a model when there is no champion.

    With the default source (a scrape of procyclingstats.com, ~35 min the first time) the app starts at once
    on synthetic data, labelled as such, and scrapes in the background when the site answers. A folder
    source (``SHIPML_CYCLING_SOURCE``) is imported directly.
    """
    source = get_settings().cycling_source
    if datasets.latest(data.DATASET_RESULTS) is None:
        if source not in (data.SCRAPE, data.SYNTHETIC):
            try:
                result = ingest(source)
                say(f"cycling: {result['status']} {result['rows']} results from {source}")
            except (RejectedData, SourceUnavailable) as exc:
                say(f"[yellow]cycling: {exc.message}; using SYNTHETIC data[/yellow]")
                source = data.SYNTHETIC
        if datasets.latest(data.DATASET_RESULTS) is None:
            result = ingest(data.SYNTHETIC)
            say(f"[yellow]cycling: SYNTHETIC demo data ({result['rows']} results) until real results are "
                "scraped[/yellow]")
        if source == data.SCRAPE:
            try:
                httpx.head(PCS, timeout=3.0)
            except httpx.HTTPError as exc:
                say(f"[yellow]cycling: procyclingstats.com unreachable ({type(exc).__name__}); "
                    "staying on synthetic[/yellow]")
            else:
                job_id = jobs.submit("cycling", "ingest", source=data.SCRAPE)
                say(f"cycling: scraping procyclingstats.com in the background (job {job_id[:8]}; "
                    "~35 min the first time)")
    if registry.champion_version(MODEL) is None:
        result = train()
        say(f"cycling: trained {MODEL} v{result['version']} ({METRIC}={result[METRIC]:.2f})")


@jobs.job("cycling", "ingest")
def ingest_job(ctx: jobs.JobContext, source: str | None = None) -> dict[str, Any]:
    result = ingest(source, ctx.progress)
    if result.get("status") == "stored":
        jobs.submit("cycling", "train")
    return result


@jobs.job("cycling", "train")
def train_job(ctx: jobs.JobContext) -> dict[str, Any]:
    return train(ctx.progress)

