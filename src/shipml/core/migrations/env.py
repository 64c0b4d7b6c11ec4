"""Alembic environment: runs migrations online against the URL given in the config."""

from alembic import context
from sqlalchemy import create_engine, pool

from shipml.core.tables import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "shipml.core.db.alembic_config sets sqlalchemy.url"
connectable = create_engine(url, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
