"""The judging session: open batches, store predictions, record judgments, undo and redo. No Qt.

Every public method is one user action in one database transaction (``session_scope``), committed
before it returns; the UI shows a judgment as done only after that. Results are plain records from
:mod:`app.store.records`, never ORM objects.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy.engine import Engine

from app.store import repo
from app.store.db import session_scope
from app.store.errors import StoreError
from app.store.export import ExportResult, export_labels
from app.store.records import BatchItem, JudgmentRecord, PredictionRecord
from models.imageio import is_image_file

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class OpenedBatch:
    """A batch as opened: its items in order, and what could not be read at all."""

    batch_id: int
    name: str
    source: str
    items: list[BatchItem]
    unreadable: dict[int, str] = field(default_factory=dict)  # image id -> why its header cannot be read
    skipped: list[tuple[str, str]] = field(default_factory=list)  # files that could not even be hashed


def scan_folder(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files of a folder (sorted by path; hidden files skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder not found: {folder}")
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern)
                  if p.is_file() and is_image_file(p) and not p.name.startswith("."))


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _header_size(path: Path) -> tuple[int | None, int | None, str | None]:
    """Width and height from the image header (no full decode), or the reason it cannot be read."""
    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height), None
    except UnidentifiedImageError:
        return None, None, "not a recognised image format (corrupt or wrong file type)"
    except (OSError, ValueError, SyntaxError) as exc:
        return None, None, f"cannot read image header ({exc})"


class JudgingService:
    """One analyst's judging session over a store.

    Args:
        engine: the SQLAlchemy engine (SQLite file or a shared PostgreSQL).
        analyst: the name recorded with every judgment.
    """

    def __init__(self, engine: Engine, analyst: str) -> None:
        if not analyst.strip():
            raise ValueError("the analyst name must not be empty")
        self.engine = engine
        self.analyst = analyst.strip()
        self.batch_id: int | None = None
        self._undo: list[int] = []
        self._redo: list[int] = []

    # -- batches -------------------------------------------------------------------------------
    def open_folder(self, folder: Path, *, recursive: bool = False, progress: Progress | None = None) -> OpenedBatch:
        """Open (or resume) the batch of a folder. Runs in a worker: it reads every file once."""
        folder = Path(folder).resolve()
        files = scan_folder(folder, recursive)
        with session_scope(self.engine) as s:
            existing = repo.find_batches_by_folder(s, folder, recursive=recursive)
            batch = existing[0] if existing else repo.create_batch(
                s, name=folder.name or str(folder), source_folder=folder, recursive=recursive)
        return self._fill(batch.id, batch.name, str(folder), files, progress)

    def open_files(self, files: Sequence[Path], *, progress: Progress | None = None) -> OpenedBatch:
        """A new batch from chosen (or dropped) files."""
        files = [Path(f).resolve() for f in files if is_image_file(f)]
        common = Path(os.path.commonpath([str(f.parent) for f in files])) if files else Path.cwd()
        with session_scope(self.engine) as s:
            batch = repo.create_batch(s, name=f"{len(files)} files from {common.name or common}",
                                      source_folder=common, recursive=False, notes="opened from chosen files")
        return self._fill(batch.id, batch.name, str(common), files, progress)

    def _fill(self, batch_id: int, name: str, source: str, files: list[Path],
              progress: Progress | None) -> OpenedBatch:
        unreadable: dict[int, str] = {}
        skipped: list[tuple[str, str]] = []
        total = len(files)
        step = 64
        for start in range(0, total, step):
            with session_scope(self.engine) as s:
                for path in files[start:start + step]:
                    try:
                        st = path.stat()
                        known = repo.find_image_by_path(s, path, file_size=st.st_size, mtime_ns=st.st_mtime_ns)
                        if known is None:
                            w, h, reason = _header_size(path)
                            known = repo.get_or_create_image(s, file_sha256(path), path, w, h,
                                                             file_size=st.st_size, mtime_ns=st.st_mtime_ns)
                        else:
                            reason = None if known.width else _header_size(path)[2]
                    except OSError as exc:
                        skipped.append((str(path), exc.strerror or str(exc)))
                        continue
                    repo.add_to_batch(s, batch_id, known.image_id, path)
                    if reason:
                        unreadable[known.image_id] = reason
            if progress:
                progress(min(total, start + step), total)
        self.batch_id = batch_id
        return OpenedBatch(batch_id, name, source, self.batch_items(batch_id), unreadable, skipped)

    def batch_items(self, batch_id: int, model_version: str | None = None) -> list[BatchItem]:
        with session_scope(self.engine, action="read") as s:
            return repo.batch_items(s, batch_id, model_version=model_version)

    # -- model and predictions ---------------------------------------------------------------------
    def register_model(self, manifest: dict[str, Any], bundle_path: str | Path | None) -> None:
        with session_scope(self.engine) as s:
            repo.register_model_version(s, version=str(manifest["model_version"]), manifest=manifest,
                                        bundle_path=bundle_path)

    def save_predictions(self, records: Sequence[tuple[int, PredictionRecord]], model_version: str) -> None:
        """Store a chunk of predictions in one transaction (called from the model thread)."""
        with session_scope(self.engine) as s:
            for image_id, record in records:
                if record.model_version != model_version:
                    raise ValueError(f"prediction of {record.model_version} saved as {model_version}")
                repo.save_prediction(s, image_id, record)

    # -- judging ---------------------------------------------------------------------------------
    def _record(self, item: BatchItem, leaf: str | None, action: str, note: str | None = None,
                status: str | None = None) -> JudgmentRecord:
        p = item.prediction
        with session_scope(self.engine) as s:
            rec = repo.record_judgment(
                s, image_id=item.image.image_id, leaf=leaf, action=action, analyst=self.analyst, status=status,
                batch_id=self.batch_id, prediction_id=p.id if p is not None and p.id is not None else None,
                shown=p.shown() if p is not None and not p.error else None,
                model_version=p.model_version if p is not None else None, note=note)
        self._undo.append(rec.id)
        self._redo.clear()
        return rec

    def accept(self, item: BatchItem) -> JudgmentRecord:
        """Accept the prediction as shown."""
        if item.prediction is None or not item.prediction.leaf:
            raise ValueError("there is no prediction to accept for this image")
        return self._record(item, item.prediction.leaf, "accept", note=_keep_note(item))

    def choose(self, item: BatchItem, leaf: str, *, action: str = "picker") -> JudgmentRecord:
        """Judge as ``leaf`` (accepted when it is the predicted leaf, else corrected)."""
        return self._record(item, leaf, action, note=_keep_note(item))

    def mark_unknown(self, item: BatchItem) -> JudgmentRecord:
        """Unknown / new defect type: kept out of training, kept for review."""
        return self._record(item, None, "unknown", note=_keep_note(item))

    def add_note(self, item: BatchItem, note: str) -> JudgmentRecord:
        """Attach a note: a new history row with the image's current state and the note."""
        j = item.judgment
        if j is not None and j.is_decision:
            return self._record(item, j.leaf, "note", note=note or None, status=j.status)
        return self._record(item, None, "note", note=note or None, status="reverted")

    def undo(self) -> JudgmentRecord | None:
        """Undo this session's latest judgment (whichever image it was on); None when nothing is left."""
        if not self._undo:
            return None
        target = self._undo[-1]
        with session_scope(self.engine) as s:
            rec = repo.revert_judgment(s, target, analyst=self.analyst, action="undo")
        self._undo.pop()
        self._redo.append(rec.id)
        return rec

    def redo(self) -> JudgmentRecord | None:
        if not self._redo:
            return None
        target = self._redo[-1]
        with session_scope(self.engine) as s:
            rec = repo.revert_judgment(s, target, analyst=self.analyst, action="redo")
        self._redo.pop()
        self._undo.append(rec.id)
        return rec

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def folder_of_image(self, image_id: int) -> Path | None:
        """The folder of the newest batch that holds the image and still exists (to open it there)."""
        from app.store.queries import batch_folders_of_image

        with session_scope(self.engine, action="read") as s:
            folders = batch_folders_of_image(s, image_id)
        return next((Path(f) for f, _rec in folders if Path(f).is_dir()), None)

    def history(self, image_id: int) -> list[JudgmentRecord]:
        with session_scope(self.engine, action="read") as s:
            return repo.judgment_history(s, image_id)

    # -- export ----------------------------------------------------------------------------------
    def export(self, out: Path, fmt: str, *, batch_id: int | None = None) -> ExportResult:
        return export_labels(self.engine, out, fmt, batch_id=batch_id)


def _keep_note(item: BatchItem) -> str | None:
    return item.judgment.note if item.judgment is not None else None


__all__ = ["JudgingService", "OpenedBatch", "StoreError", "file_sha256", "scan_folder"]
