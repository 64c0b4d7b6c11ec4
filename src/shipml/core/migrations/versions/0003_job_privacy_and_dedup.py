"""jobs: private (submitted by the public: never listed to others) and dedup_key (one identical job waiting)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

QUEUED = sa.text("status = 'queued'")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("jobs", sa.Column("dedup_key", sa.String(64)))
    # at most one waiting job per key: submitters racing each other (threads or API processes) insert one row
    op.create_index("ux_jobs_dedup_key_queued", "jobs", ["dedup_key"], unique=True,
                    sqlite_where=QUEUED, postgresql_where=QUEUED)
    # jobs from before this revision stay listed (without params or results): the platform names no app here

def downgrade() -> None:
    op.drop_index("ux_jobs_dedup_key_queued", "jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("dedup_key")
        batch.drop_column("private")
