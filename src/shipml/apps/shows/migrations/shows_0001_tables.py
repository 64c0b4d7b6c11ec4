"""shows: the show catalog and the ratings store

Revision ID: shows_0001
Revises:
Depends on: 0001 (the core's first revision)
"""

import sqlalchemy as sa
from alembic import op

revision = "shows_0001"
down_revision = None
branch_labels = ("shows",)
depends_on = "0001"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("norm_title", sa.Text, nullable=False),
        sa.Column("year", sa.Integer),
        sa.Column("genres", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("poster_url", sa.Text),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128)),
        sa.Column("enriched_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("source", "external_id", name="uq_shows_source_external_id"),
    )
    op.create_index("ix_shows_norm_title", "shows", ["norm_title"])
    op.create_table(
        "show_ratings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("show_id", sa.Integer, sa.ForeignKey("shows.id"), nullable=False),
        sa.Column("rating", sa.Float),
        sa.Column("liked", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_show_ratings_user_id", "show_ratings", ["user_id"])
    op.create_index("ix_show_ratings_show_id", "show_ratings", ["show_id"])


def downgrade() -> None:
    op.drop_table("show_ratings")
    op.drop_table("shows")
