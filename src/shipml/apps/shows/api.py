"""The shows API, as the original: submit up to 5 liked titles → 202 with a prediction id; poll it until the
recommendations are ready. Plus title search (typo-tolerant), similar shows, and ratings feedback. Status,
ingest, train and eval are the platform's (built from the app's declaration). Every answer is a model of
:mod:`shipml.apps.shows.schemas`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from shipml.apps.shows import catalog, ratings
from shipml.apps.shows import index as title_index
from shipml.apps.shows.model import ShowsModel
from shipml.apps.shows.schemas import (
    Rating,
    RatingSaved,
    RecognisedTitle,
    RecommendationAccepted,
    RecommendationAnswer,
    RecommendationFailed,
    RecommendationPending,
    RecommendationRequest,
    Show,
    ShowHit,
    SimilarShow,
    SimilarShows,
)
from shipml.apps.shows.tasks import MODEL
from shipml.core import jobs, registry
from shipml.core.access import PublicWrite
from shipml.core.bursts import Coalescer, Finished, States
from shipml.core.errors import InvalidInput, NotFound
from shipml.core.readcache import ReadCache, fresh, recent
from shipml.core.tables import utcnow
from shipml.core.validation import DB_INT_MAX
from shipml.core.versioned import versioned
from shipml.settings import get_settings

router = APIRouter()
_answers = ReadCache()  # rendered answers by catalog stamp and request
# a burst of requests is one write and one queue message; a request is its requester's: listed to no one else, its
# answer read back with its (random, 128-bit) prediction id only
_predictions = Coalescer("shows", "predict", private=True, cheap=True)
_finished = Finished()
_states = States()


WAIT = Query(ge=0, le=30, description="seconds to wait for the answer while it is pending (long polling)")


@router.post("/recommendations", status_code=202, dependencies=[PublicWrite], response_model=RecommendationAccepted,
             responses={200: {"model": RecommendationAccepted,
                              "description": "finished within `wait`: `answer` is `done` or `failed`"}})
async def submit(request: RecommendationRequest,
                 wait: Annotated[float, WAIT] = 0) -> RecommendationAccepted | Response:
    """Recognise the titles and queue the prediction; the worker saves them as likes of a new anonymous user (whose
    signed id the answer gives, for feedback). Titles no source knows are reported back, not added: a public
    request does not write to the catalog. With ``wait``, the answer is held until the prediction is finished (200,
    with it as ``answer``) or ``wait`` seconds have passed (202: poll it): one request instead of two."""
    titles = [t.strip() for t in request.shows if t.strip()]
    if not titles:
        raise InvalidInput("give 1 to 5 show titles")
    # titles typed before are resolved from what is kept, on the loop: a thread hop per request costs more than
    # the lookup (a burst of 2,000 requests: about 0.8 s of the API's CPU); a new title is matched in a thread
    resolved = catalog.resolve_kept(titles)
    if resolved is None:
        resolved = await run_in_threadpool(catalog.resolve, titles)
    if not resolved.found:
        raise NotFound(f"no show recognised among {', '.join(repr(t) for t in titles)}",
                       details={"suggestions": resolved.suggestions})
    show_ids = list(dict.fromkeys(s["id"] for s in resolved.found))
    user_id = ratings.new_user_id()
    queued = utcnow()  # the job's creation time is at least this (stamped by this process when it is written)
    job_id = await _predictions.submit({"show_ids": show_ids, "user_id": user_id})
    accepted = RecommendationAccepted(
        prediction_id=job_id, user_id=user_id,
        recognised=[RecognisedTitle(query=s["query"], id=s["id"], title=s["title"]) for s in resolved.found],
        not_recognised=list(resolved.unknown))
    job = await _finished.wait(job_id, queued, wait) if wait > 0 else None
    if job is None:
        return accepted
    body = accepted.model_dump_json(exclude={"answer"})[:-1].encode()
    return Response(body + b',"answer":' + _finished_answer(job) + b"}", media_type="application/json")


@router.get("/recommendations/{prediction_id}", response_model=RecommendationAnswer)
async def poll(prediction_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")],
               wait: Annotated[float, WAIT] = 0,
               ) -> RecommendationAnswer | Response:
    """``pending`` until the worker has computed it, then ``done`` with the shows (or ``failed`` with why). With
    ``wait``, a pending answer is held until it is ready or ``wait`` seconds have passed: one request instead of
    many polls."""
    job = await _prediction(prediction_id)
    if wait > 0 and not job.finished:  # the finished state comes with the others' (no read of its own)
        job = await _finished.wait(prediction_id, job.created_at, wait) or job
    if not job.finished:
        return RecommendationAnswer(RecommendationPending(prediction_id=prediction_id, status="pending"))
    return Response(_finished_answer(job), media_type="application/json")


def _finished_answer(job: jobs.JobState) -> bytes:
    """A finished prediction's answer as JSON: ``failed`` with its error, or ``done`` with the result as the worker
    stored it (built there as a :class:`RecommendationResult`), passed on without decoding it, the id and status
    added."""
    if job.status == "failed":
        return RecommendationFailed(prediction_id=job.id, status="failed", error=job.error).model_dump_json().encode()
    stored = job.result_json
    if stored is None or not (stored.startswith('{"') and stored.endswith("}")):
        raise TypeError(f"prediction {job.id}: its stored result is not a JSON object")  # a server error
    tail = f',"prediction_id":"{job.id}","status":"done"}}'  # a job id is 32 hex digits
    return stored[:-1].encode() + tail.encode()


async def _prediction(prediction_id: str) -> jobs.JobState:
    """The prediction's job state, read with the concurrent polls' (one query for all); another app's job or an
    unknown id is no prediction."""
    job = await _states.get(prediction_id)
    if job is None or (job.app, job.name) != ("shows", "predict"):
        raise NotFound(f"no prediction with id '{prediction_id}'")
    return job


@router.get("/search", response_model=list[ShowHit])
@versioned(lambda: fresh("shows.catalog"))
def search(q: Annotated[str, Query(min_length=1, max_length=200)],
           limit: Annotated[int, Query(ge=1, le=50)] = 10) -> Response:
    """Titles matching ``q``, typos forgiven; an exact title comes first. (Rendered once per catalog version.)"""
    stamp = recent("shows.catalog", title_index.stamp)
    return _answers.answer(("search", get_settings().db_url, stamp, q, limit),
                           lambda: [ShowHit.model_validate(hit) for hit in catalog.search(q, limit)])


@router.get("/{show_id}/similar")
def similar(show_id: Annotated[int, Path(ge=0, le=DB_INT_MAX)],
            n: Annotated[int, Query(ge=1, le=50)] = 10) -> SimilarShows:
    """The ``n`` shows most related to a show, by the served recommender."""
    shows = catalog.get_shows([show_id])
    if show_id not in shows:
        raise NotFound(f"no show with id {show_id}")
    version, model = registry.champion(MODEL).require(ShowsModel, app="shows", missing="no recommender trained yet")
    found = model.similar(show_id, n)
    meta = catalog.get_shows(r["show_id"] for r in found)
    return SimilarShows(show=Show(**shows[show_id]), model_version=version,
                        similar=[SimilarShow(**meta[r["show_id"]], score=r["score"]) for r in found
                                 if r["show_id"] in meta])


@router.post("/ratings", status_code=201, dependencies=[PublicWrite])
def rate(rating: Rating) -> RatingSaved:
    """A like or dislike on a recommended show; it goes into the next export and retraining."""
    ratings.record_feedback(rating.user_id, rating.show_id, rating.liked)
    return RatingSaved(saved=True, **rating.model_dump())
