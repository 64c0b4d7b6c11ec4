"""Pydantic models of every request and answer of the race API (``/api/race``); :mod:`.api` returns them, the page
parses into them.

    RaceSummary*    GET  /races                   RaceFacts (CourseFacts, Checkpoint*), StorageUse (admin)
    RaceSummary     GET  /races/{race}
    RaceSummary     PUT  /races/{race}  (RaceIn: CourseIn, ParticipantIn*)
    BatchReceipt    POST /{race}/pings
    "OK"            GET|POST /{race}/osmand        text/plain
    []              POST /{race}/owntracks
    DnfMark         POST /{race}/runners/{bib}/dnf
    Leaderboard     GET  /{race}/leaderboard      RunnerLine*
    SearchHits      GET  /{race}/search           RunnerLine* or Entrant* (before any standings)
    RunnerDetail    GET  /{race}/runners/{bib}    RunnerLine + Split*, Position, TrackPoint*
    LeadersProgress GET  /{race}/progress         LeaderSeries* (ProgressPoint*)
    LiveStats       GET  /{race}/stats            StatusCounts, Edition
    CourseMap       GET  /{race}/course           RaceFacts + CheckpointPoint*

Times of day are ISO 8601 strings with an offset (``2026-05-03T08:00:00+00:00``); durations are seconds
(``_s``), distances metres (``_m``). A field an answer may lack is said so; every other field is always sent, as
null where its value is unknown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RunnerStatus = Literal["not_started", "running", "stale", "finished", "dnf"]


def _none(value: object) -> bool:
    return value is None



class CheckpointIn(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    distance_m: float = Field(gt=0, le=1_000_000)


class RaceTerms(BaseModel):
    """What an organiser states about a race: title, sport, start and waves, checkpoints, when a runner is stale.
    The API's request and the stored definition share these fields (and their limits)."""

    title: str = Field("", max_length=120)
    sport: str = "running"
    start: datetime
    waves: dict[str, datetime] = Field(default_factory=dict, max_length=100)
    checkpoint_every_m: float = Field(5000.0, gt=0, le=1_000_000)
    checkpoints: list[CheckpointIn] | None = Field(None, max_length=200)
    stale_after_s: float = Field(120.0, gt=0, le=86_400)
    duration_h: float = Field(8.0, gt=0, le=240, description="how long the race lasts from its first start: with "
                              "the field, it sets the race's raw-storage budget")
    ingest_key: str | None = Field(None, min_length=16, max_length=128, pattern=r"^[A-Za-z0-9._~-]+$",
                                   description="what gateways send as X-Ingest-Key (or Bearer) to post batches; "
                                               "unset: the race keeps its key, a new race gets a random one")


class Answer(BaseModel):
    """Base of the answers: the documented output schema requires every field that is always sent."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


# requests


class ParticipantIn(BaseModel):
    """One participant of a race definition."""

    model_config = ConfigDict(extra="forbid")
    bib: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=120)
    category: str = Field("all", min_length=1, max_length=40)
    device: str | None = Field(None, min_length=1, max_length=128,
                               description="the tracker's id in the pings; unset: the bib")
    wave: str | None = Field(None, max_length=40, description="a key of the race's 'waves'; unset: the gun")


class CourseIn(BaseModel):
    """The course file of a race definition, as text."""

    model_config = ConfigDict(extra="forbid")
    format: str = Field("gpx", pattern="^(gpx|tcx|csv)$")
    text: str = Field(min_length=10, max_length=900_000, description="the file's content")


class RaceIn(RaceTerms):
    """A race definition: the course file's text, participants (list or CSV text), start and waves, sport."""

    model_config = ConfigDict(extra="forbid")
    course: CourseIn
    participants: list[ParticipantIn] | None = Field(None, max_length=20_000)
    participants_csv: str | None = Field(None, max_length=900_000,
                                         description="CSV text with columns bib, name and optionally category, "
                                                     "device, wave (instead of 'participants')")


# the race and its course


class Checkpoint(Answer):
    """A checkpoint: where along the course a split is taken."""

    name: str
    distance_m: float = Field(description="distance from the start")


class CourseFacts(Answer):
    """The course's name and length."""

    name: str = Field(description="the course's name (the race's title)")
    length_m: float


class StorageUse(Answer):
    """A race's raw-storage budget and what its stored pings use of it."""

    budget_bytes: int = Field(description="what the race's stored pings may use; past it a write is a 507")
    used_bytes: int


class RaceFacts(Answer):
    """What anyone may know of a race."""

    name: str = Field(description="the race's name in the API's paths")
    title: str
    sport: str = Field(description="e.g. 'running', 'cycling': sets the plausible speeds")
    start: str = Field(description="the gun time (ISO 8601)")
    waves: dict[str, str] = Field(description="wave name → its start time (ISO 8601); empty: one gun for all")
    simulated: bool = Field(description="generated runners sent through the real ingest, not real people")
    runners: int = Field(description="participants")
    course: CourseFacts
    checkpoints: list[Checkpoint] = Field(description="along the course, the finish last")
    categories: list[str] = Field(description="the participants' categories, sorted")
    digest: str = Field(description="hash of everything that shapes the standings; changes when the race is "
                                    "redefined")


class RaceSummary(RaceFacts):
    """A race; an admin also sees its ingest key, duration and raw-storage budget (sent to an admin only)."""

    ingest_key: str | None = Field(None, exclude_if=_none,
                                   description="admin only: what gateways send as X-Ingest-Key to post batches")
    duration_h: float | None = Field(None, exclude_if=_none,
                                     description="admin only: how long the race lasts from its first start")
    storage: StorageUse | None = Field(None, exclude_if=_none, description="admin only")


class CheckpointPoint(Answer):
    """A checkpoint on the map."""

    name: str
    lat: float
    lon: float


class CourseMap(RaceFacts):
    """A race with its course's points, thinned for a map, and its checkpoints' positions."""

    lat: list[float] = Field(description="latitudes of the course's points, start to finish (the finish included)")
    lon: list[float] = Field(description="longitudes, as 'lat'")
    checkpoint_points: list[CheckpointPoint]


# the standings


class RunnerLine(Answer):
    """One runner's line on the leaderboard (times in seconds since the runner's own start)."""

    bib: str
    name: str
    category: str
    rank: int | None = Field(description="overall rank; null before the start and after a DNF")
    category_rank: int | None = Field(description="rank in the category; null when unranked")
    status: RunnerStatus = Field(description="'stale': running, but no ping for the race's stale_after_s")
    distance_m: float = Field(description="distance along the course")
    gap_m: float | None = Field(description="behind the leader of the list (overall or category); null unranked")
    gap_s: float | None = Field(description="time behind the list's leader at the same point (from the leader's "
                                "checkpoint times), never less than the runner above; null unranked")
    pace_s_per_km: float | None = Field(description="current pace (smoothed); null when not moving")
    finish_s: float | None = Field(description="finish time; null until finished")
    predicted_finish_s: float | None = Field(description="predicted (or actual) finish time; null when unknown")
    predicted_finish_at: str | None = Field(description="the predicted finish as a time of day (ISO 8601)")
    last_checkpoint: str | None = Field(description="the last checkpoint passed; null before the first")
    last_seen_age_s: float | None = Field(description="seconds since the last accepted ping; null when never seen")


class Leaderboard(Answer):
    """One page of the leaderboard, overall or in one category, from one published version of the standings."""

    race: str
    category: str | None = Field(description="the category asked for; null: overall")
    version: int = Field(description="the published standings' version")
    total: int = Field(description="runners in the list (overall or the category), ranked or not")
    ranked: int = Field(description="runners of the list with a rank (started, not DNF)")
    offset: int = Field(description="the first row's index in the list")
    simulated: bool = Field(description="a simulated race: not real people")
    clock: str | None = Field(description="the race time the standings are as of (ISO 8601); null before any ping")
    rows: list[RunnerLine]


class Entrant(Answer):
    """A runner found before any standings are published: who they are, nothing else yet."""

    bib: str
    name: str
    status: Literal["not_started"]


class SearchHits(Answer):
    """Runners matching a bib (exactly) or a name (typos forgiven), best first."""

    query: str = Field(description="the query, stripped")
    rows: list[RunnerLine | Entrant] = Field(description="leaderboard lines; Entrants before any standings exist")


class Split(Answer):
    """A runner's time at one checkpoint."""

    checkpoint: str
    distance_m: float = Field(description="the checkpoint's distance from the start")
    time_s: float | None = Field(description="since the runner's start; null until passed")
    at: str | None = Field(description="when it was passed (ISO 8601); null until passed")


class Position(Answer):
    """A runner's last accepted position: as received and matched onto the course."""

    lat: float = Field(description="the position as received")
    lon: float
    course_lat: float = Field(description="the point of the course the runner is matched to")
    course_lon: float
    at: str | None = Field(description="when the position was taken (ISO 8601)")


class TrackPoint(Answer):
    """A point of a runner's recent track: a matched position on the course (the processor's trail)."""

    t: str = Field(description="when (ISO 8601)")
    lat: float
    lon: float


class RunnerDetail(RunnerLine):
    """One runner: their leaderboard line, splits, last position and recent track."""

    start: str = Field(description="the runner's start (their wave's, or the gun) (ISO 8601)")
    splits: list[Split] = Field(description="one per checkpoint, in course order")
    position: Position | None = Field(description="null before the first accepted ping")
    device: str = Field(description="the tracker's id")
    course_length_m: float
    track: list[TrackPoint] | None = Field(
        None, exclude_if=_none, description="the last positions on the course, about 20 s apart, oldest first; "
                                            "sent unless asked with track=false")


class ProgressPoint(Answer):
    """A leader's distance at one time."""

    t: str = Field(description="race time (ISO 8601)")
    distance_m: float


class LeaderSeries(Answer):
    """One of today's leaders and their distance over time."""

    bib: str
    name: str
    points: list[ProgressPoint] = Field(description="oldest first; the last is as of the published standings")


class LeadersProgress(Answer):
    """Today's leaders' distance over time, the leader first."""

    race: str
    series: list[LeaderSeries]


class StatusCounts(Answer):
    """How many runners are in each status."""

    not_started: int
    running: int = Field(description="running and seen recently (the stale are not counted here)")
    finished: int
    dnf: int
    stale: int = Field(description="running, but no ping for the race's stale_after_s")


class Edition(Answer):
    """A simulated race runs as editions back to back: this one's gun and end, and the next one's gun (wall-clock
    times; the race's own clock runs ``speedup`` times faster)."""

    gun: str = Field(description="when this edition's gun fires (ISO 8601)")
    ends: str = Field(description="when this edition ends and its standings are wiped (ISO 8601)")
    next_gun: str = Field(description="when the next edition's gun is planned (ISO 8601)")
    gun_in_s: float = Field(description="seconds until the gun; negative once it fired")
    ends_in_s: float = Field(description="seconds until this edition ends")
    ending: bool = Field(description="the end is near (the page says so, with the next gun)")
    speedup: float = Field(description="race seconds per wall second")


class LiveStats(Answer):
    """The live processing of a race: rates, lag, pings accepted and rejected by reason, runners by status."""

    race: str
    simulated: bool
    version: int = Field(description="the published standings' version")
    clock: str | None = Field(description="the race time the standings are as of (ISO 8601); null before any ping")
    published_at: str = Field(description="when the standings were published (ISO 8601)")
    published_age_s: float = Field(description="seconds since then")
    pings_per_s: float | None = Field(description="pings processed per second, over the last 10 s")
    lag_p99_s: float | None = Field(description="99th percentile of reception to processing; null before any")
    accepted: int = Field(description="pings that moved a runner on")
    rejected: dict[str, int] = Field(description="pings rejected, by reason: by the processor ('impossible', 'late', "
                                                 "'duplicate', 'teleport', 'off_course', …) or counted at the edge "
                                                 "and not stored ('unknown_device', 'rate_limited', 'over_budget')")
    ignored: dict[str, int] = Field(description="good pings that carry no progress, by reason ('before_start', "
                                                "'after_finish', 'after_dnf')")
    runners: int = Field(description="participants")
    status: StatusCounts
    edition: Edition | None = Field(description="the demo race's schedule (editions back to back); null for any "
                                    "other race")


# what an admin or a tracker posts


class DnfMark(Answer):
    """A runner's DNF mark, sent to the processor."""

    race: str
    bib: str
    dnf: bool = Field(description="true: did not finish; false: the mark is lifted")
    note: str


class BatchReceipt(Answer):
    """What the edge made of a batch of pings."""

    stored: int = Field(description="pings stored in the raw log (the processor judges them again)")
    accepted: int = Field(description="pings the edge's checks found plausible")
    rejected: dict[str, int] = Field(description="pings refused, by reason ('unknown_device', 'rate_limited', "
                                                 "'impossible', …)")
