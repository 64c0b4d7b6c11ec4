"""Versioned dataset snapshots: Parquet files plus a row per version (hash, rows, schema, source, time).

Storing content identical to the latest version is a no-op. Every refresh attempt, stored or not, is
recorded with its outcome, so a rejected refresh is visible while the last good version keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shipml.core import db, files, sources
from shipml.core.errors import Conflict, NotFound, RejectedData, ShipmlError, SourceOffline
from shipml.core.tables import DatasetVersion, Refresh, utcnow
from shipml.settings import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    name: str
    version: int
    content_hash: str
    rows: int
    columns: dict[str, str]
    source: str
    synthetic: bool
    created_at: datetime
    path: Path

    def read(self) -> pl.DataFrame:
        return pl.read_parquet(self.path)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "rows": self.rows,
            "source": sources.public_source(self.source),  # no server path in a public answer
            "synthetic": self.synthetic,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class SaveResult:
    snapshot: Snapshot
    created: bool


@dataclass(frozen=True)
class Incoming:
    """What a refresh read: the frame to store, where it really came from (a resolved path or URL), and whether it
    is synthetic (labelled as such wherever it is shown); ``details`` (counts read, rejected rows by reason) join the
    refresh's answer."""

    frame: pl.DataFrame
    source: str
    synthetic: bool = False
    details: Mapping[str, object] = field(default_factory=dict)


RefreshStatus = Literal["stored", "unchanged"]


@dataclass(frozen=True)
class Refreshed:
    """The outcome of :func:`refresh`: per dataset, the snapshot now served and whether it is new."""

    snapshots: Mapping[str, Snapshot]
    created: Mapping[str, bool]
    details: Mapping[str, object] = field(default_factory=dict)

    @property
    def status(self) -> RefreshStatus:
        """``stored`` when any dataset got a new version, else ``unchanged``."""
        return "stored" if any(self.created.values()) else "unchanged"

    @property
    def snapshot(self) -> Snapshot:
        """The first (for most apps the only) dataset's snapshot."""
        return next(iter(self.snapshots.values()))

    def describe(self) -> dict[str, object]:
        """The job record's answer: the status, the first dataset's description and what the reader reported."""
        return {"status": self.status, **self.snapshot.describe(), **self.details}


Reader = Callable[[], "Incoming | Mapping[str, Incoming]"]


def refresh(names: str | tuple[str, ...], source: str, read: Reader) -> Refreshed:
    """The one refresh path of every app: read (fetch, parse, validate), store each dataset unless unchanged, and
    record the attempt, stored, unchanged, rejected or failed, so a bad refresh is visible while the last good version
    keeps serving.

    ``read`` returns one :class:`Incoming` (for one dataset name) or one per name. A :class:`RejectedData` it raises
    is recorded as ``rejected``, a :class:`SourceOffline` (no network) as ``offline``, any other error as ``failed`` (an
    unexpected one by its type only: the record is public), and raised again. Nothing is stored unless every dataset
    was read."""
    group = (names,) if isinstance(names, str) else names
    try:
        incoming = read()
    except ShipmlError as exc:
        status = ("rejected" if isinstance(exc, RejectedData) else
                  "offline" if isinstance(exc, SourceOffline) else "failed")
        for name in group:
            record_refresh(name, source=source, status=status, reason=exc.message)
        raise
    except Exception as exc:
        for name in group:
            record_refresh(name, source=source, status="failed", reason=f"unexpected error ({type(exc).__name__})")
        raise
    per_name = {group[0]: incoming} if isinstance(incoming, Incoming) else dict(incoming)
    if set(per_name) != set(group):
        raise ValueError(f"refresh of {group} read {tuple(per_name)}")
    snapshots: dict[str, Snapshot] = {}
    created: dict[str, bool] = {}
    details: dict[str, object] = {}
    for name in group:
        item = per_name[name]
        saved = save(name, item.frame, source=item.source, synthetic=item.synthetic)
        record_refresh(name, source=item.source, status="stored" if saved.created else "unchanged",
                       snapshot=saved.snapshot)
        snapshots[name], created[name] = saved.snapshot, saved.created
        details.update(item.details)
    return Refreshed(snapshots, created, details)


def content_hash(frame: pl.DataFrame) -> str:
    """A hash of the schema and every value, in row order; equal frames give equal hashes however they
    are chunked. (Polars' row hash may change across polars releases: an upgrade can then store one
    extra, identical version — harmless.)"""
    h = hashlib.sha256(repr([(c, str(t)) for c, t in frame.schema.items()]).encode())
    if frame.height:
        h.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return h.hexdigest()


def _snapshot(row: DatasetVersion) -> Snapshot:
    return Snapshot(
        name=row.name,
        version=row.version,
        content_hash=row.content_hash,
        rows=row.rows,
        columns=row.columns,
        source=row.source,
        synthetic=row.synthetic,
        created_at=row.created_at,
        path=Path(row.path),
    )


def save(name: str, frame: pl.DataFrame, *, source: str, synthetic: bool = False) -> SaveResult:
    """Store ``frame`` as the next version of ``name`` unless it equals the latest version.

    Concurrent writers are safe: the database's unique (name, version) decides who gets a number, and the loser
    tries again on top of the winner (becoming "unchanged" when the winner stored the same content)."""
    digest = content_hash(frame)
    for attempt in range(8):
        try:
            return _save_once(name, frame, digest, source=source, synthetic=synthetic)
        except IntegrityError:
            log.info("dataset %s: version taken by a concurrent writer; retrying (%d)", name, attempt + 1)
            time.sleep(0.05 * (attempt + 1))
    raise Conflict(f"dataset '{name}': could not allocate a version under concurrent writes; try again")


def _save_once(name: str, frame: pl.DataFrame, digest: str, *, source: str, synthetic: bool) -> SaveResult:
    with db.session() as s:
        latest = s.scalars(
            select(DatasetVersion).where(DatasetVersion.name == name).order_by(DatasetVersion.version.desc())
        ).first()
        if latest is not None and latest.content_hash == digest and Path(latest.path).exists():
            return SaveResult(_snapshot(latest), created=False)
        folder = get_settings().datasets_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{digest[:16]}.parquet"
        if not path.exists():
            with files.atomic_path(path) as tmp:  # a writer of the same content has its own temporary file
                frame.write_parquet(tmp)
        row = DatasetVersion(
            name=name,
            version=(latest.version + 1) if latest else 1,
            content_hash=digest,
            rows=frame.height,
            columns={c: str(t) for c, t in frame.schema.items()},
            source=source,
            synthetic=synthetic,
            path=str(path),
            created_at=utcnow(),
        )
        s.add(row)
        s.flush()
        return SaveResult(_snapshot(row), created=True)


def latest(name: str) -> Snapshot | None:
    with db.session() as s:
        row = s.scalars(
            select(DatasetVersion).where(DatasetVersion.name == name).order_by(DatasetVersion.version.desc())
        ).first()
        return _snapshot(row) if row else None


def require_latest(name: str) -> Snapshot:
    snap = latest(name)
    if snap is None:
        raise NotFound(f"dataset '{name}' has no version yet; run `shipml ingest` for its app")
    return snap


def history(name: str, limit: int = 50) -> list[Snapshot]:
    with db.session() as s:
        rows = s.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.name == name)
            .order_by(DatasetVersion.version.desc())
            .limit(limit)
        ).all()
        return [_snapshot(r) for r in rows]


def version_count(name: str) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).where(DatasetVersion.name == name)) or 0


def record_refresh(
    dataset: str,
    *,
    source: str,
    status: str,
    reason: str | None = None,
    snapshot: Snapshot | None = None,
) -> None:
    """Record one refresh attempt: ``stored``, ``unchanged``, ``rejected``, ``offline`` or ``failed``."""
    with db.session() as s:
        s.add(
            Refresh(
                dataset=dataset,
                source=source,
                status=status,
                reason=reason,
                version=snapshot.version if snapshot else None,
                rows=snapshot.rows if snapshot else None,
                at=utcnow(),
            )
        )


def refreshes(dataset: str, limit: int = 50, offset: int = 0) -> list[dict[str, object]]:
    with db.session() as s:
        rows = s.scalars(
            select(Refresh)
            .where(Refresh.dataset == dataset)
            .order_by(Refresh.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        return [
            {
                "at": r.at.isoformat(),
                "source": sources.public_source(r.source),
                "status": r.status,
                "reason": sources.scrub_paths(r.reason),
                "version": r.version,
                "rows": r.rows,
            }
            for r in rows
        ]


def freshness(name: str) -> dict[str, object] | None:
    """The latest version of ``name`` with its last refresh attempt (for /api/health and the home page)."""
    snap = latest(name)
    if snap is None:
        return None
    last = refreshes(name, limit=1)
    return {**snap.describe(), "last_refresh": last[0] if last else None}
