"""Repository functions: each takes an open Session (the caller owns the transaction) and returns records.

Nothing here commits or opens a session; wrap calls in ``db.session_scope(engine)`` (one user action).
ORM objects never leave this module: callers get the frozen records of :mod:`app.store.records`.

Inserts that may race with another analyst on a shared PostgreSQL database (a new image, a new path,
a prediction) run in a SAVEPOINT and fall back to the row the other writer created.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Row, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from app.store.errors import JudgmentConflictError
from app.store.records import (
    BatchItem,
    BatchSummary,
    ImageRecord,
    JudgmentRecord,
    ModelVersionRecord,
    PredictionRecord,
)
from app.store.schema import (
    STATUSES,
    Batch,
    BatchImage,
    Image,
    ImagePath,
    Judgment,
    ModelVersion,
    Prediction,
    PredictionReason,
    utcnow,
)

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit
_PROB_DECIMALS = 6

T = TypeVar("T")


# ------------------------------------------------------------------------------------------ helpers
def _chunks(ids: Iterable[int], size: int = _CHUNK) -> Iterator[list[int]]:
    batch: list[int] = []
    for value in ids:
        batch.append(int(value))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert_or_existing(session: Session, row: T, existing: Callable[[], T | None]) -> T:
    """Insert ``row`` in a savepoint; on a unique-key race return the row another writer inserted."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = existing()
        if found is None:
            raise
        return found
    return row


def _path_text(path: str | os.PathLike[str]) -> str:
    """A file path as stored: absolute, normalised, symlinks kept."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def normalize_folder(folder: str | os.PathLike[str]) -> str:
    """A batch folder as stored and looked up: absolute and resolved."""
    return str(Path(folder).expanduser().resolve())


def _check_sha256(sha256: str) -> str:
    text = str(sha256).strip().lower()
    if not _SHA256_RE.match(text):
        raise ValueError(f"{sha256!r} is not a sha256 hex digest (64 hex characters)")
    return text


def _require_text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value.strip()


def _parse_created(value: Any) -> dt.datetime | None:
    """A manifest's ``created`` (ISO 8601 text); naive times are taken as UTC."""
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str) and value.strip():
        try:
            stamp = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------------------ converters
def _model_version_record(row: ModelVersion) -> ModelVersionRecord:
    return ModelVersionRecord(
        id=row.id,
        version=row.version,
        name=row.name,
        bundle_path=row.bundle_path,
        created_at=row.created_at,
        registered_at=row.registered_at,
    )


def _judgment_record(row: Judgment | Row[Any]) -> JudgmentRecord:
    """From an ORM row or a Core row with the same column names."""
    return JudgmentRecord(
        id=row.id,
        image_id=row.image_id,
        leaf=row.leaf,
        status=row.status,
        action=row.action,
        analyst=row.analyst,
        created_at=row.created_at,
        note=row.note,
        model_version=row.model_version,
        shown=dict(row.shown) if row.shown is not None else None,
        batch_id=row.batch_id,
        prediction_id=row.prediction_id,
        reverts_judgment_id=row.reverts_judgment_id,
    )


def _prediction_record(row: Prediction, version: str, *, with_embedding: bool = True) -> PredictionRecord:
    return PredictionRecord(
        leaf=row.leaf,
        confidence=row.confidence,
        path=tuple(row.path or ()),
        top5=tuple((str(t["leaf"]), tuple(t.get("path") or ()), float(t["score"])) for t in row.top5 or ()),
        level_probs=tuple(tuple(level) for level in row.level_probs or ()),
        route=row.route,
        reasons=tuple(row.reasons or ()),
        unknown_score=row.unknown_score,
        error=row.error,
        model_version=version,
        embedding=row.embedding if with_embedding else None,
        path_scores=tuple(row.path_scores or ()),
        id=row.id,
        image_id=row.image_id,
        created_at=row.created_at,
    )


def _batch_summary(row: Batch, counts: Mapping[str | None, int] | None = None) -> BatchSummary:
    counts = counts or {}
    return BatchSummary(
        id=row.id,
        name=row.name,
        source_folder=row.source_folder,
        recursive=row.recursive,
        created_at=row.created_at,
        notes=row.notes,
        total=sum(counts.values()),
        accepted=counts.get("accepted", 0),
        corrected=counts.get("corrected", 0),
        unknown=counts.get("unknown", 0),
    )


# ------------------------------------------------------------------------------------------ model versions
def register_model_version(
    session: Session,
    *,
    version: str,
    manifest: Mapping[str, Any],
    name: str | None = None,
    bundle_path: str | os.PathLike[str] | None = None,
) -> ModelVersionRecord:
    """Register a model bundle's version (idempotent: a known version only gets its name/bundle path updated).

    Args:
        version: the bundle's ``model_version`` string.
        manifest: the bundle's whole manifest.json (its taxonomy is used by exports).
        name: display name; default the manifest's ``name``, else the version.
        bundle_path: where the bundle was loaded from.
    """
    version = _require_text(version, "model version")
    display = name or str(manifest.get("name") or version)
    where = None if bundle_path is None else _path_text(bundle_path)
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        created = ModelVersion(
            version=version,
            name=display,
            bundle_path=where,
            manifest=dict(manifest),
            created_at=_parse_created(manifest.get("created")),
            registered_at=utcnow(),
        )
        row = _insert_or_existing(
            session,
            created,
            lambda: session.scalar(select(ModelVersion).where(ModelVersion.version == version)),
        )
    if row.name != display or (where is not None and row.bundle_path != where):
        row.name = display
        row.bundle_path = where or row.bundle_path
        session.flush()
    return _model_version_record(row)


def get_model_version(session: Session, version: str) -> ModelVersionRecord | None:
    """The registered model version with this version string, or None."""
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    return None if row is None else _model_version_record(row)


def list_model_versions(session: Session) -> list[ModelVersionRecord]:
    """All registered model versions, most recently registered first."""
    rows = session.scalars(
        select(ModelVersion).order_by(ModelVersion.registered_at.desc(), ModelVersion.id.desc())
    )
    return [_model_version_record(r) for r in rows]


def model_manifest(session: Session, version: str) -> dict[str, Any] | None:
    """The stored manifest.json of a model version, or None if it is not registered."""
    manifest = session.scalar(select(ModelVersion.manifest).where(ModelVersion.version == version))
    return None if manifest is None else dict(manifest)


# ------------------------------------------------------------------------------------------ images
def _touch_path(
    session: Session, image_id: int, path: str, now: dt.datetime, file_size: int | None, mtime_ns: int | None
) -> None:
    def lookup() -> ImagePath | None:
        return session.scalar(select(ImagePath).where(ImagePath.image_id == image_id, ImagePath.path == path))

    row = lookup()
    if row is None:
        fresh = ImagePath(
            image_id=image_id,
            path=path,
            first_seen_at=now,
            last_seen_at=now,
            file_size=file_size,
            mtime_ns=mtime_ns,
        )
        row = _insert_or_existing(session, fresh, lookup)
        if row is fresh:
            return
    row.last_seen_at = max(row.last_seen_at, now)
    if file_size is not None:
        row.file_size = file_size
    if mtime_ns is not None:
        row.mtime_ns = mtime_ns
    session.flush()


def get_or_create_image(
    session: Session,
    sha256: str,
    path: str | os.PathLike[str],
    width: int | None,
    height: int | None,
    *,
    file_size: int | None = None,
    mtime_ns: int | None = None,
    seen_at: dt.datetime | None = None,
) -> ImageRecord:
    """The image with this content hash, created on first sight; records that it was seen at ``path``.

    A known hash at a new path (a moved or copied file) gets a new ``image_paths`` row and keeps its
    predictions and judgment history. ``file_size``/``mtime_ns`` let :func:`find_image_by_path` skip
    hashing an unchanged file next time.

    Raises:
        ValueError: ``sha256`` is not a 64-character hex digest.
    """
    sha = _check_sha256(sha256)
    where = _path_text(path)
    now = seen_at or utcnow()

    def lookup() -> Image | None:
        return session.scalar(select(Image).where(Image.sha256 == sha))

    image = lookup()
    if image is None:
        image = _insert_or_existing(
            session, Image(sha256=sha, width=width, height=height, first_seen_at=now), lookup
        )
    elif image.width is None and width is not None:
        image.width, image.height = width, height
    _touch_path(session, image.id, where, now, file_size, mtime_ns)
    return ImageRecord(image_id=image.id, sha256=sha, path=where, width=image.width, height=image.height)


def find_image_by_path(
    session: Session, path: str | os.PathLike[str], *, file_size: int, mtime_ns: int
) -> ImageRecord | None:
    """The image last seen at ``path`` with this exact size and modification time (no re-hash needed), or None."""
    where = _path_text(path)
    stmt = (
        select(Image)
        .join(ImagePath, ImagePath.image_id == Image.id)
        .where(ImagePath.path == where, ImagePath.file_size == file_size, ImagePath.mtime_ns == mtime_ns)
        .order_by(ImagePath.last_seen_at.desc(), ImagePath.id.desc())
        .limit(1)
    )
    image = session.scalar(stmt)
    if image is None:
        return None
    return ImageRecord(
        image_id=image.id, sha256=image.sha256, path=where, width=image.width, height=image.height
    )


def image_paths(session: Session, image_id: int) -> list[str]:
    """Every path an image was seen at, most recently seen first."""
    stmt = (
        select(ImagePath.path)
        .where(ImagePath.image_id == image_id)
        .order_by(ImagePath.last_seen_at.desc(), ImagePath.id.desc())
    )
    return list(session.scalars(stmt))


# ------------------------------------------------------------------------------------------ batches
def create_batch(
    session: Session,
    *,
    name: str,
    source_folder: str | os.PathLike[str],
    recursive: bool = False,
    notes: str | None = None,
) -> BatchSummary:
    """A new, empty batch for a folder (stored resolved, see :func:`find_batches_by_folder`)."""
    row = Batch(
        name=_require_text(name, "batch name"),
        source_folder=normalize_folder(source_folder),
        recursive=bool(recursive),
        created_at=utcnow(),
        notes=notes,
    )
    session.add(row)
    session.flush()
    return _batch_summary(row)


def add_to_batch(
    session: Session,
    batch_id: int,
    image_id: int,
    path: str | os.PathLike[str],
    *,
    position: int | None = None,
) -> ImageRecord:
    """Put an image in a batch at ``position`` (default: after the last one).

    An image already in the batch (same content, e.g. a duplicate file) keeps its position; its
    opened path is updated. Returns the image as it stands in the batch.
    """
    where = _path_text(path)
    image = session.get(Image, image_id)
    if image is None:
        raise ValueError(f"no image with id {image_id}")
    member = session.scalar(
        select(BatchImage).where(BatchImage.batch_id == batch_id, BatchImage.image_id == image_id)
    )
    if member is None:
        if position is None:
            last = session.scalar(
                select(func.max(BatchImage.position)).where(BatchImage.batch_id == batch_id)
            )
            position = 0 if last is None else last + 1
        member = BatchImage(batch_id=batch_id, image_id=image_id, position=position, path=where)
        session.add(member)
    else:
        member.path = where
    session.flush()
    return ImageRecord(
        image_id=image.id,
        sha256=image.sha256,
        path=member.path,
        width=image.width,
        height=image.height,
        position=member.position,
    )


def _current_ids(image_filter: Any | None = None) -> Select[Any]:
    """``(image_id, jid)``: the id of each image's latest judgment (served by index (image_id, id))."""
    stmt = select(Judgment.image_id, func.max(Judgment.id).label("jid")).group_by(Judgment.image_id)
    return stmt if image_filter is None else stmt.where(image_filter)


def _batch_counts(session: Session, batch_ids: Sequence[int]) -> dict[int, dict[str | None, int]]:
    """Per batch: number of images by current judgment status (None = never judged)."""
    counts: dict[int, dict[str | None, int]] = {b: {} for b in batch_ids}
    for chunk in _chunks(batch_ids):
        in_batches = select(BatchImage.image_id).where(BatchImage.batch_id.in_(chunk))
        current = _current_ids(Judgment.image_id.in_(in_batches)).subquery()
        stmt = (
            select(BatchImage.batch_id, Judgment.status, func.count())
            .select_from(BatchImage)
            .outerjoin(current, current.c.image_id == BatchImage.image_id)
            .outerjoin(Judgment, Judgment.id == current.c.jid)
            .where(BatchImage.batch_id.in_(chunk))
            .group_by(BatchImage.batch_id, Judgment.status)
        )
        for batch_id, status, n in session.execute(stmt):
            counts[batch_id][status] = n
    return counts


def get_batch(session: Session, batch_id: int) -> BatchSummary:
    """One batch with its judging progress.

    Raises:
        LookupError: no such batch.
    """
    row = session.get(Batch, batch_id)
    if row is None:
        raise LookupError(f"no batch with id {batch_id}")
    return _batch_summary(row, _batch_counts(session, [batch_id])[batch_id])


def _summaries(session: Session, stmt: Select[Any]) -> list[BatchSummary]:
    rows = list(session.scalars(stmt))
    counts = _batch_counts(session, [r.id for r in rows])
    return [_batch_summary(r, counts[r.id]) for r in rows]


def list_batches(session: Session) -> list[BatchSummary]:
    """All batches with their progress, newest first."""
    return _summaries(session, select(Batch).order_by(Batch.created_at.desc(), Batch.id.desc()))


def find_batches_by_folder(
    session: Session, folder: str | os.PathLike[str], *, recursive: bool | None = None
) -> list[BatchSummary]:
    """Batches opened from this folder (optionally only with this recursive flag), newest first.

    Re-opening a folder finds its batch here; :func:`batch_items` then resumes where it stood.
    """
    stmt = select(Batch).where(Batch.source_folder == normalize_folder(folder))
    if recursive is not None:
        stmt = stmt.where(Batch.recursive == bool(recursive))
    return _summaries(session, stmt.order_by(Batch.created_at.desc(), Batch.id.desc()))


# ------------------------------------------------------------------------------------------ predictions
def _model_version_row(session: Session, version: str) -> ModelVersion:
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        raise ValueError(f"model version {version!r} is not registered; call register_model_version first")
    return row


def _round_probs(values: Iterable[float]) -> list[float]:
    return [round(float(v), _PROB_DECIMALS) for v in values]


def save_prediction(session: Session, image_id: int, prediction: PredictionRecord) -> PredictionRecord:
    """Store a prediction: one row per (image, model version), replaced when the same version predicts again.

    Probabilities are stored rounded to 6 decimals; the embedding as given (float32 bytes).

    Returns:
        The prediction as stored, with its ``id`` (without the embedding: read it back with
        :func:`latest_predictions` when needed).

    Raises:
        ValueError: the prediction's model version is not registered.
    """
    version = _model_version_row(session, prediction.model_version)
    values: dict[str, Any] = {
        "leaf": prediction.leaf,
        "confidence": None if prediction.confidence is None else float(prediction.confidence),
        "path": list(prediction.path),
        "path_scores": _round_probs(prediction.path_scores),
        "top5": [
            {"leaf": leaf, "path": list(path), "score": round(float(score), _PROB_DECIMALS)}
            for leaf, path, score in prediction.top5
        ],
        "level_probs": [_round_probs(level) for level in prediction.level_probs],
        "embedding": prediction.embedding,
        "route": prediction.route,
        "reasons": list(prediction.reasons),
        "unknown_score": None if prediction.unknown_score is None else float(prediction.unknown_score),
        "error": prediction.error,
        "created_at": utcnow(),
    }

    def lookup() -> Prediction | None:
        return session.scalar(
            select(Prediction).where(
                Prediction.image_id == image_id, Prediction.model_version_id == version.id
            )
        )

    row = lookup()
    if row is None:
        row = _insert_or_existing(
            session, Prediction(image_id=image_id, model_version_id=version.id, **values), lookup
        )
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()
    _replace_reasons(session, row.id, prediction.reasons)
    return _prediction_record(row, version.version, with_embedding=False)


def save_predictions(
    session: Session, pairs: Iterable[tuple[int, PredictionRecord]]
) -> list[tuple[int, PredictionRecord]]:
    """Store ``(image_id, prediction)`` pairs (see :func:`save_prediction`); returns them as stored (with ids)."""
    return [(image_id, save_prediction(session, image_id, record)) for image_id, record in pairs]


def _replace_reasons(session: Session, prediction_id: int, reasons: Iterable[str]) -> None:
    for old in session.scalars(
        select(PredictionReason).where(PredictionReason.prediction_id == prediction_id)
    ):
        session.delete(old)
    session.flush()
    for reason in dict.fromkeys(str(r) for r in reasons):
        session.add(PredictionReason(prediction_id=prediction_id, reason=reason))
    session.flush()


def latest_predictions(
    session: Session,
    image_ids: Iterable[int],
    *,
    model_version: str | None = None,
    with_embedding: bool = False,
) -> dict[int, PredictionRecord]:
    """Per image: the prediction of ``model_version``, or (None) the most recent prediction of any version.

    Embeddings are loaded only with ``with_embedding=True`` (they are large); otherwise they are None.
    """
    options = [] if with_embedding else [defer(Prediction.embedding)]
    found: dict[int, PredictionRecord] = {}
    for chunk in _chunks(image_ids):
        if model_version is not None:
            stmt = (
                select(Prediction, ModelVersion.version)
                .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
                .where(Prediction.image_id.in_(chunk), ModelVersion.version == model_version)
            )
        else:
            rank = (
                func.row_number()
                .over(
                    partition_by=Prediction.image_id,
                    order_by=(Prediction.created_at.desc(), Prediction.id.desc()),
                )
                .label("rank")
            )
            ranked = select(Prediction.id, rank).where(Prediction.image_id.in_(chunk)).subquery()
            stmt = (
                select(Prediction, ModelVersion.version)
                .join(ranked, ranked.c.id == Prediction.id)
                .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
                .where(ranked.c.rank == 1)
            )
        for row, version in session.execute(stmt.options(*options)):
            found[row.image_id] = _prediction_record(row, version, with_embedding=with_embedding)
    return found


# ------------------------------------------------------------------------------------------ judgments
def _derive_status(leaf: str | None, shown: Mapping[str, Any] | None) -> str:
    if leaf is None:
        return "unknown"
    predicted = shown.get("leaf") if shown else None
    return "accepted" if predicted is not None and predicted == leaf else "corrected"


def _check_status(status: str, leaf: str | None) -> None:
    if status not in STATUSES:
        raise ValueError(f"judgment status {status!r} is not one of {', '.join(STATUSES)}")
    if status in ("unknown", "reverted") and leaf is not None:
        raise ValueError(f"a judgment with status {status!r} has no leaf (got {leaf!r})")
    if status in ("accepted", "corrected") and not leaf:
        raise ValueError(f"a judgment with status {status!r} needs a leaf")


def record_judgment(
    session: Session,
    *,
    image_id: int,
    leaf: str | None,
    action: str,
    analyst: str,
    status: str | None = None,
    batch_id: int | None = None,
    prediction_id: int | None = None,
    shown: Mapping[str, Any] | None = None,
    model_version: str | None = None,
    note: str | None = None,
    reverts_judgment_id: int | None = None,
    created_at: dt.datetime | None = None,
) -> JudgmentRecord:
    """Append a judgment (history is never changed); it becomes the image's current judgment.

    Args:
        image_id: the judged image.
        leaf: the chosen leaf id; None for "unknown / new defect type".
        action: how it was decided (accept, topk, picker, unknown, bulk ...).
        analyst: who decided.
        status: accepted / corrected / unknown / reverted. Default: ``unknown`` without a leaf,
            ``accepted`` when ``leaf`` equals the shown prediction's leaf, else ``corrected``.
        batch_id: the batch it was judged in, if any.
        prediction_id: the stored prediction that was shown; fills ``shown`` and ``model_version`` when
            they are not given.
        shown: the prediction exactly as shown (leaf, confidence, top5 with scores ...).
        model_version: the version string of the model whose prediction was shown.
        note: free text.
        reverts_judgment_id: set by undo/redo (see :func:`revert_judgment`).
        created_at: aware datetime; default now (UTC).

    Raises:
        ValueError: inconsistent status and leaf, unknown status, empty analyst/action, or a prediction
            of another image.
    """
    analyst = _require_text(analyst, "analyst")
    action = _require_text(action, "action")
    if prediction_id is not None and (shown is None or model_version is None):
        stored = session.execute(
            select(Prediction, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == Prediction.model_version_id)
            .where(Prediction.id == prediction_id)
        ).first()
        if stored is None:
            raise ValueError(f"no prediction with id {prediction_id}")
        pred_row, version = stored
        if pred_row.image_id != image_id:
            raise ValueError(
                f"prediction {prediction_id} belongs to image {pred_row.image_id}, not {image_id}"
            )
        record = _prediction_record(pred_row, version, with_embedding=False)
        shown = record.shown() if shown is None else shown
        model_version = model_version or version
    if created_at is not None and created_at.utcoffset() is None:
        raise ValueError(
            f"naive datetime {created_at.isoformat()} given as created_at; pass a timezone-aware one"
        )
    if status is None:
        status = _derive_status(leaf, shown)
    _check_status(status, leaf)
    row = Judgment(
        image_id=image_id,
        batch_id=batch_id,
        prediction_id=prediction_id,
        analyst=analyst,
        created_at=created_at or utcnow(),
        leaf=leaf,
        status=status,
        action=action,
        note=note,
        shown=None if shown is None else dict(shown),
        model_version=model_version,
        reverts_judgment_id=reverts_judgment_id,
    )
    session.add(row)
    session.flush()
    return _judgment_record(row)


def current_judgments(session: Session, image_ids: Iterable[int] | None = None) -> dict[int, JudgmentRecord]:
    """Per image, its current (latest) judgment; images never judged are absent.

    ``image_ids`` None means every judged image. A current judgment may have status ``reverted``
    (back to pending): check :attr:`JudgmentRecord.is_decision`.
    """
    if image_ids is None:
        chunks: Iterable[list[int] | None] = [None]
    else:
        chunks = _chunks(image_ids)
    found: dict[int, JudgmentRecord] = {}
    for chunk in chunks:
        latest = _current_ids(None if chunk is None else Judgment.image_id.in_(chunk)).subquery()
        # Plain columns, not ORM entities: no identity-map cost when this covers every image.
        stmt = select(*Judgment.__table__.columns).join(latest, latest.c.jid == Judgment.id)
        for row in session.execute(stmt):
            found[row.image_id] = _judgment_record(row)
    return found


def judgment_history(session: Session, image_id: int) -> list[JudgmentRecord]:
    """Every judgment of an image, oldest first (the last one is current)."""
    rows = session.scalars(select(Judgment).where(Judgment.image_id == image_id).order_by(Judgment.id))
    return [_judgment_record(r) for r in rows]


def _latest_before(session: Session, image_id: int, before_id: int | None = None) -> Judgment | None:
    stmt = select(Judgment).where(Judgment.image_id == image_id)
    if before_id is not None:
        stmt = stmt.where(Judgment.id < before_id)
    return session.scalar(stmt.order_by(Judgment.id.desc()).limit(1))


def _state(row: Judgment | None) -> tuple[str, str | None]:
    if row is None or row.status == "reverted":
        return "pending", None
    return row.status, row.leaf


def revert_judgment(
    session: Session, judgment_id: int, *, analyst: str, action: str = "undo", note: str | None = None
) -> JudgmentRecord:
    """Undo a judgment by appending a row that restores the state before it.

    The new row copies the previous judgment of the image (leaf, status, what was shown), or has status
    ``reverted`` (back to pending) when there was none; ``reverts_judgment_id`` points at the reverted row.
    Redo is the same call on the undo row (``action="redo"``): the state before the undo is restored.
    Several undos in a row work: undoing J2 then J1 brings the image back to before J1.

    Raises:
        LookupError: no such judgment.
        JudgmentConflictError: the image's current state is no longer the result of that judgment (it
            was judged again since, perhaps by another analyst).
    """
    target = session.get(Judgment, judgment_id)
    if target is None:
        raise LookupError(f"no judgment with id {judgment_id}")
    current = _latest_before(session, target.image_id)
    if _state(current) != _state(target):
        now_status, now_leaf = _state(current)
        who = f" by {current.analyst}" if current is not None else ""
        raise JudgmentConflictError(
            f"Cannot {action} judgment {judgment_id}: image {target.image_id} was judged again since "
            f"(now {now_status}{' ' + now_leaf if now_leaf else ''}{who})."
        )
    previous = _latest_before(session, target.image_id, target.id)
    status, leaf = _state(previous)
    restored = previous if previous is not None and previous.status != "reverted" else None
    return record_judgment(
        session,
        image_id=target.image_id,
        leaf=leaf,
        status="reverted" if status == "pending" else status,
        action=action,
        analyst=analyst,
        batch_id=target.batch_id,
        prediction_id=restored.prediction_id if restored else None,
        shown=restored.shown if restored else None,
        model_version=restored.model_version if restored else None,
        note=note,
        reverts_judgment_id=target.id,
    )


# ------------------------------------------------------------------------------------------ batch items
def batch_items(
    session: Session, batch_id: int, *, model_version: str | None = None, with_embedding: bool = False
) -> list[BatchItem]:
    """The images of a batch in position order, each with its latest prediction and current judgment.

    Args:
        batch_id: the batch.
        model_version: take this version's predictions (None: each image's most recent prediction).
        with_embedding: also load the embeddings (large; off by default).
    """
    in_batch = select(BatchImage.image_id).where(BatchImage.batch_id == batch_id)
    current = _current_ids(Judgment.image_id.in_(in_batch)).subquery()
    stmt = (
        select(BatchImage.position, BatchImage.path, Image, Judgment)
        .join(Image, Image.id == BatchImage.image_id)
        .outerjoin(current, current.c.image_id == BatchImage.image_id)
        .outerjoin(Judgment, Judgment.id == current.c.jid)
        .where(BatchImage.batch_id == batch_id)
        .order_by(BatchImage.position, BatchImage.id)
    )
    rows = session.execute(stmt).all()
    predictions = latest_predictions(
        session,
        [image.id for _, _, image, _ in rows],
        model_version=model_version,
        with_embedding=with_embedding,
    )
    return [
        BatchItem(
            image=ImageRecord(
                image_id=image.id,
                sha256=image.sha256,
                path=path,
                width=image.width,
                height=image.height,
                position=position,
            ),
            prediction=predictions.get(image.id),
            judgment=None if judgment is None else _judgment_record(judgment),
        )
        for position, path, image, judgment in rows
    ]
