"""Batches: opening a folder (or chosen files) into the store, and reading a batch back. No Qt.

A folder's images are identified by their content hash: re-opening a folder finds its batch and resumes where
it stood, and a file that moved keeps its history. Shared by the app (on a worker thread), the headless
pre-classifier (:meth:`app.services.predicting.PredictingService.classify_folder`) and the benchmarks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy.engine import Engine

from app.store import repo
from app.store.db import session_scope
from app.store.records import BatchItem
from models.bundle.manifest import BundleError, taxonomy_from_json
from models.hashing import file_sha256
from models.imageio import is_image_file
from models.taxonomy import Taxonomy

Progress = Callable[[int, int], None]
_STEP = 64  # files registered per transaction


@dataclass(frozen=True)
class OpenedBatch:
    """A batch as opened: its items in order, and what could not be read at all."""

    batch_id: int
    name: str
    source: str
    items: list[BatchItem]
    unreadable: dict[int, str] = field(default_factory=dict)  # image id -> why its header cannot be read
    skipped: list[tuple[str, str]] = field(default_factory=list)  # files that could not even be hashed
    taxonomy: Taxonomy | None = None  # of the newest model that predicted the items (names before a model loads)


def scan_folder(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files of a folder (sorted by path; hidden files skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder not found: {folder}")
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern)
                  if p.is_file() and is_image_file(p) and not p.name.startswith("."))


def header_size(path: Path) -> tuple[int | None, int | None, str | None]:
    """Width and height from the image header (no full decode), or the reason it cannot be read."""
    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height), None
    except UnidentifiedImageError:
        return None, None, "not a recognised image format (corrupt or wrong file type)"
    except (OSError, ValueError, SyntaxError) as exc:
        return None, None, f"cannot read image header ({exc})"


def open_folder(engine: Engine, folder: Path, *, recursive: bool = False, progress: Progress | None = None,
                model_version: str | None = None) -> OpenedBatch:
    """Open (or resume) the batch of a folder: every file is read once (hashed, header checked).

    The items carry the predictions of ``model_version`` (None: each image's most recent prediction).
    """
    folder = Path(folder).resolve()
    files = scan_folder(folder, recursive)
    with session_scope(engine) as s:
        existing = repo.find_batches_by_folder(s, folder, recursive=recursive)
        batch = existing[0] if existing else repo.create_batch(
            s, name=folder.name or str(folder), source_folder=folder, recursive=recursive)
    return _fill(engine, batch.id, batch.name, str(folder), files, progress, model_version)


def open_files(engine: Engine, files: Sequence[Path], *, progress: Progress | None = None,
               model_version: str | None = None) -> OpenedBatch:
    """A new batch from chosen (or dropped) files (items as in :func:`open_folder`)."""
    files = [Path(f).resolve() for f in files if is_image_file(f)]
    common = Path(os.path.commonpath([str(f.parent) for f in files])) if files else Path.cwd()
    with session_scope(engine) as s:
        batch = repo.create_batch(s, name=f"{len(files)} files from {common.name or common}",
                                  source_folder=common, recursive=False, notes="opened from chosen files")
    return _fill(engine, batch.id, batch.name, str(common), files, progress, model_version)


def _fill(engine: Engine, batch_id: int, name: str, source: str, files: list[Path],
          progress: Progress | None, model_version: str | None) -> OpenedBatch:
    unreadable: dict[int, str] = {}
    skipped: list[tuple[str, str]] = []
    total = len(files)
    for start in range(0, total, _STEP):
        with session_scope(engine) as s:
            for path in files[start:start + _STEP]:
                try:
                    st = path.stat()
                    known = repo.find_image_by_path(s, path, file_size=st.st_size, mtime_ns=st.st_mtime_ns)
                    if known is None:
                        w, h, reason = header_size(path)
                        known = repo.get_or_create_image(s, file_sha256(path), path, w, h,
                                                         file_size=st.st_size, mtime_ns=st.st_mtime_ns)
                    else:
                        reason = None if known.width else header_size(path)[2]
                except OSError as exc:
                    skipped.append((str(path), exc.strerror or str(exc)))
                    continue
                repo.add_to_batch(s, batch_id, known.image_id, path)
                if reason:
                    unreadable[known.image_id] = reason
        if progress:
            progress(min(total, start + _STEP), total)
    items = batch_items(engine, batch_id, model_version)
    return OpenedBatch(batch_id, name, source, items, unreadable, skipped, stored_taxonomy(engine, items))


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


def unpredicted(items: Sequence[BatchItem], model_version: str | None,
                skip: Collection[int] = ()) -> list[tuple[int, str]]:
    """``(image_id, path)`` of the items without a prediction of ``model_version`` (the ids in ``skip`` left out:
    images that cannot be read)."""
    return [(it.image.image_id, it.image.path) for it in items
            if (it.prediction is None or it.prediction.model_version != model_version)
            and it.image.image_id not in skip]


def folder_of_image(engine: Engine, image_id: int) -> Path | None:
    """The folder of the newest batch that holds the image and still exists (to open it there)."""
    from app.store.queries import batch_folders_of_image

    with session_scope(engine, action="read") as s:
        folders = batch_folders_of_image(s, image_id)
    return next((Path(f) for f, _rec in folders if Path(f).is_dir()), None)
