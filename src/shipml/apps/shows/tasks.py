"""Shows work: ingest a source, recommend (the ``shows.predict`` job behind the asynchronous API), and the
recommender's model spec for the platform's lifecycle (``shows.train``, nightly by default, and after an ingest that
stored new ratings). Every candidate is evaluated on the same held-out users of the latest ratings export; the
platform logs every run, registers the best and promotes it (see :mod:`shipml.core.training`). The CLI calls the
same functions in-process; the API submits them as jobs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import polars as pl

from shipml.apps.shows import MODEL, catalog, data, ratings  # MODEL: the app's declaration names it
from shipml.apps.shows.evaluation import compare
from shipml.apps.shows.evaluation_data import LikesMatrix, read_ratings
from shipml.apps.shows.model import ShowsModel
from shipml.apps.shows.recommenders import (
    Als,
    ByProfileLength,
    ByProfileLengthRerank,
    Ease,
    ItemKnnGraph,
    Popularity,
    Recommender,
    make,
)
from shipml.apps.shows.settings import settings
from shipml.core import datasets, jobs, registry
from shipml.core.errors import InvalidInput
from shipml.core.progress import Progress, no_progress
from shipml.core.training import ModelSpec, TrainingData

METRIC = "ndcg_at_10"
SEED = 0
HOLDOUT = f"20% of users held out (seed {SEED}); 80% of each one's likes given, the rest predicted"
# NDCG@10 moves with the data as much as with the model: the catalog, how many likes each user has and which users
# are held out all change between ratings exports (EASE scores ~0.37 on the synthetic demo and ~0.42 on the anime
# ratings; popularity 0.17 there). So a model fit on newer data replaces the champion unless it scores below half
# of the champion's: a fit on broken data (likes scrambled: near-random lists, NDCG@10 ≈ 0.02) is refused, any
# sane model on real ratings is served.
TOLERANCE = 0.5


def candidates() -> dict[str, dict[str, Any]]:
    """The configurations compared at every training: name → params (``make(params)`` builds the model).
    ``by_profile_length`` answers up to 5 liked shows (the app's form) with EASE fitted for 5 given likes and more
    with EASE (chosen on validation splits: ``benchmarks/shows_models``). It comes before ``ease`` because the
    lifecycle gives a tie to the first: with the full protocol the two differ only for users who give ≤ 5 likes
    (a tie on MovieLens small), and with 5 given it scores 1.15× EASE's NDCG@10 on both anime TV and MovieLens.
    ``by_profile_length_rerank`` (issue 22, second round) re-ranks that model's top 50 for ≤ 5 liked shows with a
    LightGBM ranker trained on random 5-subsets of the fit users' likes (+0.009 NDCG@10 with 5 given on the anime
    test users); it comes first for the same reason."""
    models: list[Recommender] = [Popularity(), ItemKnnGraph(), ByProfileLengthRerank(), ByProfileLength(), Ease(),
                                 Als()]
    return {model.name: model.params for model in models}


BASELINES = (Popularity(), ItemKnnGraph())  # always rows of ``shipml eval shows``: the floor and the original
SHORT = 5  # the app's form takes up to 5 liked shows: every training also scores each candidate with 5 given


def ingest(source: str | None = None, progress: Progress = no_progress) -> dict[str, Any]:
    return data.ingest(source or settings().source, progress)


def _likes(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("liked")).select("user", "item")


def _load() -> TrainingData[pl.DataFrame]:
    """The ratings store exported as the next version of ``shows.ratings`` (unless unchanged), as likes."""
    snap = ratings.export()
    return TrainingData(snap, _likes(snap.read()))


def _compare(configs: Mapping[str, dict[str, Any]], frame: pl.DataFrame, progress: Progress,
             min_rating: float | None = None, given: int | None = None) -> list[dict[str, Any]]:
    """Every configuration on one and the same split of ``frame`` (likes, or ratings with ``min_rating``); with
    ``given`` the N-given protocol (:func:`.evaluation.holdout`). Popularity and the original graph are always
    among the rows."""
    configs = {**{b.name: b.params for b in BASELINES if not any(p == b.params for p in configs.values())},
               **configs}
    names = list(configs)

    def factory(name: str) -> Any:
        def fresh() -> Recommender:
            progress(names.index(name) / len(names), f"evaluating {name}")
            return make(dict(configs[name]))

        return fresh

    return compare(frame, {name: factory(name) for name in names}, seed=SEED, min_rating=min_rating, given=given)


def _evaluate(configs: Mapping[str, dict[str, Any]], likes: pl.DataFrame,
              progress: Progress) -> dict[str, dict[str, Any]]:
    """The lifecycle's table: the full protocol (which chooses), plus each configuration's Recall@20, NDCG@10 and
    users scored with 5 given (``…_given_5``, logged with every run) when at least 20 held-out users have 6 likes."""
    table = {row["model"]: row for row in _compare(configs, likes, lambda f, m: progress(f / 2, m))}
    try:
        short = _compare(configs, likes, lambda f, m: progress(0.5 + f / 2, f"{m} ({SHORT} given)"), given=SHORT)
    except InvalidInput:  # too few users with SHORT + 1 likes: the full protocol alone
        return table
    for row in short:
        if row["model"] in table:
            table[row["model"]].update({f"{k}_given_{SHORT}": row[k]
                                        for k in ("recall_at_20", "ndcg_at_10", "users_scored")})
    return table


def _make(params: dict[str, Any]) -> ShowsModel:
    """An unfitted model: the recommender made from params, no shows yet."""
    return ShowsModel(make(params), ())


def _fit(model: ShowsModel, likes: pl.DataFrame) -> ShowsModel:
    return ShowsModel.fit(model.recommender, LikesMatrix.from_likes(likes))


def model_spec() -> ModelSpec[pl.DataFrame, ShowsModel]:
    """The show recommender: four kinds of model compared on the same held-out users, the best by NDCG@10."""
    return ModelSpec(
        name=MODEL, metric=METRIC, higher_is_better=True, holdout=HOLDOUT,
        load=_load, candidates=candidates, make=_make, evaluate=_evaluate, fit=_fit,
        tolerance=TOLERANCE,
    )


def quick_spec() -> ModelSpec[pl.DataFrame, ShowsModel]:
    """The first start's candidates: all but the re-ranker, whose fit (a LightGBM ranker on augmented samples) takes
    ~30 s of the ~2 minutes a full comparison takes on the anime likes. The full comparison, queued right after the
    first champion, promotes the re-ranker through the normal lifecycle when it wins."""
    slow = ByProfileLengthRerank.name
    return replace(model_spec(), candidates=lambda: {k: v for k, v in candidates().items() if k != slow})


def evaluate(ratings: str | None = None, user_col: str = "user", item_col: str = "item",
             rating_col: str | None = None, min_rating: float | None = None, given: int | None = None,
             progress: Progress = no_progress) -> list[dict[str, Any]]:
    """``shipml eval shows``: every candidate on a ratings file, or (no file) the lifecycle's table on the
    latest export of the ratings store (the champion's configuration included); nothing is logged or exported.
    ``given`` (N): the N-given protocol instead (each held-out user gives N random likes, the rest are the targets);
    refused when fewer than 20 users would be scored."""
    if not ratings:
        from shipml.apps.shows import ratings as store
        from shipml.core import training

        snap = datasets.require_latest(store.DATASET)
        if given is None:
            return training.evaluate(model_spec(), progress, TrainingData(snap, _likes(snap.read())))
        configs = training.configurations(model_spec())
        rows = _compare(configs, _likes(snap.read()), progress, given=given)
        return [{"model": r["model"], **registry.numeric_metrics(r)} for r in rows]
    frame = read_ratings(ratings, user_col, item_col, rating_col, min_rating)
    rows = _compare(candidates(), frame, progress, min_rating=min_rating, given=given)
    return [{"model": r["model"], **registry.numeric_metrics(r)} for r in rows]


def recommend(show_ids: list[int], n: int = 20) -> dict[str, Any]:
    """Recommendations with catalog metadata and reasons, from the served champion."""
    ranked = _ranked(show_ids, n)
    return _answer(show_ids, *ranked, catalog.get_shows(_mentioned(show_ids, ranked[2])))


Ranked = tuple[int | None, set[int], list[dict[str, Any]]]  # (model version, liked shows it knows, recommendations)


def _ranked(show_ids: list[int], n: int) -> Ranked:
    """(model version, the liked shows the model knows, its recommendations)."""
    version, model = registry.champion(MODEL).require(ShowsModel, app="shows", missing="no recommender trained yet")
    return version, set(model.known(show_ids)), model.recommend(show_ids, n)


def _ranked_many(contexts: list[jobs.JobContext], failed: dict[str, Exception]) -> dict[str, Ranked]:
    """:func:`_ranked` of each prediction, those asking the same ``n`` scored together; when a group fails, its
    predictions are ranked one by one, so that a bad one fails alone (into ``failed``)."""
    ranked: dict[str, Ranked] = {}
    by_n: dict[int, list[jobs.JobContext]] = {}
    for c in contexts:
        by_n.setdefault(c.params.get("n", 20), []).append(c)
    for n, group in by_n.items():
        try:
            version, model = registry.champion(MODEL).require(ShowsModel, app="shows",
                                                              missing="no recommender trained yet")
            answers = model.recommend_many([c.params["show_ids"] for c in group], n)
        except Exception:
            for c in group:
                try:
                    ranked[c.job_id] = _ranked(c.params["show_ids"], n)
                except Exception as exc:  # this prediction fails alone
                    failed[c.job_id] = exc
            continue
        for c, recs in zip(group, answers, strict=True):
            ranked[c.job_id] = (version, set(model.known(c.params["show_ids"])), recs)
    return ranked


def _mentioned(show_ids: list[int], recs: list[dict[str, Any]]) -> set[int]:
    return {r["show_id"] for r in recs} | set(show_ids)


def _answer(show_ids: list[int], version: int | None, known: set[int], recs: list[dict[str, Any]],
            shows: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """A prediction's result, exactly a :class:`RecommendationResult` (the API passes it on as stored, undecoded:
    the catalog's dicts are a show's fields, tested): a score that is not a number fails this prediction, visibly,
    instead of reaching a client as invalid JSON. (Validating each answer with pydantic here instead cost the
    worker what it saved the API: benchmarks/README.md.)"""
    out = []
    for r in recs:
        show = shows.get(r["show_id"])
        if show is None:
            continue
        score = float(r["score"])
        if not math.isfinite(score):
            raise ValueError(f"the recommender scored show {r['show_id']} {score}, not a number")
        because = [shows[b]["title"] for b in r["because"] if b in shows]
        out.append({**show, "score": score, "because": because,
                    "reason": f"because you liked {' and '.join(because)}" if because else "popular with everyone"})
    new = [shows[s]["title"] for s in show_ids if s not in known and s in shows]
    return {"model_version": version, "shows": out, "message": new_shows_message(new, len(show_ids)),
            "new_to_model": new}


def _listed(titles: list[str]) -> str:
    quoted = [f"“{t}”" for t in titles]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def new_shows_message(new: list[str], liked: int) -> str | None:
    """What to say when some liked shows are unknown to the model (no one liked them in its training data)."""
    if not new:
        return None
    if len(new) >= liked:
        return (f"{_listed(new)} {'is' if len(new) == 1 else 'are'} not known to the model yet (no one liked "
                f"{'it' if len(new) == 1 else 'them'} in its training data), so these are the most popular shows")
    return (f"{_listed(new)} {'is' if len(new) == 1 else 'are'} new to the model and "
            f"{'was' if len(new) == 1 else 'were'} not used yet: these come from your other shows")


def predict_job(ctx: jobs.JobContext, show_ids: list[int], n: int = 20, user_id: str | None = None,
                ) -> dict[str, Any]:
    """Record the request's likes (here, so that a request refused by the queue saves nothing) and recommend."""
    if user_id is not None:
        ratings.record_request_likes(show_ids, user_id)
    return recommend(show_ids, n)


def predict_many(contexts: list[jobs.JobContext]) -> list[Any]:
    """A batch of predictions (a burst of requests): the likes of all of them in one write, each ranked by the
    model, the catalog metadata of all of them in one read."""
    recorded = [c for c in contexts if c.params.get("user_id") is not None]
    refused = {c.job_id: outcome for c, outcome in zip(recorded, ratings.record_many_request_likes(
        [(c.params["show_ids"], c.params["user_id"]) for c in recorded]), strict=True)
        if isinstance(outcome, Exception)}
    failed: dict[str, Exception] = dict(refused)
    ranked = _ranked_many([c for c in contexts if c.job_id not in failed], failed)
    shows = catalog.get_shows({i for c in contexts if c.job_id in ranked
                               for i in _mentioned(c.params["show_ids"], ranked[c.job_id][2])})
    return [failed[c.job_id] if c.job_id in failed else _answered(c.params["show_ids"], *ranked[c.job_id], shows)
            for c in contexts]


def _answered(show_ids: list[int], version: int | None, known: set[int], recs: list[dict[str, Any]],
              shows: dict[int, dict[str, Any]]) -> dict[str, Any] | Exception:
    """One request's answer in a batch, or the error that fails it alone."""
    try:
        return _answer(show_ids, version, known, recs, shows)
    except ValueError as exc:
        return exc


def _warm() -> None:
    """Load the served champion (a worker's first predictions would otherwise wait for it)."""
    registry.champion(MODEL).get()


def register_jobs() -> None:
    """The app's own job: ``shows.predict`` (ingest, train and eval are the platform's); a starting worker loads
    the champion before the first request."""
    jobs.job("shows", "predict", many=predict_many, warm=_warm)(predict_job)
