"""The re-judge queue sorted by determined node reads one (node, type) pair at a time (issue #19).

Revision ID: 0007_queue_determined_index
Revises: 0006_queue_leaf_index
Create Date: 2026-12-02 00:00:00

An index on (model version, route, determined node, leaf, confidence, image id): the queue sorted by determined
node asks for each pair of determined node and type found in the queue, in the order of their shown names, least
sure first, and stops once the page is full, instead of ranking every queued row by two columns and sorting them
all. The pairs themselves are one pass over this index. Nothing else needs it: a store opened by an older app
version ignores it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_queue_determined_index"
down_revision: str | Sequence[str] | None = "0006_queue_leaf_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["model_version_id", "route", "determined", "leaf", "confidence", "image_id"]


def upgrade() -> None:
    op.create_index("ix_predictions_queue_determined", "predictions", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_predictions_queue_determined", table_name="predictions")
