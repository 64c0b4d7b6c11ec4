"""The shows app's relational tables: the show catalog and the ratings store.

Created by the app's own Alembic branch (``migrations/shows_0001_tables.py``); keep the two in step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shipml.core.tables import Base, UTCDateTime, utcnow

SHOW_SOURCES = ("anime_caserec", "netflix", "tvmaze", "synthetic", "user")
RATING_SOURCES = ("request", "feedback", "import")


class Show(Base):
    """One TV show of the catalog. ``verified`` is false for a title a user typed that no source knew."""

    __tablename__ = "shows"
    __table_args__ = (UniqueConstraint("source", "external_id", name="uq_shows_source_external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    norm_title: Mapped[str] = mapped_column(Text, index=True)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    genres: Mapped[str | None] = mapped_column(Text, nullable=True)  # comma-joined, no spaces around commas
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    poster_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    enriched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShowRating(Base):
    """One rating or like of a show by a user (anonymous request users, feedback, or imported history)."""

    __tablename__ = "show_ratings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    show_id: Mapped[int] = mapped_column(Integer, ForeignKey("shows.id"), index=True)
    rating: Mapped[float | None] = mapped_column(Float, nullable=True)
    liked: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
