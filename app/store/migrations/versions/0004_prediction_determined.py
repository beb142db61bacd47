"""Hierarchical routing in the store (issue #17): each prediction's determined node and its calibration; and
which batches are folders (issue #18).

Revision ID: 0004_prediction_determined
Revises: 0003_routing_pauses
Create Date: 2026-12-01 00:00:00

Four nullable columns on ``predictions``: ``determined`` (the deepest node of the predicted path the calibration
determines), ``determined_level`` (its level, 0 = group), ``calibration`` (the ``Calibration.stamp`` the route
was made under) and ``leaf_probs`` (the whole leaf distribution: the app's Top-5 within a determined node). The re-judge queue's covering index gains ``determined`` (its grouping by determined node).

``batches.kind`` tells a folder's batch (``folder``: re-opening the folder resumes it) from one of chosen files
(``files``, recognised in older stores by the note the app gave them): a folder opened after files were chosen from
it no longer resumes the files' batch.

Rows stored before this revision keep NULL: the app takes a prediction whose calibration differs from the loaded
bundle's (these included) as made under an earlier calibration, and predicts its image again, if nobody has
judged it, when its batch is opened. A store opened by an older app version ignores the new columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_prediction_determined"
down_revision: str | Sequence[str] | None = "0003_routing_pauses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_QUEUE = ["model_version_id", "route", "confidence", "leaf", "image_id", "created_at"]


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("determined", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("determined_level", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("calibration", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("leaf_probs", sa.JSON(), nullable=True))
    op.drop_index("ix_predictions_queue", table_name="predictions")
    op.create_index("ix_predictions_queue", "predictions", [*OLD_QUEUE, "determined"])
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), server_default="folder", nullable=False))
    op.execute(sa.text("UPDATE batches SET kind = 'files' WHERE notes = 'opened from chosen files'"))


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("kind")
    op.drop_index("ix_predictions_queue", table_name="predictions")
    op.create_index("ix_predictions_queue", "predictions", OLD_QUEUE)
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("leaf_probs")
        batch.drop_column("calibration")
        batch.drop_column("determined_level")
        batch.drop_column("determined")
