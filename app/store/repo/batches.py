"""Batches: create them, put images in them, and read their judging progress."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from app.store.records import BatchSummary, ImageRecord
from app.store.repo._common import (
    _batch_summary,
    _chunks,
    _current_ids,
    _path_text,
    _require_text,
    normalize_folder,
)
from app.store.schema import Batch, BatchImage, Image, Judgment, utcnow


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

    Re-opening a folder finds its batch here; :func:`~app.store.repo.items.batch_items` then resumes where it stood.
    """
    stmt = select(Batch).where(Batch.source_folder == normalize_folder(folder))
    if recursive is not None:
        stmt = stmt.where(Batch.recursive == bool(recursive))
    return _summaries(session, stmt.order_by(Batch.created_at.desc(), Batch.id.desc()))


def folder_batch(session: Session, folder: str | os.PathLike[str], *, recursive: bool, name: str) -> BatchSummary:
    """The newest batch of ``folder`` (with this recursive flag), created when there is none.

    Two processes opening one folder at once get one batch: on PostgreSQL the find and the create run under a
    transaction-scoped advisory lock keyed by the folder; on SQLite write transactions are already exclusive.
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"fma-judge folder {normalize_folder(folder)}".encode()).digest()
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": int.from_bytes(digest[:8], "big", signed=True)})
    existing = find_batches_by_folder(session, folder, recursive=recursive)
    if existing:
        return existing[0]
    return create_batch(session, name=name, source_folder=folder, recursive=recursive)
