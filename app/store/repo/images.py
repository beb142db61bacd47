"""Images (one row per content hash) and the paths each was seen at."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, bindparam, insert, select, update
from sqlalchemy.orm import Session

from app.store.records import FileSeen, ImageRecord
from app.store.repo._common import _batched, _check_sha256, _insert_or_existing, _path_text
from app.store.schema import IMAGE_PATH_ORDER, Image, ImagePath, utcnow


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
        .order_by(*IMAGE_PATH_ORDER)
    )
    return list(session.scalars(stmt))


# ------------------------------------------------------------------------------------------ many files at once
# Opening a folder registers its files a chunk at a time with a handful of statements per chunk (not ~13 per file
# through the functions above): 42 new files took 0.37 s of the app's start-up that way, on its busiest thread.
def images_at_paths(session: Session, files: Sequence[tuple[str | os.PathLike[str], int, int]]
                    ) -> list[ImageRecord | None]:
    """:func:`find_image_by_path` for many ``(path, file_size, mtime_ns)`` at once, in their order."""
    wheres = [_path_text(p) for p, _size, _mtime in files]
    want = {where: (size, mtime) for where, (_p, size, mtime) in zip(wheres, files, strict=True)}
    found: dict[str, tuple[tuple[dt.datetime, int], ImageRecord]] = {}
    for chunk in _batched(list(want)):
        stmt = (select(ImagePath.path, ImagePath.file_size, ImagePath.mtime_ns, ImagePath.last_seen_at, ImagePath.id,
                       Image.id, Image.sha256, Image.width, Image.height)
                .join(Image, Image.id == ImagePath.image_id).where(ImagePath.path.in_(chunk)))
        for path, size, mtime, seen, row_id, image_id, sha, width, height in session.execute(stmt):
            if (size, mtime) != want[path] or (path in found and found[path][0] >= (seen, row_id)):
                continue
            found[path] = ((seen, row_id), ImageRecord(image_id=image_id, sha256=sha, path=path, width=width,
                                                       height=height))
    return [found[where][1] if where in found else None for where in wheres]


def paths_seen(session: Session, paths: Sequence[str | os.PathLike[str]]) -> set[str]:
    """Which of ``paths`` (as given) an image was ever seen at: only those can be known unchanged
    (:func:`images_at_paths`); the others are new files, to be read (a new folder's files are not even stat'ed)."""
    wheres = {_path_text(p): os.fspath(p) for p in paths}
    seen: set[str] = set()
    for chunk in _batched(list(wheres)):
        seen.update(wheres[w] for w in session.scalars(select(ImagePath.path).where(ImagePath.path.in_(chunk))))
    return seen


def _images_by_sha(session: Session, shas: Sequence[str]) -> dict[str, tuple[int, int | None, int | None]]:
    out: dict[str, tuple[int, int | None, int | None]] = {}
    for chunk in _batched(shas):
        for sha, image_id, width, height in session.execute(
                select(Image.sha256, Image.id, Image.width, Image.height).where(Image.sha256.in_(chunk))):
            out[sha] = (image_id, width, height)
    return out


def bulk_images(session: Session, files: Sequence[FileSeen], now: dt.datetime,
                fresh: set[int] | None = None, wheres: Sequence[str] | None = None) -> dict[str, ImageRecord]:
    """:func:`get_or_create_image` for the hashed ``files`` (``sha256`` set) at once: stored path text -> image.
    The ids of the images created now are added to ``fresh`` (nothing refers to them yet: callers skip looking).
    ``wheres``: each file's path as stored (``_path_text``), when the caller has them.

    Plain inserts: on a unique-key race with another writer the caller's savepoint rolls back and it goes file by
    file (:func:`app.store.repo.batches.add_files_to_batch`).
    """
    texts = wheres if wheres is not None else [_path_text(f.path) for f in files]
    hashed = [(f, where, _check_sha256(str(f.sha256))) for f, where in zip(files, texts, strict=True)
              if f.sha256 is not None]
    size_of: dict[str, tuple[int | None, int | None]] = {}
    for f, _where, sha in hashed:
        if size_of.get(sha, (None, None))[0] is None:
            size_of[sha] = (f.width, f.height)
    known = _images_by_sha(session, list(size_of))
    new = [sha for sha in size_of if sha not in known]
    if new:
        created = _insert_returning_ids(session, Image, [
            {"sha256": sha, "width": size_of[sha][0], "height": size_of[sha][1]} for sha in new],
            key="sha256", same={"first_seen_at": now})
        known.update({sha: (image_id, size_of[sha][0], size_of[sha][1]) for sha, image_id in created.items()})
        if fresh is not None:
            fresh.update(created.values())
    sized = [{"id": known[sha][0], "width": w, "height": h} for sha, (w, h) in size_of.items()
             if known[sha][1] is None and w is not None]
    if sized:  # an image first seen with an unreadable header, readable now
        session.execute(update(Image), sized)
        known.update({sha: (known[sha][0], size_of[sha][0], size_of[sha][1]) for sha in size_of
                      if known[sha][1] is None and size_of[sha][0] is not None})
    created_ids = fresh if fresh is not None else set()
    _bulk_paths(session, [(known[sha][0], where, f.file_size, f.mtime_ns) for f, where, sha in hashed], now,
                created_ids)
    return {where: ImageRecord(image_id=known[sha][0], sha256=sha, path=where, width=known[sha][1],
                               height=known[sha][2]) for _f, where, sha in hashed}


def _insert_returning_ids(session: Session, entity: type, rows: list[dict], *, key: str,
                          same: dict[str, Any] | None = None) -> dict:
    """Insert ``rows`` (Core executemany, no ORM bookkeeping), with the columns of ``same`` set alike in every row,
    and return ``row[key] -> new id``: by ``RETURNING`` in multi-row statements where the database has it (SQLite
    3.35+, PostgreSQL), else by reading them back."""
    table = entity.__table__  # type: ignore[attr-defined]
    column = table.c[key]
    stmt, rows = _alike(session, insert(table), table, rows, same or {})
    if session.get_bind().dialect.insert_executemany_returning:
        return {row[1]: row[0] for row in session.execute(stmt.returning(table.c.id, column), rows)}
    session.execute(stmt, rows)
    out = {}
    for chunk in _batched([r[key] for r in rows]):
        out.update({value: row_id for row_id, value in session.execute(select(table.c.id, column)
                                                                       .where(column.in_(chunk)))})
    return out


def _bulk_paths(session: Session, seen: Sequence[tuple[int, str, int, int]], now: dt.datetime,
                fresh: set[int]) -> None:
    """:func:`_touch_path` for many ``(image_id, path, file_size, mtime_ns)`` at once (the last of a pair wins);
    images in ``fresh`` were created in this transaction and have no paths yet."""
    latest = {(image_id, path): (size, mtime) for image_id, path, size, mtime in seen}
    stored: dict[tuple[int, str], tuple[int, dt.datetime]] = {}
    for chunk in _batched(sorted({path for image_id, path in latest if image_id not in fresh})):
        for row_id, image_id, path, last in session.execute(
                select(ImagePath.id, ImagePath.image_id, ImagePath.path, ImagePath.last_seen_at)
                .where(ImagePath.path.in_(chunk))):
            stored[(image_id, path)] = (row_id, last)
    updates = [{"id": stored[key][0], "last_seen_at": max(stored[key][1], now), "file_size": size, "mtime_ns": mtime}
               for key, (size, mtime) in latest.items() if key in stored]
    inserts = [{"image_id": image_id, "path": path, "file_size": size, "mtime_ns": mtime}
               for (image_id, path), (size, mtime) in latest.items() if (image_id, path) not in stored]
    if updates:
        session.execute(update(ImagePath), updates)
    if inserts:
        session.execute(*_alike(session, insert(ImagePath.__table__), ImagePath.__table__, inserts,
                                {"first_seen_at": now, "last_seen_at": now}))


def _alike(session: Session, stmt: Any, table: Any, rows: list[dict], same: dict[str, Any]) -> tuple[Any, list[dict]]:
    """An executemany INSERT whose ``same`` columns get one value in every row. On SQLite the value is converted to
    the text stored once, not per row through its type (a datetime's conversion per row was 15 % of registering a
    new file); other databases take it through the column's type as any value."""
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        return stmt, [{**row, **same} for row in rows]
    raw = {}
    for name, value in same.items():
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        raw[f"alike_{name}"] = process(value) if process is not None else value
    stmt = stmt.values({name: bindparam(f"alike_{name}", type_=String()) for name in same})  # no conversion left
    return stmt, [{**row, **raw} for row in rows]
