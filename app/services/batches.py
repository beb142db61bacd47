"""Batches: opening a folder (or chosen files) into the store, and reading a batch back. No Qt.

A folder's images are identified by their content hash: re-opening a folder finds its batch and resumes where
it stood, and a file that moved keeps its history. Shared by the app (on a worker thread), the headless
pre-classifier (:meth:`app.services.predicting.PredictingService.classify_folder`) and the benchmarks.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy.engine import Engine

from app.store import repo
from app.store.db import read_only, session_scope
from app.store.errors import ReadOnlyError
from app.store.records import FILES_BATCH_NOTE, BatchItem, BatchSummary, FileSeen, OpenedBatch, unpredicted
from models.bundle.manifest import BundleError, taxonomy_from_json
from models.hashing import file_sha256
from models.imageio import budget_reason, is_image_file, regular_file_reason
from models.taxonomy import Taxonomy

__all__ = ["OpenedBatch", "Progress", "open_files", "open_folder", "scan_folder", "unpredicted"]

Progress = Callable[[int, int], None]
FirstPart = Callable[[OpenedBatch], None]
_STEP = 64  # files registered per transaction


UNSUPPORTED_IMAGE_SUFFIXES = frozenset({".gif", ".webp", ".heic", ".heif", ".avif", ".jp2", ".j2k", ".svg", ".ico",
                                        ".dng", ".nef", ".cr2", ".arw"})


def scan_folder(folder: Path, recursive: bool = False) -> tuple[list[Path], list[tuple[str, str]]]:
    """Image files of a folder (sorted by path; hidden files and folders skipped), and every other file with the reason
    it is not in the batch: an unsupported image format, a link to a missing file, a pipe, a folder named ``*.png``,
    or a file that is no image at all (notes, spreadsheets: listed so that nothing is left out unseen)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder not found: {folder}")
    pattern = "**/*" if recursive else "*"
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for p in sorted(folder.glob(pattern)):
        if any(part.startswith(".") for part in p.relative_to(folder).parts):  # hidden files and folders
            continue
        suffix = p.suffix.lower()
        if is_image_file(p):
            reason = regular_file_reason(p)
            if reason is None:
                files.append(p)
            elif not (recursive and reason.startswith("is a folder")):
                skipped.append((str(p), reason))
        elif suffix in UNSUPPORTED_IMAGE_SUFFIXES and not p.is_dir():
            skipped.append((str(p), f"format not supported ({suffix[1:].upper()}); convert it to PNG or TIFF"))
        elif not p.is_dir():
            kind = f"a {suffix[1:].upper()} file" if suffix else "a file without a suffix"
            skipped.append((str(p), f"not an image ({kind}): images are PNG, JPEG, BMP or TIFF"))
    return files, skipped


def header_size(path: Path) -> tuple[int | None, int | None, str | None]:
    """Width and height from the image header (no full decode), or the reason it cannot be read.

    An image over the decoding budget (:data:`models.imageio.MAX_PIXELS`) keeps its size and gets the reason: it
    is listed with the batch (unreadable, with that reason), and never decoded.
    """
    if (reason := regular_file_reason(path)) is not None:
        return None, None, reason
    try:
        with Image.open(path) as im:
            width, height, jpeg = int(im.width), int(im.height), im.format == "JPEG"
        nbytes = path.stat().st_size
    except UnidentifiedImageError:
        return None, None, "not a recognised image format (corrupt or wrong file type)"
    except Image.DecompressionBombError as exc:  # Pillow's own guard, far over the budget
        return None, None, f"image too large ({exc})"
    except (OSError, ValueError, SyntaxError) as exc:
        return None, None, f"cannot read image header ({exc})"
    return width, height, budget_reason(width, height, jpeg=jpeg, nbytes=nbytes)


def open_folder(engine: Engine, folder: Path, *, recursive: bool = False, progress: Progress | None = None,
                model_version: str | None = None, first_part: FirstPart | None = None) -> OpenedBatch:
    """Open (or resume) the batch of a folder: every file is read once (hashed, header checked).

    The items carry the predictions of ``model_version`` (None: each image's most recent prediction).
    ``first_part``, for a folder opened for the first time (its batch is empty), is called with the batch as its
    first chunk of files stands, while the rest is registered: the app shows and predicts those at once (on the
    development machine a 500-image folder took 0.3-0.5 s to register at start-up). A batch opened before comes
    whole: its files are known (quick), and the analyst resumes where it stood, which may be anywhere in it.

    A folder is one batch (:func:`app.store.repo.folder_batch`): opened with its sub-folders after a plain
    opening, the sub-folders' images join it; once recursive, a plain opening resumes it with its sub-folders.
    """
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise FileNotFoundError(f"folder not found: {folder}")
    if (why := read_only(engine)) is not None:
        return _open_read_only(engine, folder, recursive, model_version, why)
    with session_scope(engine) as s:
        batch = repo.folder_batch(s, folder, recursive=recursive, name=folder.name or str(folder))
    files, left_out = scan_folder(folder, batch.recursive)
    first = None
    if first_part is not None and batch.total == 0:
        def first(part: OpenedBatch) -> None:  # its rows name their sub-folders from the start
            first_part(dataclasses.replace(part, recursive=batch.recursive))
    opened = _fill(engine, batch.id, batch.name, str(folder), files, progress, model_version, left_out, first)
    below = 0 if batch.recursive else images_below(folder)
    return dataclasses.replace(opened, recursive=batch.recursive, below=below)


def images_below(folder: Path, limit: int = 10_000, max_entries: int = 50_000) -> int:
    """How many image files the sub-folders of ``folder`` hold (hidden ones skipped), counted up to ``limit``
    images, and looking at ``max_entries`` directory entries at most (a deep tree of other files on a network
    share must not hold up the window): a plain opening says that more lie below."""
    count = seen = 0
    for root, dirs, names in os.walk(folder):
        seen += len(dirs) + len(names)
        if seen > max_entries:
            return count
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        if Path(root) == folder:
            continue
        count += sum(1 for n in names if not n.startswith(".") and is_image_file(Path(n)))
        if count >= limit:
            return limit
    return count


def _open_read_only(engine: Engine, folder: Path, recursive: bool, model_version: str | None,
                    why: str) -> OpenedBatch:
    """The folder's batch as stored, from a read-only store (found as :func:`app.store.repo.folder_batch` finds it,
    with either recursive flag): files it does not hold are listed as left out."""
    with session_scope(engine, action="read") as s:
        existing = repo.find_batches_by_folder(s, folder)
    if not existing:
        raise ReadOnlyError(f"The folder {folder} was never opened with this database, and {why}: "
                            "there is nothing of it to show")
    batch = existing[0]
    files, left_out = scan_folder(folder, recursive or batch.recursive)
    items = batch_items(engine, batch.id, model_version)
    held = {Path(it.image.path) for it in items}
    left_out = left_out + [(str(f), "not in this read-only database") for f in files if f not in held]
    return OpenedBatch(batch.id, batch.name, str(folder), items, {}, left_out, stored_taxonomy(engine, items),
                       recursive=batch.recursive)


def open_files(engine: Engine, files: Sequence[Path], *, progress: Progress | None = None,
               model_version: str | None = None, first_part: FirstPart | None = None) -> OpenedBatch:
    """A new batch from chosen (or dropped) files (items and ``first_part`` as in :func:`open_folder`)."""
    chosen = [Path(f) for f in files]
    left_out = [(str(f), f"format not supported ({f.suffix[1:].upper() or 'no suffix'}); convert it to PNG or TIFF")
                for f in chosen if not is_image_file(f)]
    files = []
    for f in filter(is_image_file, chosen):  # one stat per file
        if (reason := regular_file_reason(f)) is None:
            files.append(f.resolve())
        else:
            left_out.append((str(f), reason))
    common = Path(os.path.commonpath([str(f.parent) for f in files])) if files else Path.cwd()
    with session_scope(engine) as s:
        batch = repo.create_batch(s, name=repo.unique_batch_name(s, f"{len(files)} files from {common.name or common}",
                                                                  common),
                                  source_folder=common, recursive=False, notes=FILES_BATCH_NOTE, kind="files")
    return _fill(engine, batch.id, batch.name, str(common), files, progress, model_version, left_out, first_part)


def _fill(engine: Engine, batch_id: int, name: str, source: str, files: list[Path],
          progress: Progress | None, model_version: str | None,
          left_out: Sequence[tuple[str, str]] = (), first_part: FirstPart | None = None) -> OpenedBatch:
    """Register ``files`` in the batch a chunk at a time: which are known unchanged (one read), hash and header
    check the others outside any transaction, then one short write transaction for the chunk (the write lock is
    not held while files are read, so the model thread registering its version does not wait for the disk)."""
    unreadable: dict[int, str] = {}
    skipped: list[tuple[str, str]] = list(left_out)
    total = len(files)
    for start in range(0, total, _STEP):
        stats: list[tuple[Path, os.stat_result]] = []
        for path in files[start:start + _STEP]:
            try:
                stats.append((path, path.stat()))
            except OSError as exc:
                skipped.append((str(path), exc.strerror or str(exc)))
        with session_scope(engine, action="read") as s:
            known = repo.images_at_paths(s, [(p, st.st_size, st.st_mtime_ns) for p, st in stats])
        seen: list[tuple[FileSeen, str | None]] = []
        for (path, st), image in zip(stats, known, strict=True):
            try:
                if image is None:
                    w, h, reason = header_size(path)
                    seen.append((FileSeen(str(path), st.st_size, st.st_mtime_ns, sha256=file_sha256(path), width=w,
                                          height=h), reason))
                else:
                    reason = None if image.width else header_size(path)[2]
                    seen.append((FileSeen(str(path), st.st_size, st.st_mtime_ns, image_id=image.image_id), reason))
            except OSError as exc:
                skipped.append((str(path), exc.strerror or str(exc)))
        if seen:
            with session_scope(engine) as s:
                records = repo.add_files_to_batch(s, batch_id, [f for f, _why in seen])
            unreadable.update({r.image_id: why for r, (_f, why) in zip(records, seen, strict=True) if why})
        if progress:
            progress(min(total, start + _STEP), total)
        if first_part is not None and start == 0 and total > _STEP and (
                items := batch_items(engine, batch_id, model_version)):
            first_part(OpenedBatch(batch_id, name, source, items, dict(unreadable), list(skipped),
                                   stored_taxonomy(engine, items)))
    items = batch_items(engine, batch_id, model_version)
    return OpenedBatch(batch_id, name, source, items, unreadable, skipped, stored_taxonomy(engine, items))


def recent_batches(engine: Engine, limit: int = 10) -> list[BatchSummary]:
    """The batches worked on most recently, with their progress (the start page's list)."""
    with session_scope(engine, action="read") as s:
        return repo.recent_batches(s, limit)


def open_batch(engine: Engine, batch_id: int, model_version: str | None = None) -> OpenedBatch:
    """A stored batch as it stands, by id (a batch of chosen files, or of a folder that is no longer there): its
    files are not scanned again.

    Raises:
        ValueError: no batch has this id.
    """
    try:
        with session_scope(engine, action="read") as s:
            batch = repo.get_batch(s, batch_id)
    except LookupError:
        raise ValueError(f"no batch with id {batch_id}") from None
    items = batch_items(engine, batch_id, model_version)
    return OpenedBatch(batch.id, batch.name, batch.source_folder, items, {}, [], stored_taxonomy(engine, items),
                       recursive=batch.recursive)


def stored_taxonomy(engine: Engine, items: Sequence[BatchItem]) -> Taxonomy | None:
    """The taxonomy stored with the newest registered model version among the items' predictions, or None."""
    versions = {it.prediction.model_version for it in items if it.prediction is not None}
    if not versions:
        return None
    with session_scope(engine, action="read") as s:
        newest = next((v for v in repo.list_model_versions(s) if v.version in versions), None)
        manifest = repo.model_manifest(s, newest.version) if newest is not None else None
    try:
        return taxonomy_from_json(manifest, source=f"model version {newest.version}") if manifest else None
    except BundleError:
        return None


def batch_items(engine: Engine, batch_id: int, model_version: str | None = None) -> list[BatchItem]:
    """The images of a batch in order, each with its latest prediction (of ``model_version``) and judgment."""
    with session_scope(engine, action="read") as s:
        return repo.batch_items(s, batch_id, model_version=model_version)


def batch_of_image(engine: Engine, image_id: int) -> BatchSummary | None:
    """The batch to open an image in: the newest folder batch holding it whose folder still exists, else the
    newest batch holding it at all (chosen files, or a folder gone: opened as stored); None when none does."""
    with session_scope(engine, action="read") as s:
        held = repo.batches_of_image(s, image_id)
    return next((b for b in held if b.kind == "folder" and Path(b.source_folder).is_dir()), held[0] if held else None)
