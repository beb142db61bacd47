"""Batches: create them, put images in them, and read their judging progress."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.store.records import BatchSummary, FileSeen, ImageRecord
from app.store.repo._common import (
    _batch_summary,
    _chunks,
    _current_ids,
    _path_text,
    _require_text,
    advisory_lock,
    newest_and_decided,
    normalize_folder,
)
from app.store.repo.images import bulk_images, get_or_create_image, image_paths
from app.store.schema import Batch, BatchImage, Image, Judgment, Prediction, unreadable_error, utcnow


def create_batch(
    session: Session,
    *,
    name: str,
    source_folder: str | os.PathLike[str],
    recursive: bool = False,
    notes: str | None = None,
    kind: str = "folder",
) -> BatchSummary:
    """A new, empty batch for a folder (stored resolved, see :func:`find_batches_by_folder`); ``kind`` ``files``
    for one of chosen files (its folder is their common parent; re-opening that folder never resumes it)."""
    if kind not in ("folder", "files"):
        raise ValueError(f"batch kind must be 'folder' or 'files', got {kind!r}")
    row = Batch(
        kind=kind,
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



def add_files_to_batch(session: Session, batch_id: int, files: Sequence[FileSeen],
                       fresh: set[int] | None = None) -> list[ImageRecord]:
    """Put many files in a batch at once, in order: what :func:`~app.store.repo.images.get_or_create_image` (for a
    hashed file) and :func:`add_to_batch` do for each, in a few statements. Returns the image of each file as it
    stands in the batch (a duplicate's record has the position of its first copy and the path of its last). The
    ids of the images created now (no prediction or judgment can exist for them yet) are added to ``fresh``.

    Runs in a savepoint: when another writer inserted one of the same rows meanwhile (a unique-key race on a shared
    database), it is rolled back and the files go one by one through those functions, which settle such races.
    """
    try:
        with session.begin_nested():
            made: set[int] = set()
            records = _add_files(session, batch_id, files, made)
        if fresh is not None:
            fresh |= made
        return records
    except IntegrityError:
        out = []
        for f in files:
            image_id = f.image_id if f.sha256 is None else get_or_create_image(
                session, f.sha256, f.path, f.width, f.height, file_size=f.file_size, mtime_ns=f.mtime_ns).image_id
            out.append(add_to_batch(session, batch_id, int(image_id), f.path))
        return _settled(out)


def _add_files(session: Session, batch_id: int, files: Sequence[FileSeen], fresh: set[int]) -> list[ImageRecord]:
    now = utcnow()  # fresh: gets the images created now (in no batch yet)
    wheres = [_path_text(f.path) for f in files]
    hashed = bulk_images(session, files, now, fresh, wheres)
    images: dict[int, ImageRecord] = {}
    order: list[tuple[int, str]] = []
    for f, where in zip(files, wheres, strict=True):
        image = hashed[where] if f.sha256 is not None else None
        image_id = image.image_id if image is not None else int(f.image_id)  # type: ignore[arg-type]
        order.append((image_id, where))
        if image is not None:
            images[image_id] = image
    missing = sorted({i for i, _p in order if i not in images})
    for chunk in _chunks(missing):
        for row in session.execute(select(Image.id, Image.sha256, Image.width, Image.height).where(Image.id.in_(chunk))):
            images[row.id] = ImageRecord(image_id=row.id, sha256=row.sha256, path="", width=row.width,
                                         height=row.height)
    if unknown := [i for i in missing if i not in images]:
        raise ValueError(f"no image with id {unknown[0]}")
    members: dict[int, tuple[int, int, str]] = {}  # image id -> (row id, position, path)
    for chunk in _chunks(sorted(set(images) - fresh)):
        for row in session.execute(select(BatchImage.id, BatchImage.image_id, BatchImage.position, BatchImage.path)
                                   .where(BatchImage.batch_id == batch_id, BatchImage.image_id.in_(chunk))):
            members[row.image_id] = (row.id, row.position, row.path)
    last = session.scalar(select(func.max(BatchImage.position)).where(BatchImage.batch_id == batch_id))
    position = 0 if last is None else last + 1
    new: dict[int, dict[str, Any]] = {}
    final: dict[int, tuple[int, str]] = {}  # image id -> (position, path) once every file is in
    for image_id, where in order:
        if image_id in members:
            final[image_id] = (members[image_id][1], where)
        elif image_id in new:
            new[image_id]["path"] = where
        else:
            new[image_id] = {"batch_id": batch_id, "image_id": image_id, "position": position, "path": where}
            position += 1
    if moved := [{"id": members[i][0], "path": at[1]} for i, at in final.items() if at[1] != members[i][2]]:
        session.execute(update(BatchImage), moved)
    if new:
        session.execute(insert(BatchImage.__table__), list(new.values()))  # Core executemany: no ORM bookkeeping
        final |= {i: (row["position"], row["path"]) for i, row in new.items()}
    return [ImageRecord(image_id=i, sha256=images[i].sha256, path=final[i][1], width=images[i].width,
                        height=images[i].height, position=final[i][0]) for i, _where in order]


def _settled(records: list[ImageRecord]) -> list[ImageRecord]:
    """Each record as its image finally stands (a duplicate's later path applies to every copy's record)."""
    final = {r.image_id: r for r in records}
    return [final[r.image_id] for r in records]


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


def batch_by_ref(session: Session, ref: int | str) -> int:
    """A batch's id from its id or its name, as the app's batch list shows it (text that is a number is tried as
    an id first): ``--batch`` of the ``fma-judge`` commands.

    Raises:
        LookupError: no such batch (the message names the newest ones), or several of that name (give the id).
    """
    text = str(ref).strip()
    if text.isdigit() and session.get(Batch, int(text)) is not None:
        return int(text)
    ids = list(session.scalars(select(Batch.id).where(Batch.name == text).order_by(Batch.id)))
    if len(ids) == 1:
        return ids[0]
    if ids:
        raise LookupError(f"{len(ids)} batches are named {text!r} (ids {', '.join(map(str, ids))}): give the id")
    near = list(session.scalars(select(Batch.name).order_by(Batch.created_at.desc(), Batch.id.desc()).limit(5)))
    known = f"; the newest: {', '.join(map(repr, near))}" if near else "; the database has no batch"
    raise LookupError(f"no batch with id or name {text!r}{known}")


def _summaries(session: Session, stmt: Select[Any]) -> list[BatchSummary]:
    rows = list(session.scalars(stmt))
    counts = _batch_counts(session, [r.id for r in rows])
    return [_batch_summary(r, counts[r.id]) for r in rows]


def list_batches(session: Session) -> list[BatchSummary]:
    """All batches with their progress, newest first."""
    return _summaries(session, select(Batch).order_by(Batch.created_at.desc(), Batch.id.desc()))


def batches_of_image(session: Session, image_id: int) -> list[BatchSummary]:
    """The batches holding an image, newest first (to open it in one)."""
    stmt = (select(Batch).join(BatchImage, BatchImage.batch_id == Batch.id).where(BatchImage.image_id == image_id)
            .order_by(Batch.created_at.desc(), Batch.id.desc()))
    return _summaries(session, stmt)


def image_places(session: Session, image_ids: Sequence[int]) -> list[tuple[int, str, str | None]]:
    """``(image id, file name, batch name)``: each image's file name where it was seen last and the newest batch
    holding it (None: none does), in the order given; an image the store no longer has is left out (the window's
    drafts line and ``fma-judge monitor``'s wrong checks name images so)."""
    places: list[tuple[int, str, str | None]] = []
    for image_id in image_ids:
        if paths := image_paths(session, image_id):
            held = batches_of_image(session, image_id)
            places.append((image_id, Path(paths[0]).name, held[0].name if held else None))
    return places


def recent_batches(session: Session, limit: int = 10) -> list[BatchSummary]:
    """The batches worked on most recently (latest judgment, else creation), with progress and ``updated_at``.
    A batch without a single image is not one to resume (a folder without images, or a first opening stopped while
    the folder was listed) and is left out."""
    last = (select(Judgment.batch_id, func.max(Judgment.created_at).label("at"))
            .where(Judgment.batch_id.is_not(None)).group_by(Judgment.batch_id).subquery())
    holds_images = select(BatchImage.id).where(BatchImage.batch_id == Batch.id).exists()
    stmt = (select(Batch, last.c.at).outerjoin(last, last.c.batch_id == Batch.id).where(holds_images)
            .order_by(func.coalesce(last.c.at, Batch.created_at).desc(), Batch.id.desc()).limit(int(limit)))
    rows = session.execute(stmt).all()
    ids = [b.id for b, _ in rows]
    counts = _batch_counts(session, ids)
    undecided = _undecided_counts(session, ids)
    return [dataclasses.replace(_batch_summary(b, counts[b.id]), updated_at=at,
                                **dict(zip(("auto", "unreadable"), undecided.get(b.id, (0, 0)), strict=True)))
            for b, at in rows]


def _undecided_counts(session: Session, batch_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Per batch, ``(auto, unreadable)``: its undecided images whose newest prediction the model judged alone
    (route ``auto``), and those whose file could not be read: the prediction's ``error``, or, never predicted, no
    size stored (the opening found it empty, not an image, too large or cut short, and the model was never given it:
    the start page counted those 3 "left" of a batch whose window said 0 left and 4 unreadable)."""
    if not batch_ids:
        return {}
    newest, _current, decided = newest_and_decided(select(BatchImage.image_id).where(BatchImage.batch_id.in_(list(batch_ids))))
    auto = func.sum(case((Prediction.route == "auto", 1), else_=0))
    unreadable = func.sum(case((or_(unreadable_error(Prediction.error), and_(Prediction.id.is_(None),
                                                                            Image.width.is_(None))), 1), else_=0))
    stmt = (select(BatchImage.batch_id, auto, unreadable)
            .join(Image, Image.id == BatchImage.image_id)
            .outerjoin(newest, newest.c.image_id == BatchImage.image_id)
            .outerjoin(Prediction, Prediction.id == newest.c.pid)
            .where(BatchImage.batch_id.in_(list(batch_ids)), BatchImage.image_id.not_in(decided))
            .group_by(BatchImage.batch_id))
    return {int(b): (int(a or 0), int(u or 0)) for b, a, u in session.execute(stmt)}


def find_batches_by_folder(
    session: Session, folder: str | os.PathLike[str], *, recursive: bool | None = None
) -> list[BatchSummary]:
    """Batches opened from this folder (optionally only with this recursive flag), newest first; batches of files
    chosen from the folder are not among them.

    Re-opening a folder finds its batch here; :func:`~app.store.repo.items.batch_items` then resumes where it stood.
    """
    stmt = select(Batch).where(Batch.source_folder == normalize_folder(folder), Batch.kind == "folder")
    if recursive is not None:
        stmt = stmt.where(Batch.recursive == bool(recursive))
    return _summaries(session, stmt.order_by(Batch.created_at.desc(), Batch.id.desc()))


def folder_batch(session: Session, folder: str | os.PathLike[str], *, recursive: bool, name: str) -> BatchSummary:
    """The batch of ``folder``: its newest one, opened plain or with sub-folders, created when there is none.

    A folder is one batch: opening it with its sub-folders (``recursive``) after a plain opening makes its batch
    recursive (the sub-folders' images join it); a plain opening of a recursive batch resumes it whole (its
    ``recursive`` stays True: the caller scans as the batch says). A new batch's name is made unique
    (:func:`unique_batch_name`), so a batch can be named on the command line.

    Two processes opening one folder at once get one batch: on PostgreSQL the find and the create run under a
    transaction-scoped advisory lock keyed by the folder; on SQLite write transactions are already exclusive.
    """
    advisory_lock(session, f"folder {normalize_folder(folder)}")
    existing = find_batches_by_folder(session, folder)
    if existing:
        found = existing[0]
        if recursive and not found.recursive:
            session.execute(update(Batch).where(Batch.id == found.id).values(recursive=True))
            return dataclasses.replace(found, recursive=True)
        return found
    return create_batch(session, name=unique_batch_name(session, name, folder), source_folder=folder,
                        recursive=recursive)


def unique_batch_name(session: Session, name: str, folder: str | os.PathLike[str] | None = None) -> str:
    """``name``, or when another batch has it, ``name (parent folder)``, else ``name (2)``, ``name (3)`` ..."""
    name = _require_text(name, "batch name")[:200]  # room for " (parent)" within the column's 255
    taken = set(session.scalars(select(Batch.name).where(Batch.name.startswith(name, autoescape=True))))
    if name not in taken:
        return name
    parent = Path(normalize_folder(folder)).parent.name[:50] if folder is not None else ""
    if parent and f"{name} ({parent})" not in taken:
        return f"{name} ({parent})"
    return next(f"{name} ({n})" for n in range(2, len(taken) + 3) if f"{name} ({n})" not in taken)


def batches_named(session: Session, name: str) -> list[BatchSummary]:
    """The batches called ``name`` (one, since names are made unique; several in a store made before), newest
    first."""
    return _summaries(session, select(Batch).where(Batch.name == name).order_by(Batch.created_at.desc(),
                                                                                 Batch.id.desc()))
