"""Shows jobs: ingest a source, predict (asynchronous recommendations), export ratings and retrain
(nightly by default). Every candidate is evaluated on the same held-out users; every run is logged to MLflow
and the best by NDCG@10 is registered and promoted if it beats the champion's configuration on that split.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import polars as pl

from shipml.apps.shows import catalog, data, ratings
from shipml.apps.shows.evaluation import compare
from shipml.apps.shows.evaluation_data import LikesMatrix, read_ratings
from shipml.apps.shows.model import ShowsModel
from shipml.apps.shows.recommenders import Als, Ease, ItemKnnGraph, Popularity, Recommender, make
from shipml.core import datasets, jobs, registry
from shipml.core.errors import NotFound
from shipml.core.progress import Progress, no_progress
from shipml.settings import get_settings

MODEL = "shows_recommender"
METRIC = "ndcg_at_10"
HOLDOUT = "20% of users held out (seed 0); 80% of each one's likes given, the rest predicted"



def candidates() -> dict[str, Callable[[], Recommender]]:
    return {"popularity": Popularity, "item_knn_graph": ItemKnnGraph, "ease": Ease, "als": Als}


def ingest(source: str | None = None, progress: Progress = no_progress) -> dict[str, Any]:
    return data.ingest(source or get_settings().shows_source, progress)


def _likes(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("liked")).select("user", "item")


def evaluate(ratings_path: str | None = None, user_col: str = "user", item_col: str = "item",
             rating_col: str | None = None, min_rating: float | None = None,
             progress: Progress = no_progress) -> list[dict[str, Any]]:
    """Compare every model on a ratings file, or (no file) on the latest export of the ratings store."""
    if ratings_path:
        frame = read_ratings(ratings_path, user_col, item_col, rating_col, min_rating)
        rows = compare(frame, candidates(), seed=0, min_rating=min_rating)
    else:
        snap = datasets.require_latest(ratings.DATASET)
        rows = compare(_likes(snap.read()), candidates(), seed=0)
    return [{"model": r["model"], **registry.numeric_metrics(r)} for r in rows]


def train(progress: Progress = no_progress) -> dict[str, Any]:
    """Export the ratings store, compare the candidates, log every run, register and maybe promote the best."""
    progress(0.05, "exporting ratings")
    snap = ratings.export()
    liked = _likes(snap.read())
    factories = dict(candidates())
    version = registry.champion_version(MODEL)
    if version is not None:
        champion: ShowsModel = registry.load_version(MODEL, version)
        factories["champion"] = lambda: make(copy.deepcopy(champion.recommender.params))
    progress(0.15, f"evaluating {len(factories)} models on held-out users")
    rows = {r["model"]: r for r in compare(liked, factories, seed=0)}
    champion_score = rows.pop("champion")[METRIC] if "champion" in rows else None
    for name, row in rows.items():
        registry.log_run(MODEL, params={"candidate": name, **row["params"]}, metrics=registry.numeric_metrics(row),
                         dataset=snap, holdout=HOLDOUT)
    best = max(rows, key=lambda name: rows[name][METRIC])
    progress(0.7, f"fitting {best} on all likes")
    model = ShowsModel.fit(candidates()[best](), LikesMatrix.from_likes(liked))
    registered = registry.log_model(MODEL, model, params={"candidate": best, **rows[best]["params"]},
                                    metrics=registry.numeric_metrics(rows[best]), dataset=snap, holdout=HOLDOUT)
    decision = registry.promote_if_better(MODEL, registered, metric=METRIC, candidate_score=rows[best][METRIC],
                                          champion_score=champion_score, higher_is_better=True)
    progress(1.0, decision.reason)
    return {**decision.to_dict(), METRIC: rows[best][METRIC], "candidate": best,
            "table": {name: registry.numeric_metrics(row) for name, row in rows.items()}}


def recommend(show_ids: list[int], n: int = 20) -> dict[str, Any]:
    """Recommendations with catalog metadata and reasons, from the served champion."""
    version, model = registry.champion(MODEL).get()
    if model is None:
        raise NotFound("no recommender trained yet; run `shipml train shows`")
    known = model.known(show_ids)
    recs = model.recommend(show_ids, n)
    shows = catalog.get_shows({r["show_id"] for r in recs} | set(show_ids))
    out = []
    for r in recs:
        show = shows.get(r["show_id"])
        if show is None:
            continue
        because = [shows[b]["title"] for b in r["because"] if b in shows]
        out.append({**show, "score": r["score"], "because": because,
                    "reason": f"because you liked {' and '.join(because)}" if because else "popular with everyone"})
    message = None
    if not known:
        message = "none of these shows is known to the model yet, so these are the most popular shows"
    elif len(known) < len(show_ids):
        message = f"{len(show_ids) - len(known)} of your shows is new to the model and was not used yet"
    return {"model_version": version, "shows": out, "message": message}


def prepare(say: Any) -> None:
    """For ``shipml up``: a catalog and ratings when there are none, and a recommender when there is no champion."""
    source = get_settings().shows_source
    if catalog.count() == 0:
        result = ingest(source)
        label = " (SYNTHETIC catalog, labelled as such in the UI)" if result.get("synthetic") else ""
        say(f"shows: {result['status']} {result['rows']} ratings on {result['shows']} shows from {source}{label}")
    if registry.champion_version(MODEL) is None:
        result = train()
        say(f"shows: trained {MODEL} v{result['version']} ({result['candidate']}, {METRIC}={result[METRIC]:.3f})")


@jobs.job("shows", "predict")
def predict_job(ctx: jobs.JobContext, show_ids: list[int], n: int = 20) -> dict[str, Any]:
    return recommend(show_ids, n)


@jobs.job("shows", "ingest")
def ingest_job(ctx: jobs.JobContext, source: str | None = None) -> dict[str, Any]:
    return ingest(source, ctx.progress)


@jobs.job("shows", "retrain")
def retrain_job(ctx: jobs.JobContext) -> dict[str, Any]:
    return train(ctx.progress)


jobs.periodic("shows", "retrain", every_minutes=lambda s: s.shows_retrain_minutes)
