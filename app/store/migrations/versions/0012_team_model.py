"""The team's model: the bundle every analyst's window loads when started without ``--model``.

Revision ID: 0012_team_model
Revises: 0011_decided_by
Create Date: 2026-12-06 00:00:00

One row per deployment (``fma-judge deploy``), the newest in force; an empty ``bundle_path`` clears it. A team on one
database switched to a new model only by each analyst's ``--model`` or Ctrl+M, so two windows on one batch routed it
by two models (team lead walk-through). A store opened by an older app version ignores the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_team_model"
down_revision: str | Sequence[str] | None = "0011_decided_by"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "team_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("bundle_path", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(length=128), nullable=True),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("team_models")
