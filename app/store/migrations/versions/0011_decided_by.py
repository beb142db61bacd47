"""Who made the decision a judgment row carries, when that is not the row's writer.

Revision ID: 0011_decided_by
Revises: 0010_several_labels
Create Date: 2026-12-05 00:00:00

A note is a new row that carries the image's decision on, and an undo a row that restores an earlier one: the row's
``analyst`` and ``created_at`` are who wrote it and when (the history), while ``decided_by`` / ``decided_at`` keep
the decision attributed to the colleague who made it (the panel's "Judged … by …", the export's analyst and time,
the queue). NULL, as on every row stored before this revision: the row's own writer and time. A store opened by an
older app version ignores them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_decided_by"
down_revision: str | Sequence[str] | None = "0010_several_labels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("judgments") as batch:
        batch.add_column(sa.Column("decided_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("judgments") as batch:
        batch.drop_column("decided_at")
        batch.drop_column("decided_by")
