"""Claims (issue #19): which analyst is on which image, until when, so a team on one database gets different
images.

Revision ID: 0005_claims
Revises: 0004_prediction_determined
Create Date: 2026-12-01 00:00:00

One row per claimed image (the image's id is the key): the analyst, the batch they took it in, and when the claim
lapses (a lease: a workstation that stops renewing it, because it crashed or its analyst went home, frees the
image by itself). Nothing else reads claims: a store opened by an older app version judges as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_claims"
down_revision: str | Sequence[str] | None = "0004_prediction_determined"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("analyst", sa.String(length=128), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_claims_image_id_images"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"], name=op.f("fk_claims_batch_id_batches"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("image_id", name=op.f("pk_claims")),
    )
    op.create_index("ix_claims_analyst", "claims", ["analyst"])


def downgrade() -> None:
    op.drop_index("ix_claims_analyst", table_name="claims")
    op.drop_table("claims")
