"""What the repository modules share: id chunks, the insert-or-existing savepoint, path and text checks,
the "current judgment" subquery, and the ORM row -> record converters (only records leave the package).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Row, Select, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.store.records import BatchSummary, JudgmentRecord, ModelVersionRecord, PredictionRecord
from app.store.schema import JUDGED_STATUSES, Batch, Judgment, ModelVersion, Prediction

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit

T = TypeVar("T")


# ------------------------------------------------------------------------------------------ helpers
def _batched(values: Iterable[T], size: int = _CHUNK) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size`` (for ``IN (...)`` lists)."""
    it = iter(values)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _chunks(ids: Iterable[int], size: int = _CHUNK) -> Iterator[list[int]]:
    """Ids (as ``int``) in lists of at most ``size``."""
    return _batched((int(value) for value in ids), size)


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


def _current_ids(image_filter: Any | None = None) -> Select[Any]:
    """``(image_id, jid)``: the id of each image's latest judgment (served by index (image_id, id))."""
    stmt = select(Judgment.image_id, func.max(Judgment.id).label("jid")).group_by(Judgment.image_id)
    return stmt if image_filter is None else stmt.where(image_filter)


def newest_and_decided(image_ids: Any | None = None) -> tuple[Any, Any, Select[Any]]:
    """``(newest, current, decided)`` for the images of ``image_ids`` (a select of image ids; None: all): a subquery
    of each image's newest prediction (``image_id``, ``pid``), one of its current judgment (``image_id``, ``jid``),
    and a select of the ids of the images whose current judgment is a decision. An undecided image whose newest
    prediction is routed ``auto`` is one the model judged alone: the start page counts them so, and the export
    writes them so."""
    newest = select(Prediction.image_id, func.max(Prediction.id).label("pid")).group_by(Prediction.image_id)
    if image_ids is not None:
        newest = newest.where(Prediction.image_id.in_(image_ids))
    current = _current_ids(None if image_ids is None else Judgment.image_id.in_(image_ids)).subquery()
    decided = (select(Judgment.image_id).join(current, current.c.jid == Judgment.id)
               .where(Judgment.status.in_(sorted(JUDGED_STATUSES))))
    return newest.subquery(), current, decided



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
        extra_leaves=tuple(row.extra_leaves or ()),
        decided_by=getattr(row, "decided_by", None),  # (a Core row of fewer columns has none)
        decided_at=getattr(row, "decided_at", None),
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
        determined=row.determined,
        determined_level=row.determined_level,
        calibration=row.calibration,
        leaf_probs=tuple(row.leaf_probs or ()),
        spectra=row.spectra or 0,
        labels=tuple(row.labels or ()),
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
        kind=row.kind or "folder",
        total=sum(counts.values()),
        accepted=counts.get("accepted", 0),
        corrected=counts.get("corrected", 0),
        unknown=counts.get("unknown", 0),
    )


def advisory_lock(session: Session, name: str) -> None:
    """Hold a transaction-scoped advisory lock keyed by ``name`` on PostgreSQL (``pg_advisory_xact_lock``), so
    that two processes' find-then-write on one thing run one after the other; nothing on SQLite, whose write
    transactions are exclusive already."""
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"fma-judge {name}".encode()).digest()
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": int.from_bytes(digest[:8], "big", signed=True)})
