"""Initial schema: model versions, batches, images and their paths, predictions, judgments.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01 00:00:00

Written by hand to match ``app/store/schema.py`` exactly (a test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS_CHECK = "status IN ('accepted', 'corrected', 'unknown', 'reverted')"


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("bundle_path", sa.Text(), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=True),
        sa.Column("registered_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_model_versions_version")),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("source_folder", sa.Text(), nullable=False),
        sa.Column("recursive", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index("ix_batches_source_folder", "batches", ["source_folder"])
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("sha256", name=op.f("uq_images_sha256")),
    )
    op.create_table(
        "image_paths",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("first_seen_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_image_paths_image_id_images"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_paths")),
        sa.UniqueConstraint("image_id", "path", name=op.f("uq_image_paths_image_id_path")),
    )
    op.create_index("ix_image_paths_path", "image_paths", ["path"])
    op.create_index("ix_image_paths_image_id_last_seen_at", "image_paths", ["image_id", "last_seen_at"])
    op.create_table(
        "batch_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_batch_images_batch_id_batches"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_batch_images_image_id_images"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_images")),
        sa.UniqueConstraint("batch_id", "image_id", name=op.f("uq_batch_images_batch_id_image_id")),
    )
    op.create_index("ix_batch_images_batch_id_position", "batch_images", ["batch_id", "position"])
    op.create_index("ix_batch_images_image_id", "batch_images", ["image_id"])
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("leaf", sa.String(length=128), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("path_scores", sa.JSON(), nullable=False),
        sa.Column("top5", sa.JSON(), nullable=False),
        sa.Column("level_probs", sa.JSON(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("route", sa.String(length=32), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("unknown_score", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_predictions_image_id_images"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_predictions_model_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint(
            "image_id", "model_version_id", name=op.f("uq_predictions_image_id_model_version_id")
        ),
    )
    op.create_index("ix_predictions_model_version_id_route", "predictions", ["model_version_id", "route"])
    op.create_index("ix_predictions_model_version_id_leaf", "predictions", ["model_version_id", "leaf"])
    op.create_index(
        "ix_predictions_model_version_id_confidence", "predictions", ["model_version_id", "confidence"]
    )
    op.create_table(
        "prediction_reasons",
        sa.Column("prediction_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["predictions.id"],
            name=op.f("fk_prediction_reasons_prediction_id_predictions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("prediction_id", "reason", name=op.f("pk_prediction_reasons")),
    )
    op.create_index("ix_prediction_reasons_reason", "prediction_reasons", ["reason"])
    op.create_table(
        "judgments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("prediction_id", sa.Integer(), nullable=True),
        sa.Column("analyst", sa.String(length=128), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("leaf", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("shown", sa.JSON(), nullable=True),
        sa.Column("model_version", sa.String(length=255), nullable=True),
        sa.Column("reverts_judgment_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(_STATUS_CHECK, name=op.f("ck_judgments_status")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_judgments_batch_id_batches"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_judgments_image_id_images")),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["predictions.id"],
            name=op.f("fk_judgments_prediction_id_predictions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reverts_judgment_id"],
            ["judgments.id"],
            name=op.f("fk_judgments_reverts_judgment_id_judgments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judgments")),
    )
    op.create_index("ix_judgments_image_id_id", "judgments", ["image_id", "id"])
    op.create_index("ix_judgments_batch_id", "judgments", ["batch_id"])
    op.create_index("ix_judgments_prediction_id", "judgments", ["prediction_id"])
    op.create_index("ix_judgments_created_at", "judgments", ["created_at"])
    op.create_index("ix_judgments_analyst", "judgments", ["analyst"])


def downgrade() -> None:
    op.drop_table("judgments")
    op.drop_table("prediction_reasons")
    op.drop_table("predictions")
    op.drop_table("batch_images")
    op.drop_table("image_paths")
    op.drop_table("images")
    op.drop_table("batches")
    op.drop_table("model_versions")
