"""generations and their predictions (generated images)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import JSONType, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("job_id", sa.Uuid(), sa.ForeignKey("jobs.id", ondelete="SET NULL")),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("negative_prompt", sa.Text()),
        sa.Column("params", JSONType, nullable=False),
        sa.Column("provider", sa.String(50), nullable=False),
        sa.Column("model", sa.String(255)),
        sa.Column("entity_type", sa.String(100)),
        sa.Column("entity_id", sa.String(255)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("error_code", sa.String(50)),
        sa.Column("cache_key", sa.String(64), nullable=False),
        sa.Column("cached_from_id", sa.Uuid(), sa.ForeignKey("generations.id", ondelete="SET NULL")),
        sa.Column("parent_generation_id", sa.Uuid(), sa.ForeignKey("generations.id", ondelete="SET NULL")),
        sa.Column("selected_prediction_id", sa.Uuid()),
        sa.Column("deleted_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime()),
    )
    op.create_index("ix_generations_user_created", "generations", ["user_id", "created_at"])
    op.create_index("ix_generations_entity", "generations", ["user_id", "entity_type", "entity_id"])
    op.create_index("ix_generations_cache", "generations", ["user_id", "cache_key"])
    op.create_index("ix_generations_job", "generations", ["job_id"])
    op.create_table(
        "predictions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("generation_id", sa.Uuid(), sa.ForeignKey("generations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Uuid(), sa.ForeignKey("images.id", ondelete="SET NULL")),
        sa.Column("image_key", sa.String(255)),
        sa.Column("seed", sa.BigInteger()),
        sa.Column("provider_prediction_id", sa.String(255)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("generation_id", "index", name="uq_predictions_generation_index"),
    )
    op.create_index("ix_predictions_image", "predictions", ["image_id"])


def downgrade() -> None:
    op.drop_table("predictions")
    op.drop_table("generations")
