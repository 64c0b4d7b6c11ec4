"""The ratings store: likes from recommendation requests, feedback on recommendations, imported history;
exported as the versioned dataset ``shows.ratings`` that training reads.

The export reads every rating up to the largest id present when it starts, in one query, so ratings
posted while it runs are never half-included: each is either in this export (it committed before) or
in the next one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl
from sqlalchemy import exists, func, insert, select

from shipml.apps.shows import DATASET  # the app's declaration names it
from shipml.apps.shows.tables import Show, ShowRating
from shipml.core import datasets, db, signing
from shipml.core.errors import InvalidInput, NotFound, RejectedData
from shipml.core.tables import utcnow

MAX_LIKES = 5
LIKED_AT = 8.0  # an imported 1-10 rating counts as a like from here (MyAnimeList ratings peak at 8)
EXPORT_SCHEMA = {"user": pl.Utf8, "item": pl.Int64, "rating": pl.Float64, "liked": pl.Boolean}


def _check_shows(ids: Iterable[int]) -> None:
    wanted = set(ids)
    with db.session() as s:
        known = set(s.scalars(select(Show.id).where(Show.id.in_(wanted))))
    if wanted - known:
        raise NotFound(f"no show with id {', '.join(map(str, sorted(wanted - known)))}")


USER_ID = "user id"  # what the signature is for


def new_user_id() -> str:
    """A fresh anonymous user id, signed by this server: feedback is accepted only for ids it issued."""
    return signing.issue(USER_ID, prefix="anon-")


def record_request_likes(show_ids: list[int], user_id: str | None = None) -> str:
    """Store the shows of one recommendation request as likes of an anonymous user (a new one unless given);
    returns its id."""
    outcome = record_many_request_likes([(show_ids, user_id)])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def record_many_request_likes(requests: list[tuple[list[int], str | None]]) -> list[str | Exception]:
    """:func:`record_request_likes` for many requests in one write: per request its user id, or the error that
    refused it (its likes are not stored; the others are)."""
    checked: list[tuple[list[int], str] | Exception] = []
    for show_ids, user_id in requests:
        ids = list(dict.fromkeys(int(i) for i in show_ids))
        try:
            if not 1 <= len(ids) <= MAX_LIKES:
                raise InvalidInput(f"give 1 to {MAX_LIKES} different shows (got {len(ids)})")
            checked.append((ids, signing.verify(USER_ID, user_id) if user_id else new_user_id()))
        except InvalidInput as exc:
            checked.append(exc)
    wanted = {i for c in checked if not isinstance(c, Exception) for i in c[0]}
    with db.session() as s:
        known = set(s.scalars(select(Show.id).where(Show.id.in_(wanted)))) if wanted else set()
        now = utcnow()
        rows: list[dict[str, Any]] = []
        out: list[str | Exception] = []
        for c in checked:
            if not isinstance(c, Exception) and set(c[0]) - known:
                c = NotFound(f"no show with id {', '.join(map(str, sorted(set(c[0]) - known)))}")
            if isinstance(c, Exception):
                out.append(c)
                continue
            ids, user = c
            rows += [{"user_id": user, "show_id": i, "rating": None, "liked": True, "source": "request",
                      "created_at": now} for i in ids]
            out.append(user)
        if rows:
            s.execute(insert(ShowRating), rows)
    return out


def record_feedback(user_id: str, show_id: int, liked: bool) -> None:
    """Store a user's thumbs up or down on a show (the latest answer per show wins in the export)."""
    user_id = signing.verify(USER_ID, user_id.strip())
    _check_shows([show_id])
    with db.session() as s:
        s.add(
            ShowRating(user_id=user_id, show_id=int(show_id), rating=None, liked=bool(liked), source="feedback",
                       created_at=utcnow())
        )


def import_ratings(frame: pl.DataFrame) -> int:
    """Bulk-insert historical ratings (source "import"); returns how many were new.

    ``frame`` has the columns user (str), item (show id) and rating, optionally liked (else rating >=
    ``LIKED_AT``). A (user, item) pair already imported is skipped, so importing twice adds nothing.
    """
    missing = {"user", "item", "rating"} - set(frame.columns)
    if missing:
        raise InvalidInput(f"ratings frame lacks columns {sorted(missing)}")
    liked = pl.col("liked").cast(pl.Boolean) if "liked" in frame.columns else pl.col("rating") >= LIKED_AT
    frame = (
        frame.select(
            pl.col("user").cast(pl.Utf8).alias("user_id"),
            pl.col("item").cast(pl.Int64).alias("show_id"),
            pl.col("rating").cast(pl.Float64),
            liked.fill_null(False).alias("liked"),
        )
        .drop_nulls(["user_id", "show_id"])
        .unique(["user_id", "show_id"], keep="last", maintain_order=True)
    )
    _check_shows(frame["show_id"].unique().to_list())
    with db.session() as s:
        stored = s.execute(select(ShowRating.user_id, ShowRating.show_id).where(ShowRating.source == "import")).all()
    if stored:
        known = pl.DataFrame(stored, schema={"user_id": pl.Utf8, "show_id": pl.Int64}, orient="row")
        frame = frame.join(known, on=["user_id", "show_id"], how="anti")
    if frame.is_empty():
        return 0
    _append(frame.with_columns(pl.lit("import").alias("source")))
    return frame.height


def _append(frame: pl.DataFrame) -> None:
    """Append rating rows (user_id, show_id, rating, liked, source) in bulk, in one transaction: COPY on
    PostgreSQL (an executemany there costs ~30 s for the anime ratings), executemany elsewhere."""
    now, columns = utcnow(), ("user_id", "show_id", "rating", "liked", "source")
    frame = frame.select(columns)
    with db.session() as s:
        conn = s.connection()
        if conn.dialect.name == "postgresql":
            raw: Any = conn.connection.driver_connection  # psycopg 3, inside the session's transaction
            body = frame.with_columns(pl.lit(now.isoformat()).alias("created_at")).write_csv(include_header=False)
            with raw.cursor() as cursor, cursor.copy(
                f"COPY show_ratings ({', '.join(columns)}, created_at) FROM STDIN WITH (FORMAT csv)"
            ) as copy:
                copy.write(body.encode())
            return
        for start in range(0, frame.height, 20_000):
            chunk = frame.slice(start, 20_000).to_dicts()
            conn.execute(insert(ShowRating.metadata.tables["show_ratings"]), [{**r, "created_at": now} for r in chunk])


def read_all() -> tuple[int, pl.DataFrame]:
    """The largest rating id at the start, and every rating up to it (one row per user and show, the
    latest wins), ordered by user and item so equal content gives an equal snapshot."""
    with db.session() as s:
        max_id = s.scalar(select(func.max(ShowRating.id))) or 0
        rows = s.execute(
            select(ShowRating.user_id, ShowRating.show_id, ShowRating.rating, ShowRating.liked)
            .where(ShowRating.id <= max_id)
            .order_by(ShowRating.id)
        ).all()
    frame = pl.DataFrame(rows, schema=EXPORT_SCHEMA, orient="row")
    frame = frame.unique(["user", "item"], keep="last", maintain_order=True).sort(["user", "item"])
    return max_id, frame


def _synthetic() -> bool:
    with db.session() as s:
        return bool(s.scalar(select(exists().where(Show.source == "synthetic"))))


def export(source: str = "ratings store") -> datasets.Snapshot:
    """Store all ratings as the next version of ``shows.ratings`` (unless unchanged) and record the refresh.

    Columns: user, item (show id), rating (null for likes without a score), liked. An empty store is
    rejected (recorded, nothing stored) so training never sees an empty dataset.
    """
    return datasets.refresh(DATASET, source, lambda: exported(source)).snapshot


def exported(source: str) -> datasets.Incoming:
    """Every rating in the store, as the next dataset version would hold it (a :func:`datasets.refresh` reader)."""
    max_id, frame = read_all()
    if frame.is_empty():
        raise RejectedData("no ratings to export; ingest a source or post some likes first")
    return datasets.Incoming(frame, f"{source} (ratings up to id {max_id})", _synthetic())


def count() -> int:
    """How many ratings the store holds."""
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ShowRating)) or 0
