"""A race: its course, checkpoints, start (one gun time or waves), participants and sport, kept on disk.

Everything of race ``R`` lives in ``$SHIPML_HOME/race/R/``::

    race.json             the definition (below), with a hash of everything that shapes the standings
    course.<gpx|tcx|csv>  the course file as given
    participants.parquet  bib, name, category, device, wave (one row per runner: the runner index)
    raw/<minute>/*.arrow  every ping as received (see :mod:`.rawlog`)
    state.npz             the processor's saved state; live/ the published standings; history.jsonl
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from shipml.core import files
from shipml.core.errors import InvalidInput, NotFound, RejectedData

from .course import Checkpoint, Course
from .pings import DeviceDirectory
from .processor import RaceProcessor
from .rules import SPORTS, RaceRules
from .schemas import RaceIn, RaceTerms
from .settings import races_dir

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
MAX_PARTICIPANTS = 2_000_000


class RaceDefinition(RaceTerms):
    """What defines a race (besides its course file and participants)."""

    name: str = Field(pattern=NAME_PATTERN)
    simulated: bool = False
    clock_speedup: float = Field(1.0, gt=0, le=1000, description="simulations: race seconds per wall second")
    clock_origin: datetime | None = Field(None, description="simulations: when race time equalled wall time")
    course_file: str = "course.gpx"
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    digest: str = ""

    @field_validator("sport")
    @classmethod
    def _known_sport(cls, value: str) -> str:
        if value not in SPORTS:
            raise ValueError(f"unknown sport {value!r}; known: {', '.join(SPORTS)}")
        return value

    @field_validator("start", "clock_origin")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)

    @field_validator("waves")
    @classmethod
    def _aware_waves(cls, value: dict[str, datetime]) -> dict[str, datetime]:
        return {k: v if v.tzinfo else v.replace(tzinfo=UTC) for k, v in value.items()}

    def rules(self) -> RaceRules:
        return RaceRules(sport=SPORTS[self.sport], stale_after_s=self.stale_after_s)


def race_dir(name: str) -> Path:
    return races_dir() / name


def race_names() -> list[str]:
    return sorted(p.parent.name for p in races_dir().glob("*/race.json"))


def read_participants(source: str | Path | bytes | pl.DataFrame) -> pl.DataFrame:
    """Participants from a CSV (path or bytes) or a frame: bib, name, category, optional device and wave."""
    if isinstance(source, pl.DataFrame):
        raw = source
    else:
        try:
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            raw = pl.read_csv(io.BytesIO(data), infer_schema_length=0)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise RejectedData(f"participants: unreadable CSV ({exc})") from exc
    columns = {c.strip().lower(): c for c in raw.columns}
    missing = [c for c in ("bib", "name") if c not in columns]
    if missing:
        raise RejectedData(f"participants: missing column(s) {', '.join(missing)} (has {', '.join(raw.columns)})")

    def column(key: str, default: pl.Expr) -> pl.Expr:
        return (pl.col(columns[key]).cast(pl.String).str.strip_chars() if key in columns else default).alias(key)

    frame = raw.select(column("bib", pl.lit(None)), column("name", pl.lit(None)),
                       column("category", pl.lit("all")), column("device", pl.lit(None)),
                       column("wave", pl.lit(None)))
    frame = frame.with_columns(pl.col("device").fill_null(pl.col("bib")),
                               pl.col("category").fill_null("all").replace("", "all"))
    if frame.height == 0 or frame.height > MAX_PARTICIPANTS:
        raise RejectedData(f"participants: between 1 and {MAX_PARTICIPANTS:,} rows, got {frame.height:,}")
    for key in ("bib", "name", "device"):
        if frame[key].null_count() or (frame[key] == "").any():
            raise RejectedData(f"participants: every row needs a {key}")
        duplicated = frame.filter(pl.col(key).is_duplicated())[key]
        if key != "name" and duplicated.len():
            raise RejectedData(f"participants: {key} {duplicated[0]!r} appears more than once")
    return frame.with_columns(pl.col("wave").cast(pl.String))


DEFINE_LOCK = ".define.lock"  # one writer of a race's definition at a time, and no reader while one writes


def _previous_key(folder: Path) -> str | None:
    try:
        return RaceDefinition.model_validate_json((folder / "race.json").read_bytes()).ingest_key
    except (OSError, ValueError):
        return None


def define(definition: RaceDefinition, course: str | Path | bytes, participants: pl.DataFrame,
           *, course_suffix: str = ".gpx") -> RaceDefinition:
    """Store a race (replacing a previous definition of the same name); the processor restarts it from its pings.

    ``course`` is a file path, or the file's bytes with ``course_suffix`` naming its format. The course is checked
    before anything is replaced; writers of the same race take turns (a file lock, across processes), each writes
    its own temporary files and renames them into place, ``race.json`` last. The race keeps its ingest key unless
    the definition sets one; a new race gets a random one."""
    suffix = (course_suffix if isinstance(course, bytes) else Path(course).suffix).lower()
    if suffix not in (".gpx", ".tcx", ".csv"):
        raise InvalidInput(f"a course is a .gpx, .tcx or .csv file, not {suffix!r}")
    if not isinstance(course, bytes):
        if not Path(course).is_file():
            raise RejectedData(f"{Path(course).name}: no such course file")
        course = Path(course).read_bytes()
    folder = race_dir(definition.name)
    folder.mkdir(parents=True, exist_ok=True)
    checking = folder / f".course.{uuid.uuid4().hex}.checking{suffix}"  # this writer's own
    try:
        checking.write_bytes(course)
        checkpoints = [Checkpoint(c.name, c.distance_m) for c in definition.checkpoints or []]
        Course.from_file(checking, checkpoints=checkpoints or None, checkpoint_every_m=definition.checkpoint_every_m)
    finally:
        checking.unlink(missing_ok=True)
    unknown = set(participants["wave"].drop_nulls().unique().to_list()) - set(definition.waves)
    if unknown:
        raise InvalidInput(f"participants name wave(s) {', '.join(sorted(unknown))} with no start time in 'waves'")
    buffer = io.BytesIO()
    participants.write_parquet(buffer)
    people = buffer.getvalue()
    with files.locked(folder / DEFINE_LOCK):
        key = definition.ingest_key or _previous_key(folder) or secrets.token_urlsafe(24)
        target = folder / f"course{suffix}"
        files.write_bytes(target, course)
        for old in folder.glob("course.*"):
            if old != target:
                old.unlink(missing_ok=True)
        files.write_bytes(folder / "participants.parquet", people)
        digest = hashlib.sha256()
        digest.update(course)
        digest.update(people)
        stored = definition.model_copy(update={"course_file": target.name, "digest": "", "ingest_key": key})
        digest.update(stored.model_dump_json(exclude={"created_at", "digest", "ingest_key"}).encode())
        stored = stored.model_copy(update={"digest": digest.hexdigest()[:16]})
        files.write_bytes(folder / "race.json", stored.model_dump_json(indent=1).encode())
    return stored


class Race:
    """A stored race, loaded: definition, course, participants and how to start a processor for it."""

    def __init__(self, name: str) -> None:
        folder = race_dir(name)
        path = folder / "race.json"
        if not path.is_file():
            known = ", ".join(race_names()) or "none yet"
            raise NotFound(f"no race '{name}'; races: {known}")
        self.folder = folder
        with files.locked(folder / DEFINE_LOCK, shared=True):  # the three files of one definition, not of two
            self.definition = RaceDefinition.model_validate_json(path.read_text())
            d = self.definition
            self.participants = pl.read_parquet(folder / "participants.parquet")
            self.course = Course.from_file(folder / d.course_file, name=d.title or d.name,
                                           checkpoints=[Checkpoint(c.name, c.distance_m) for c in d.checkpoints or []]
                                           or None, checkpoint_every_m=d.checkpoint_every_m)
        self.name = name
        self.category_names = tuple(sorted(self.participants["category"].unique().to_list()))
        # each runner's category as its index in category_names (by polars: a dict lookup per runner took 1.2 s at 1M)
        self.categories = (self.participants["category"].cast(pl.Enum(list(self.category_names))).to_physical()
                           .cast(pl.Int64).to_numpy())
        gun = d.start.timestamp()
        waves = {k: v.timestamp() for k, v in d.waves.items()}
        self.start_t = np.array([waves.get(w, gun) if w else gun for w in self.participants["wave"].to_list()],
                                dtype=np.float64)
        self.devices = DeviceDirectory(self.participants["device"])
        self.bibs = self.participants["bib"].to_list()
        self.bib_index = {b: i for i, b in enumerate(self.bibs)}

    def race_time(self, wall: np.ndarray | float) -> np.ndarray | float:
        """Reception (wall) time to race time: the same, except in a sped-up simulation."""
        d = self.definition
        if d.clock_speedup == 1.0 or d.clock_origin is None:
            return wall
        origin = d.clock_origin.timestamp()
        return origin + d.clock_speedup * (wall - origin)

    @property
    def runners(self) -> int:
        return self.participants.height

    def new_processor(self) -> RaceProcessor:
        return RaceProcessor(self.course, self.runners, start_t=self.start_t, rules=self.definition.rules(),
                             categories=self.categories, category_names=self.category_names)

    def summary(self) -> dict[str, Any]:
        d = self.definition
        return {"name": self.name, "title": d.title or d.name, "sport": d.sport, "start": d.start.isoformat(),
                "waves": {k: v.isoformat() for k, v in d.waves.items()}, "simulated": d.simulated,
                "runners": self.runners, "course": {"name": self.course.name,
                                                   "length_m": round(self.course.length_m, 1)},
                "checkpoints": [{"name": c.name, "distance_m": round(c.distance_m, 1)}
                                for c in self.course.checkpoints],
                "categories": list(self.category_names), "digest": d.digest}


@lru_cache(maxsize=8)
def _load(name: str, stamp: float) -> Race:
    return Race(name)


def load(name: str) -> Race:
    """A stored race, cached until its definition file changes."""
    path = race_dir(name) / "race.json"
    try:
        stamp = path.stat().st_mtime
    except OSError:
        stamp = -1.0
    return _load(name, stamp) if stamp >= 0 else Race(name)


def definition_json(race: Race) -> str:
    return json.dumps(race.summary())


def body_schema() -> dict[str, Any]:
    """The definition's request body (:class:`RaceIn`) as a JSON schema with its ``$defs`` inlined (no references),
    for the API docs: the body is read by hand, after the admin check (as :func:`ingest.batch_schema`)."""
    schema = RaceIn.model_json_schema()
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(dict(defs[node["$ref"].rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    return walk(schema)  # type: ignore[no-any-return]
