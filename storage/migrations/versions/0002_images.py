"""images: imported photos and their analysis

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import JSONType, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("original_image_id", sa.String(1024), nullable=False),
        sa.Column("image_type", sa.String(100), nullable=False),
        sa.Column("data_source", sa.String(255)),
        sa.Column("source", sa.Text()),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("uploaded_at", sa.String(64)),
        sa.Column("derivative_created_at", sa.String(64)),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("byte_size", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("aspect", sa.Float(), nullable=False),
        sa.Column("captured_at", UTCDateTime()),
        sa.Column("capture_offset_minutes", sa.Integer()),
        sa.Column("capture_time_local", sa.String(32)),
        sa.Column("gps_lat", sa.Float()),
        sa.Column("gps_lon", sa.Float()),
        sa.Column("gps_alt", sa.Float()),
        sa.Column("camera_make", sa.String(255)),
        sa.Column("camera_model", sa.String(255)),
        sa.Column("orientation", sa.Integer(), nullable=False),
        sa.Column("phash", sa.BigInteger(), nullable=False),
        sa.Column("dhash", sa.BigInteger(), nullable=False),
        sa.Column("phash_mirror", sa.BigInteger(), nullable=False),
        sa.Column("dhash_mirror", sa.BigInteger(), nullable=False),
        sa.Column("descriptor", sa.LargeBinary(), nullable=False),
        sa.Column("descriptor_version", sa.Integer(), nullable=False),
        sa.Column("sharpness", sa.Float(), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=False),
        sa.Column("quality", JSONType, nullable=False),
        sa.Column("face_count", sa.Integer(), nullable=False),
        sa.Column("faces", JSONType, nullable=False),
        sa.Column("colors", JSONType, nullable=False),
        sa.Column("thumbnail_key", sa.String(255)),
        sa.Column("thumbnail_width", sa.Integer()),
        sa.Column("thumbnail_height", sa.Integer()),
        sa.Column("analysis_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("user_id", "original_image_id", name="uq_images_user_original"),
    )
    op.create_index("ix_images_user_captured", "images", ["user_id", "captured_at"])
    op.create_index("ix_images_user_created", "images", ["user_id", "created_at"])
    op.create_index("ix_images_user_sha256", "images", ["user_id", "sha256"])


def downgrade() -> None:
    op.drop_table("images")
