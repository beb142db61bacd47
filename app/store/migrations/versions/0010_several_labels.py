"""Images with more than one defect (issue #20): a judgment's further leaves, and a multi-label prediction's set.

Revision ID: 0010_several_labels
Revises: 0009_prediction_spectra
Create Date: 2026-12-02 00:00:00

``judgments.extra_leaves`` holds the leaves an analyst judged beside ``leaf`` (a particle on a scratch: leaf
``particle_metal``, extra ``["scratch"]``); ``predictions.labels`` a multi-label bundle's predicted set (its first
is ``leaf``). Both are NULL for one defect, as every row stored before this revision. A store opened by an older app
version ignores them: it sees each image's first leaf.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_several_labels"
down_revision: str | Sequence[str] | None = "0009_prediction_spectra"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("judgments") as batch:
        batch.add_column(sa.Column("extra_leaves", sa.JSON(), nullable=True))
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("labels", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("labels")
    with op.batch_alter_table("judgments") as batch:
        batch.drop_column("extra_leaves")
