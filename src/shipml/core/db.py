"""SQLAlchemy engine and sessions; Alembic migrations, applied on start, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from shipml.core.outages import DATABASE, outages
from shipml.settings import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"
APPS = Path(__file__).parents[1] / "apps"


def version_locations() -> list[Path]:
    """The core's migrations, then each app's own (``apps/<app>/migrations``, a branch of its own that
    depends on the core's first revision). Found by folder, so the core imports no app."""
    return [MIGRATIONS / "versions", *sorted(p for p in APPS.glob("*/migrations") if p.is_dir())]


@cache
def engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(eng, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    else:
        eng = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    event.listen(eng, "engine_connect", _connected)
    return eng


def _connected(*_: object) -> None:
    """A connection was checked out (pinged first): the database answers, so an outage logged is over."""
    outages.up(DATABASE)


def get_engine() -> Engine:
    return engine_for(get_settings().db_url)


@cache
def _sessionmaker(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


@contextmanager
def session() -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    with _sessionmaker(get_settings().db_url)() as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")  # locations split on os.pathsep, so a path may hold a space
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in version_locations()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str | None = None) -> None:
    """Bring the database up to the newest schema (idempotent)."""
    command.upgrade(alembic_config(url or get_settings().db_url), "heads")
