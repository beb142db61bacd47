"""Predictions that used an FTIR spectrum (issue #20): how many spectra the model fused into each prediction.

Revision ID: 0009_prediction_spectra
Revises: 0008_spectra
Create Date: 2026-12-02 00:00:00

``predictions.spectra`` counts the spectra a bundle's spectrum head fused into the prediction (0: the image alone,
as every prediction stored before this revision). The app says so beside the predicted type. A store opened by an
older app version ignores the column (its default fills it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_prediction_spectra"
down_revision: str | Sequence[str] | None = "0008_spectra"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("spectra", sa.SmallInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("spectra")
