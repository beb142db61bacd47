"""FTIR spectra beside the images (issue #20): a spectrum by its content hash, and which images it belongs to.

Revision ID: 0008_spectra
Revises: 0007_queue_determined_index
Create Date: 2026-12-02 00:00:00

``spectra`` keeps each spectrum file once (its sha256 unique), normalised: wavenumbers in cm⁻¹ and absorbance as
float32 bytes; ``image_spectra`` links an image to one or more spectra with the path the file had;
``reference_spectra`` is the imported reference library (a spectrum and its defect type). Nothing else reads them: a store opened by an older app version judges as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_spectra"
down_revision: str | Sequence[str] | None = "0007_queue_determined_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spectra",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("first_cm1", sa.Float(), nullable=False),
        sa.Column("last_cm1", sa.Float(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spectra")),
        sa.UniqueConstraint("sha256", name=op.f("uq_spectra_sha256")),
    )
    op.create_table(
        "image_spectra",
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("spectrum_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_image_spectra_image_id_images"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["spectrum_id"], ["spectra.id"], name=op.f("fk_image_spectra_spectrum_id_spectra"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("image_id", "spectrum_id", name=op.f("pk_image_spectra")),
    )
    op.create_index("ix_image_spectra_spectrum_id", "image_spectra", ["spectrum_id"])
    op.create_table(
        "reference_spectra",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spectrum_id", sa.Integer(), nullable=False),
        sa.Column("leaf", sa.String(length=128), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["spectrum_id"], ["spectra.id"],
                                name=op.f("fk_reference_spectra_spectrum_id_spectra"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_spectra")),
        sa.UniqueConstraint("spectrum_id", "leaf", name=op.f("uq_reference_spectra_spectrum_id_leaf")),
    )


def downgrade() -> None:
    op.drop_table("reference_spectra")
    op.drop_index("ix_image_spectra_spectrum_id", table_name="image_spectra")
    op.drop_table("image_spectra")
    op.drop_table("spectra")
