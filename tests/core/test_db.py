from sqlalchemy import inspect

from shipml.core import db


def test_migrations_create_the_tables_and_are_idempotent(platform):
    db.migrate()  # second run on an up-to-date database changes nothing
    tables = set(inspect(db.get_engine()).get_table_names())
    assert {"jobs", "dataset_versions", "refreshes", "alembic_version"} <= tables


def test_timestamps_come_back_as_utc(platform):
    from shipml.core.tables import Job, utcnow

    now = utcnow()
    with db.session() as s:
        s.add(Job(id="t1", app="a", name="n", params={}, status="queued", progress=0.0, attempts=0, created_at=now))
    with db.session() as s:
        got = s.get(Job, "t1")
        assert got is not None and got.created_at.tzinfo is not None
        assert abs((got.created_at - now).total_seconds()) < 1  # timing-ok: a timestamp read back
