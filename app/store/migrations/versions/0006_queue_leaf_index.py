"""The re-judge queue sorted by type reads one defect type at a time (issue #19).

Revision ID: 0006_queue_leaf_index
Revises: 0005_claims
Create Date: 2026-12-01 00:00:00

An index on (model version, route, leaf, confidence, image id): the queue sorted by type asks for each type in the
order of its shown name, in turn, least sure first, and stops once the page is full (a ``UNION ALL`` of one part
per type), instead of sorting every queued row by a rank of its type. At 200 000 images with 150 leaves the first
page sorted by type took 0.31 s (a rank over 79 000 queued rows) and takes 0.145 s (``python -m bench tree``).
Nothing else needs it: a store opened by an older app version ignores it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_queue_leaf_index"
down_revision: str | Sequence[str] | None = "0005_claims"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["model_version_id", "route", "leaf", "confidence", "image_id"]


def upgrade() -> None:
    op.create_index("ix_predictions_queue_leaf", "predictions", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_predictions_queue_leaf", table_name="predictions")
