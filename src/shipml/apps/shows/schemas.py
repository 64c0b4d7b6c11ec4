"""Pydantic models of every request and answer of the shows API (``/api/shows``); the routes return them and the
page parses into them.

    RecommendationRequest  POST /recommendations             → 202 RecommendationAccepted (RecognisedTitle*)
    RecommendationAnswer   GET  /recommendations/{id}        one of, by ``status``:
        RecommendationPending · RecommendationFailed · RecommendationDone (RecommendedShow*)
    list[ShowHit]          GET  /search
    SimilarShows           GET  /{show_id}/similar           Show, SimilarShow*
    Rating                 POST /ratings                     → 201 RatingSaved

A 404 of ``POST /recommendations`` (no title recognised) carries ``error.details.suggestions``: each typed title →
its closest shows, as :data:`Suggestions`. Every answer field is always sent (null where unknown).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from shipml.core.validation import DbId, Text

TITLE_MAX = 200


class Answer(BaseModel):
    """Base of the answers: the documented output schema requires every field that is always sent."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


# -- requests ----------------------------------------------------------------------------------------------------


class RecommendationRequest(BaseModel):
    """Up to 5 liked titles to get recommendations for."""

    shows: list[Text(TITLE_MAX, 1)] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=5, description=f"1 to 5 titles you like, up to {TITLE_MAX} characters each "
                                                "(typos are fine)")


class Rating(BaseModel):
    """A like or dislike of a recommended show."""

    user_id: Text(64, 1) = Field(description="the user_id a recommendation answer gave")  # type: ignore[valid-type]
    show_id: DbId
    liked: bool


# -- shows -------------------------------------------------------------------------------------------------------

_YEAR = "first aired; null when unknown"
_GENRES = "comma-separated, e.g. 'Action,Adventure,Drama'; null when unknown"
_POSTER = "the poster's address; null when there is none"
_VERIFIED = "false for a title a user added that no source knows"


class Show(Answer):
    """A show of the catalog."""

    id: int
    title: str
    year: int | None = Field(description=_YEAR)
    genres: str | None = Field(description=_GENRES)
    description: str | None = Field(description="a short synopsis; null when unknown")
    poster_url: str | None = Field(description=_POSTER)
    verified: bool = Field(description=_VERIFIED)
    source: str = Field(description="where the show comes from: 'anime_caserec', 'netflix', 'tvmaze', "
                                    "'synthetic' or 'user'")


class ShowHit(Answer):
    """A show matching a typed title (a search hit, or a "did you mean" suggestion)."""

    id: int
    title: str
    year: int | None = Field(description=_YEAR)
    genres: str | None = Field(description=_GENRES)
    poster_url: str | None = Field(description=_POSTER)
    verified: bool = Field(description=_VERIFIED)
    score: float = Field(description="how well the title matches, 0..1 (1: exact)")


Suggestions = dict[str, list[ShowHit]]
"""``error.details.suggestions`` of a 404 of ``POST /recommendations``: typed title → its closest shows."""


class RecommendedShow(Show):
    """A recommended show, with the liked shows behind it."""

    score: float = Field(description="the model's score; it only orders the list", allow_inf_nan=False)
    because: list[str] = Field(description="the liked titles that led to it, strongest first (at most 2)")
    reason: str = Field(description="'because you liked …', or 'popular with everyone' without a liked title "
                                    "behind it")


class SimilarShow(Show):
    """A show related to another one."""

    score: float = Field(description="the model's score; it only orders the list")


class SimilarShows(Answer):
    """The shows most related to one show, by the served recommender."""

    show: Show
    model_version: int | None = Field(description="the registered version of the recommender that answered")
    similar: list[SimilarShow] = Field(description="best first; empty when the model does not know the show")


# -- recommendations ---------------------------------------------------------------------------------------------

_PREDICTION_ID = "the id to read the answer with; only its holder can"


class RecognisedTitle(Answer):
    """A typed title and the show it was read as."""

    query: str = Field(description="the title as typed")
    id: int = Field(description="the show's id")
    title: str = Field(description="the show's title")


class RecommendationAccepted(Answer):
    """A recommendation request was queued: poll ``GET /recommendations/{prediction_id}``."""

    prediction_id: str = Field(description=_PREDICTION_ID)
    user_id: str = Field(description="an anonymous user id signed by this server, for ratings (POST /ratings)")
    recognised: list[RecognisedTitle] = Field(description="the typed titles recognised, in the order given")
    not_recognised: list[str] = Field(description="typed titles no show is close enough to: left out")
    answer: RecommendationAnswer | None = Field(
        None, description="with `wait`: the prediction's answer (`done` or `failed`) when it finished in that time "
                          "(HTTP 200); null when it is still pending (HTTP 202: poll it)")


class RecommendationPending(Answer):
    """The recommendations are still being computed."""

    prediction_id: str = Field(description=_PREDICTION_ID)
    status: Literal["pending"]


class RecommendationFailed(Answer):
    """The recommendations could not be computed."""

    prediction_id: str = Field(description=_PREDICTION_ID)
    status: Literal["failed"]
    error: str | None = Field(description="why")


class RecommendationResult(Answer):
    """What a worker stores for a prediction it has made (validated there; the API adds the id and status)."""

    model_version: int | None = Field(description="the registered version of the recommender that answered")
    shows: list[RecommendedShow] = Field(description="best first (20, or fewer when the model knows fewer)")
    message: str | None = Field(None, description="what to know about the answer (e.g. liked shows the model does "
                                                  "not know yet); null when there is nothing to say")
    new_to_model: list[str] = Field(default_factory=list,
                                    description="liked titles the model does not know yet (no one liked them in "
                                                "its training data), so not used")


class RecommendationDone(RecommendationResult):
    """The recommendations, best first, each with the reason it is there."""

    prediction_id: str = Field(description=_PREDICTION_ID)
    status: Literal["done"]


class RecommendationAnswer(RootModel[Annotated[RecommendationPending | RecommendationFailed | RecommendationDone,
                                               Field(discriminator="status")]]):
    """A recommendation request's answer: ``pending``, ``failed`` (with why) or ``done`` (with the shows)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


RecommendationAccepted.model_rebuild()  # its ``answer`` is a RecommendationAnswer, defined after it


# -- ratings -----------------------------------------------------------------------------------------------------


class RatingSaved(Answer):
    """The rating was stored; it counts from the next retraining."""

    saved: bool = Field(description="always true")
    user_id: str
    show_id: int
    liked: bool
