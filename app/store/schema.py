"""The store's ORM: model versions, batches, images (by content hash), predictions and judgments.

Design notes (for the queue, similar-case search, dashboard and model switching that build on it):

- An image is its content: ``images.sha256`` is unique; every path it was seen at is an
  ``image_paths`` row, so a moved file keeps its predictions and judgment history.
- ``predictions`` holds one row per (image, model version): switching the active model version never
  overwrites another version's answers. ``route``/``leaf``/``confidence`` are indexed per model version
  for the re-judge queue; each routing reason is also a ``prediction_reasons`` row so that filtering by
  reason is an index lookup rather than a JSON scan. ``embedding`` is little-endian float32 bytes.
- ``judgments`` is append-only. The current judgment of an image is its row with the highest id
  (index ``(image_id, id)``); ``status = 'reverted'`` means "back to pending". ``shown`` keeps the
  prediction exactly as the analyst saw it, ``model_version`` the version string (it survives the
  removal of a model version).
- ``routing_pauses`` is the purity monitor's log (:mod:`app.services.monitor`): auto-judging of a leaf (or a
  batch) paused for a model version's calibration, why, and when and why it ended (``ended_at`` NULL: in force).
- ``spectra`` holds FTIR spectra by the sha256 of their file (normalised: wavenumbers in cm⁻¹ and absorbance,
  float32 bytes in ``data``); ``image_spectra`` links them to images (one image, one or more spectra; the path
  the file had when it was attached); ``reference_spectra`` is the imported reference library (a spectrum and the
  defect type it is of). Migration 0008.
- Times are timezone-aware UTC in Python. PostgreSQL stores ``timestamptz``; SQLite stores naive UTC
  text (see :class:`UTCDateTime`), so both sort and compare the same way.
- Only portable types are used (JSON, DateTime(timezone=True), LargeBinary, BigInteger, Float): the same
  schema runs on SQLite and PostgreSQL. Constraint names follow :data:`NAMING_CONVENTION`.

The Alembic migrations in ``app/store/migrations/versions`` must create exactly this schema; a test
compares them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.store.records import JUDGED_STATUSES  # noqa: F401  (re-exported: the schema's statuses)
from models.imageio import REACH_PREFIX, REACH_REASONS

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STATUSES: tuple[str, ...] = ("accepted", "corrected", "unknown", "reverted")
"""Judgment statuses. ``reverted`` means the image is back to pending (an undo of its first judgment)."""


ACTIONS: tuple[str, ...] = ("accept", "topk", "picker", "unknown", "bulk", "undo", "redo", "import")
"""Known judgment actions (how the decision was made). Not enforced by the schema: new UI actions need no migration."""

STATUS_CHECK_SQL = "status IN ('accepted', 'corrected', 'unknown', 'reverted')"


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """``DateTime(timezone=True)`` that always hands out aware UTC datetimes.

    Naive datetimes are refused on the way in (their zone would be a guess). SQLite has no zone
    support, so values are stored there as naive UTC; PostgreSQL keeps ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} given to the store; pass a timezone-aware one"
            )
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base whose metadata carries the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ModelVersion(Base):
    """A model bundle that produced predictions; ``manifest`` is its whole manifest.json (taxonomy included)."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    bundle_path: Mapped[str | None] = mapped_column(Text)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Batch(Base):
    """A set of images opened together (usually one folder)."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_source_folder", "source_folder"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    source_folder: Mapped[str] = mapped_column(Text)
    recursive: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    notes: Mapped[str | None] = mapped_column(Text)
    # ``folder`` (re-opening the folder resumes it) or ``files`` (chosen or dropped files; resumed as stored).
    # Migration 0004.
    kind: Mapped[str] = mapped_column(String(16), default="folder", server_default="folder")


class Image(Base):
    """One image content, identified by the sha256 of its file bytes."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImagePath(Base):
    """A file path an image was seen at; ``file_size``/``mtime_ns`` let a re-open skip re-hashing."""

    __tablename__ = "image_paths"
    __table_args__ = (
        UniqueConstraint("image_id", "path"),
        Index("ix_image_paths_path", "path"),
        Index("ix_image_paths_image_id_last_seen_at", "image_id", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)


# An image's path, when it was seen at several: the most recently seen; of those seen at the same time, the one it
# was seen at first (its own name: a copy of it written over another file, read in the same chunk of a folder's
# reading, showed the image under the other file's name in the queue, beside that file's own judged image); then
# the newest row. Each chunk of a reading has its own time, and a batch lists a picture two files hold under the
# later name (services.file_facts.same_pictures): the two can still name such a copy differently.
IMAGE_PATH_ORDER = (ImagePath.last_seen_at.desc(), ImagePath.first_seen_at, ImagePath.id.desc())


class BatchImage(Base):
    """Membership of an image in a batch, its position there and the path it was opened from."""

    __tablename__ = "batch_images"
    __table_args__ = (
        UniqueConstraint("batch_id", "image_id"),
        Index("ix_batch_images_batch_id_position", "batch_id", "position"),
        Index("ix_batch_images_image_id", "image_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)


class Prediction(Base):
    """A model version's answer for an image (one row per image and version; re-predicting updates it)."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("image_id", "model_version_id"),
        Index("ix_predictions_model_version_id_route", "model_version_id", "route"),
        Index("ix_predictions_model_version_id_leaf", "model_version_id", "leaf"),
        Index("ix_predictions_model_version_id_confidence", "model_version_id", "confidence"),
        # Covering index of the re-judge queue and the dashboard (migration 0002): they never read the
        # wide rows, whose route/created_at sit after the embedding (in SQLite overflow pages).
        # Migration 0004 appended ``determined`` (the queue's grouping by determined node).
        Index(
            "ix_predictions_queue", "model_version_id", "route", "confidence", "leaf", "image_id", "created_at",
            "determined",
        ),
        # The queue sorted by type reads one type at a time in the order of the shown names (migration 0006).
        Index("ix_predictions_queue_leaf", "model_version_id", "route", "leaf", "confidence", "image_id"),
        # ... and sorted by determined node, one (node, type) pair at a time (migration 0007).
        Index("ix_predictions_queue_determined", "model_version_id", "route", "determined", "leaf", "confidence",
              "image_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    leaf: Mapped[str | None] = mapped_column(String(128))
    confidence: Mapped[float | None] = mapped_column(Float)
    path: Mapped[list[str]] = mapped_column(JSON)
    path_scores: Mapped[list[float]] = mapped_column(JSON)
    top5: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    level_probs: Mapped[list[list[float]]] = mapped_column(JSON)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    route: Mapped[str | None] = mapped_column(String(32))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    unknown_score: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Hierarchical routing (migration 0004): the deepest node of ``path`` the calibration determines (None:
    # nothing), its level (0 = group), the calibration the route was made under (``Calibration.stamp``;
    # NULL for an uncalibrated bundle, and for rows stored before 0004), and the whole leaf distribution
    # (taxonomy leaf order; the Top-5 of a determined node is read from it).
    determined: Mapped[str | None] = mapped_column(String(128))
    determined_level: Mapped[int | None] = mapped_column(SmallInteger)
    calibration: Mapped[str | None] = mapped_column(String(64))
    leaf_probs: Mapped[list[float] | None] = mapped_column(JSON)
    # The FTIR spectra a spectrum head fused into the prediction (migration 0009; 0: the image alone).
    spectra: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # A multi-label bundle's predicted set, ``leaf`` first (migration 0010; NULL: one defect).
    labels: Mapped[list[str] | None] = mapped_column(JSON)


class PredictionReason(Base):
    """One routing reason of a prediction (mirrors ``predictions.reasons``; indexed for the queue filter)."""

    __tablename__ = "prediction_reasons"
    __table_args__ = (Index("ix_prediction_reasons_reason", "reason"),)

    prediction_id: Mapped[int] = mapped_column(
        ForeignKey("predictions.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(64), primary_key=True)


class Judgment(Base):
    """One analyst decision. Append-only: the current judgment of an image is its latest row."""

    __tablename__ = "judgments"
    __table_args__ = (
        CheckConstraint(STATUS_CHECK_SQL, name="status"),
        Index("ix_judgments_image_id_id", "image_id", "id"),
        Index("ix_judgments_batch_id", "batch_id"),
        Index("ix_judgments_prediction_id", "prediction_id"),
        Index("ix_judgments_created_at", "created_at"),
        Index("ix_judgments_analyst", "analyst"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id", ondelete="SET NULL"))
    prediction_id: Mapped[int | None] = mapped_column(ForeignKey("predictions.id", ondelete="SET NULL"))
    analyst: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    leaf: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    shown: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(255))
    reverts_judgment_id: Mapped[int | None] = mapped_column(ForeignKey("judgments.id", ondelete="SET NULL"))
    # The leaves judged beside ``leaf`` on an image with more than one defect (migration 0010; NULL: one).
    extra_leaves: Mapped[list[str] | None] = mapped_column(JSON)
    # Who made the decision this row carries, and when, when that is not this row's writer (migration 0011): a
    # note, or an undo that restores a colleague's decision, keeps it attributed to them. NULL: this row's own.
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @property
    def decider(self) -> str:
        """Who made the decision this row carries (as :attr:`app.store.records.JudgmentRecord.decider`; SQL:
        :func:`decider`)."""
        return self.decided_by or self.analyst

    @property
    def decided_when(self) -> dt.datetime:
        """When that decision was made (SQL: :func:`decided_time`)."""
        return self.decided_at or self.created_at


def decider() -> Any:
    """SQL for who made the decision a judgment row carries: its writer, unless the row only carried a colleague's
    decision on (a note, an undo restoring it: :attr:`Judgment.decided_by`)."""
    return func.coalesce(Judgment.decided_by, Judgment.analyst)


def unreadable_error(error: Any) -> Any:
    """SQL: a prediction's ``error`` that makes its image unreadable: any but a file not reached (a share away:
    :func:`models.imageio.is_reach_reason`), whose image waits for its file (the window, the start page and the
    export count it so alike)."""
    return and_(error.is_not(None), error.not_in(REACH_REASONS), error.not_like(REACH_PREFIX + "%"))


def decided_time() -> Any:
    """SQL for when the decision a judgment row carries was made (:func:`decider`'s time)."""
    return func.coalesce(Judgment.decided_at, Judgment.created_at)


class Claim(Base):
    """An analyst is on this image until ``expires_at`` (a lease, renewed while they work; migration 0005)."""

    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_analyst", "analyst"),)

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    analyst: Mapped[str] = mapped_column(String(128))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id", ondelete="SET NULL"))
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Spectrum(Base):
    """An FTIR spectrum, identified by the sha256 of its file (:class:`models.spectra.Spectrum`, migration 0008).

    ``data`` is float32 little-endian: the ``n_points`` wavenumbers (cm⁻¹, ascending), then as many absorbances.
    ``kind`` is what the file held (``absorbance``, ``transmittance``: converted, ``arbitrary``: kept as given).
    """

    __tablename__ = "spectra"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(Text)
    n_points: Mapped[int] = mapped_column(Integer)
    first_cm1: Mapped[float] = mapped_column(Float)
    last_cm1: Mapped[float] = mapped_column(Float)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImageSpectrum(Base):
    """A spectrum measured on an image's defect; ``path`` is where its file lay when it was attached."""

    __tablename__ = "image_spectra"
    __table_args__ = (Index("ix_image_spectra_spectrum_id", "spectrum_id"),)

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    spectrum_id: Mapped[int] = mapped_column(ForeignKey("spectra.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    attached_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReferenceSpectrum(Base):
    """A spectrum of a reference library (migration 0008): a known defect type's spectrum imported from a folder
    (``fma-judge spectra import``), searched beside the spectra of judged images. ``source`` is the file it came
    from."""

    __tablename__ = "reference_spectra"
    __table_args__ = (UniqueConstraint("spectrum_id", "leaf"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spectrum_id: Mapped[int] = mapped_column(ForeignKey("spectra.id", ondelete="CASCADE"))
    leaf: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(Text)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoutingPause(Base):
    """Auto-judging paused by the purity monitor for one leaf (``scope = 'leaf'``) or one batch (``'batch'``).

    ``calibration`` is the calibration it was measured against (the manifest's ``routing.created``): a
    recalibrated bundle starts afresh. ``detail`` holds the evidence (spot checks, wrong ones, the bound; or the
    batch's flagged share). ``ended_at`` NULL: in force.
    """

    __tablename__ = "routing_pauses"
    __table_args__ = (Index("ix_routing_pauses_model_version_id_ended_at", "model_version_id", "ended_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    calibration: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(64))


class TeamModel(Base):
    """A deployment of the team's model (``fma-judge deploy``; migration 0012): the newest row is in force, and an
    empty ``bundle_path`` clears it. A window started without ``--model`` loads it."""

    __tablename__ = "team_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_path: Mapped[str] = mapped_column(Text)
    model_version: Mapped[str | None] = mapped_column(String(128))
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
