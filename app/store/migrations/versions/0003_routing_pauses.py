"""The purity monitor's pauses of auto-judging (issue #17).

Revision ID: 0003_routing_pauses
Revises: 0002_queue_index
Create Date: 2026-12-01 00:00:00

One row per pause of a leaf's (or a batch's) auto-judging, for one model version's calibration;
``ended_at`` is NULL while it is in force. Nothing else changes: a store opened by an older app version
simply has no pauses.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_routing_pauses"
down_revision: str | Sequence[str] | None = "0002_queue_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routing_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("calibration", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"], ["model_versions.id"],
            name=op.f("fk_routing_pauses_model_version_id_model_versions"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_pauses")),
    )
    op.create_index("ix_routing_pauses_model_version_id_ended_at", "routing_pauses",
                    ["model_version_id", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_routing_pauses_model_version_id_ended_at", table_name="routing_pauses")
    op.drop_table("routing_pauses")
