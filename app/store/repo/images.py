"""Images (one row per content hash) and the paths each was seen at."""

from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.records import ImageRecord
from app.store.repo._common import _check_sha256, _insert_or_existing, _path_text
from app.store.schema import Image, ImagePath, utcnow


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
