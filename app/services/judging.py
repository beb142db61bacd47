"""The judging session: open batches, record judgments, undo and redo. No Qt.

Every public method is one user action in one database transaction (``session_scope``), committed
before it returns; the UI shows a judgment as done only after that. Results are plain records from
:mod:`app.store.records`, never ORM objects.

A note is the image's: every later row carries it (judging, undo, redo) until :meth:`JudgingService.add_note`
changes it (an empty note clears it); the store does the carrying (``repo.KEEP_NOTE``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from app.services import batches
from app.services.batches import FirstPart, OpenedBatch, Progress
from app.store import embeddings, repo
from app.store.db import read_only, session_scope
from app.store.errors import JudgmentConflictError, StoreError
from app.store.export import (
    UNDECIDED_STATUSES,
    ExportResult,
    count_export_rows,
    export_labels,
)
from app.store.export_files import existing_export
from app.store.records import BatchItem, BatchSummary, JudgmentRecord, TeamModelRecord
from models.routing.policy import Calibration

CLAIM_LEASE_S = 300.0
"""How long a claim holds an image without being renewed (the window renews the images it is about to show)."""


class JudgingService:
    """One analyst's judging session over a store.

    Args:
        engine: the SQLAlchemy engine (SQLite file or a shared PostgreSQL).
        analyst: the name recorded with every judgment.
    """

    claim_lease_s = CLAIM_LEASE_S

    def __init__(self, engine: Engine, analyst: str) -> None:
        if not analyst.strip():
            raise ValueError("the analyst name must not be empty")
        self.engine = engine
        self.analyst = analyst.strip()
        self.read_only = read_only(engine)  # why judging is off (None: on); the store refuses every write then
        self.batch_id: int | None = None
        self._undo: list[int] = []
        self._redo: list[int] = []

    # -- batches -------------------------------------------------------------------------------
    def open_folder(self, folder: Path, *, recursive: bool = False, progress: Progress | None = None,
                    model_version: str | None = None, first_part: FirstPart | None = None) -> OpenedBatch:
        """Open (or resume) the batch of a folder; judgments are recorded in it. Runs in a worker.

        The items carry the predictions of ``model_version`` (the loaded model), when given; ``first_part`` is
        :func:`app.services.batches.open_folder`'s (judgments of its images go to the batch at once).
        """
        opened = batches.open_folder(self.engine, folder, recursive=recursive, progress=progress,
                                     model_version=model_version, first_part=self._judging_in(first_part))
        self.batch_id = opened.batch_id
        return opened

    def open_files(self, files: Sequence[Path], *, progress: Progress | None = None,
                   model_version: str | None = None, first_part: FirstPart | None = None) -> OpenedBatch:
        """A new batch from chosen (or dropped) files (items as in :meth:`open_folder`)."""
        opened = batches.open_files(self.engine, files, progress=progress, model_version=model_version,
                                    first_part=self._judging_in(first_part))
        self.batch_id = opened.batch_id
        return opened

    def open_batch(self, batch_id: int, *, progress: Progress | None = None, model_version: str | None = None,
                   first_part: FirstPart | None = None) -> OpenedBatch:
        """A stored batch by id, as it stands (:func:`app.services.batches.open_batch`; ``progress`` and
        ``first_part`` are accepted for the app's opening task and not needed: nothing is read from disk)."""
        opened = batches.open_batch(self.engine, batch_id, model_version)
        self.batch_id = opened.batch_id
        return opened

    def recent_batches(self, limit: int = 10) -> list[BatchSummary]:
        """The batches worked on most recently (the start page)."""
        return batches.recent_batches(self.engine, limit)

    def opened_with_subfolders(self, folder: Path) -> bool:
        """Whether ``folder``'s batch (its newest, the one an opening resumes) holds its sub-folders' images
        already (it opens with them again)."""
        with session_scope(self.engine, action="read") as s:
            found = repo.find_batches_by_folder(s, folder)
            return bool(found) and found[0].recursive

    def _judging_in(self, first_part: FirstPart | None) -> FirstPart | None:
        if first_part is None:
            return None

        def opened_part(opened: OpenedBatch) -> None:
            before, self.batch_id = self.batch_id, opened.batch_id
            try:
                first_part(opened)
            except BaseException:  # not handed over (an older opening, cancelled): judgments stay where they were
                self.batch_id = before
                raise

        return opened_part

    def batch_items(self, batch_id: int, model_version: str | None = None) -> list[BatchItem]:
        return batches.batch_items(self.engine, batch_id, model_version)

    # -- judging ---------------------------------------------------------------------------------
    def _record(self, item: BatchItem, leaf: str | None, action: str, note: repo.NoteArg = repo.KEEP_NOTE,
                status: str | None = None, extra: Sequence[str] = (), expect_note: str | None = None,
                carries: JudgmentRecord | None = None) -> JudgmentRecord:
        p = item.prediction
        with session_scope(self.engine) as s:
            rec = repo.record_judgment(
                s, image_id=item.image.image_id, leaf=leaf, action=action, analyst=self.analyst, status=status,
                batch_id=self.batch_id, prediction_id=p.id if p is not None and p.id is not None else None,
                shown=p.shown() if p is not None and not p.error else None,
                model_version=p.model_version if p is not None else None, note=note,
                expect_state=repo.state_of(item.judgment),  # someone judged it since it was shown: a conflict
                extra_leaves=extra, expect_note=expect_note,
                decided_by=carries.decider if carries is not None else None,  # a note: the decision stays theirs
                decided_at=carries.decided_when if carries is not None else None)
        self._undo.append(rec.id)
        self._redo.clear()
        return rec

    def accept(self, item: BatchItem) -> JudgmentRecord:
        """Accept the prediction as shown (every leaf of a multi-label prediction's set)."""
        p = item.prediction
        if p is None or not p.leaf:
            raise ValueError("there is no prediction to accept for this image")
        return self._record(item, p.leaf, "accept", extra=p.labels[1:])

    @staticmethod
    def labels_of(item: BatchItem, *, blind: bool = False) -> tuple[str, ...]:
        """The leaves an image stands at: its judgment's, else (unless ``blind``) its prediction's set."""
        j, p = item.judgment, item.prediction
        if j is not None and j.is_decision:
            return j.labels
        if p is not None and p.leaf and not p.error and not blind:
            return p.predicted_set
        return ()

    def add_label(self, item: BatchItem, leaf: str, *, blind: bool = False) -> JudgmentRecord:
        """One more defect on the image: ``leaf`` joins the leaves it stands at (:meth:`labels_of`)."""
        labels = self.labels_of(item, blind=blind)
        if not labels:
            return self._record(item, leaf, "add")
        return self._record(item, labels[0], "add", extra=[*labels[1:], leaf])

    def remove_label(self, item: BatchItem, *, blind: bool = False) -> JudgmentRecord:
        """The last of the image's several leaves taken off (:meth:`labels_of`).

        Raises:
            ValueError: the image stands at one leaf or none.
        """
        labels = self.labels_of(item, blind=blind)
        if len(labels) < 2:
            raise ValueError("the image has one defect type: there is none to take off")
        if not blind and self._back_to_the_models_guess(item, labels[:-1]):
            return self._record(item, None, "remove", status="reverted")  # undecided again, as before Shift+C
        return self._record(item, labels[0], "remove", extra=labels[1:-1])

    def _back_to_the_models_guess(self, item: BatchItem, kept: tuple[str, ...]) -> bool:
        """Whether ``kept`` is only the model's guess, which the analyst never chose: types added (Shift+C) to an
        image nobody had decided, then taken off again (X). Recording that as a decision would make the model's
        call "accepted by the analyst" with no analyst ever accepting it."""
        p = item.prediction
        if p is None or p.error or not p.leaf or tuple(kept) != tuple(p.predicted_set):
            return False
        with session_scope(self.engine, action="read") as s:
            history = repo.judgment_history(s, item.image.image_id)
        for rec in reversed(history):  # back past the adds, removals and notes, to what the image was before them
            if rec.action not in ("add", "remove", "note"):
                return not rec.is_decision
        return True

    def choose(self, item: BatchItem, leaf: str, *, action: str = "picker") -> JudgmentRecord:
        """Judge as ``leaf`` (accepted when it is the predicted leaf, else corrected)."""
        return self._record(item, leaf, action)

    def mark_unknown(self, item: BatchItem) -> JudgmentRecord:
        """Unknown / new defect type: kept out of training, kept for review."""
        return self._record(item, None, "unknown")

    def confirm(self, item: BatchItem, labels: Sequence[str]) -> JudgmentRecord:
        """The analyst judged a colleague's image as they did (``labels``; none: unknown): their decision stays, and
        this analyst's agreement is recorded beside it (:func:`~app.store.repo.judgments.confirm_judgments`), for
        the agreement between analysts. Ctrl+Z takes it back.

        Raises:
            JudgmentConflictError: the image's decision is no longer a colleague's saying the same (judged again
                meanwhile), or this analyst confirmed it already; ``current`` is the judgment now.
        """
        with session_scope(self.engine) as s:
            written = repo.confirm_judgments(s, {item.image.image_id: tuple(labels)}, analyst=self.analyst)
            if not written:
                now = repo.current_judgments(s, [item.image.image_id]).get(item.image.image_id)
                raise JudgmentConflictError("Not saved: the image's decision changed meanwhile.", current=now)
        self._undo.append(written[0].id)
        self._redo.clear()
        return written[0]

    def add_note(self, item: BatchItem, note: str) -> JudgmentRecord:
        """Set the image's note (empty: remove it): a new history row with the image's current state. A colleague's
        note written since the one shown is never replaced unseen (:class:`JudgmentConflictError`, ``note``)."""
        j = item.judgment
        seen = (j.note if j is not None else None) or ""
        if j is not None and j.is_decision:
            return self._record(item, j.leaf, "note", note=note.strip() or None, status=j.status, expect_note=seen,
                                extra=j.labels[1:], carries=j)  # a note keeps every type of a multi-label decision
        return self._record(item, None, "note", note=note.strip() or None, status="reverted", expect_note=seen)

    def judged_since(self, after_id: int | None, image_ids: Collection[int]) -> tuple[int, list[JudgmentRecord]]:
        """What changed among ``image_ids`` since judgment ``after_id`` (None: since ever), whoever judged them:
        ``(the newest judgment id now, the current judgments of the images judged after after_id)``. The main
        window polls it, so colleagues' judgments on a shared database appear (read only)."""
        wanted = set(image_ids)
        with session_scope(self.engine, action="read") as s:
            newest = embeddings.last_judgment_id(s)
            if after_id is not None and newest <= after_id:
                return newest, []
            changed = list(wanted) if after_id is None else \
                [i for i in embeddings.images_judged_after(s, after_id) if i in wanted]
            return newest, list(repo.current_judgments(s, changed).values())

    # -- a team on one store: claims ----------------------------------------------------------------
    def claim(self, image_ids: Collection[int], release: Collection[int] = (),
              ahead: Collection[int] = ()) -> dict[int, str]:
        """Take (or renew, for :data:`CLAIM_LEASE_S`) the claims of the images this analyst is about to judge, and
        give back those of ``release`` (images left); returns those someone else holds (``{image id: analyst}``),
        of ``image_ids`` and of ``ahead`` (the images after them in this analyst's order, only looked at: a
        colleague's block of claims just past this window's was found one image at a time, on arriving at each,
        and a quick Enter there went against theirs). A lapsed lease frees an image by itself."""
        if self.read_only is not None:
            return {}
        with session_scope(self.engine, durable=False) as s:  # a lease is renewed anyway: no fsync wait
            if release:
                repo.release(s, self.analyst, [i for i in release if i not in set(image_ids)])
            held = repo.claim(s, image_ids, self.analyst, lease_s=CLAIM_LEASE_S, batch_id=self.batch_id)
            if ahead:
                held.update(repo.held_by_others(s, [i for i in ahead if i not in set(image_ids)], self.analyst))
            return held

    def claim_next(self, batch_id: int, n: int, after_position: int | None = None) -> list[int]:
        """The next ``n`` images of a batch nobody decided and nobody else holds (after ``after_position``, the
        place of the last one given, then from the start), claimed for this analyst."""
        with session_scope(self.engine, durable=False) as s:
            return repo.claim_next(s, batch_id, self.analyst, n=n, lease_s=CLAIM_LEASE_S,
                                   after_position=after_position)

    def claims_of_others(self, image_ids: Collection[int]) -> dict[int, str]:
        """``{image id: analyst}`` of the images someone else holds now."""
        with session_scope(self.engine, action="read") as s:
            return repo.held_by_others(s, image_ids, self.analyst)

    def pauses_in_force(self, model_version: str | None, calibration: Calibration | None = None) -> frozenset[int]:
        """The ids of the purity monitor's pauses in force for ``model_version`` routed under ``calibration`` (a
        lead's ``fma-judge monitor --resume`` ends one from another computer; the window's poll notices it by this,
        and compares them with its own calibration's: :func:`~app.services.monitor.in_force_for`); without one, all."""
        if not model_version:
            return frozenset()
        from app.services.monitor import calibration_key, in_force_for

        with session_scope(self.engine, action="read") as s:
            try:
                if calibration is None:
                    return frozenset(p.id for p in repo.pauses(s, model_version))
                key = calibration_key(calibration)
                return frozenset(p.id for p in repo.pauses(s, model_version) if in_force_for(p, key))
            except LookupError:  # a version not registered in this store (yet)
                return frozenset()

    def team_model(self) -> TeamModelRecord | None:
        """The team's model in force (``fma-judge deploy``), None when none is deployed."""
        with session_scope(self.engine, action="read") as s:
            return repo.team_model(s)

    def release_claims(self) -> int:
        """Give up every claim of this analyst (the window closes)."""
        if self.read_only is not None:
            return 0
        with session_scope(self.engine, durable=False) as s:
            return repo.release(s, self.analyst)

    def undo(self) -> JudgmentRecord | None:
        """Undo this session's latest judgment (whichever image it was on); None when nothing is left."""
        return self._revert(self._undo, self._redo, "undo")

    def redo(self) -> JudgmentRecord | None:
        return self._revert(self._redo, self._undo, "redo")

    def _revert(self, taken: list[int], given: list[int], action: str) -> JudgmentRecord | None:
        """Revert the judgment on top of ``taken`` and put the new row on ``given``. A store error leaves both
        stacks as they were (try again); a conflict (judged again since, by someone) drops the entry: it can never
        be reverted, and the next undo or redo goes on."""
        if not taken:
            return None
        try:
            with session_scope(self.engine) as s:
                rec = repo.revert_judgment(s, taken[-1], analyst=self.analyst, action=action)
        except JudgmentConflictError:
            taken.pop()
            raise
        taken.pop()
        given.append(rec.id)
        return rec

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def batch_of_image(self, image_id: int) -> BatchSummary | None:
        """The batch to open an image in (:func:`app.services.batches.batch_of_image`)."""
        return batches.batch_of_image(self.engine, image_id)

    def image_places(self, image_ids: Sequence[int]) -> list[tuple[str, str | None]]:
        """(file name, batch name): each image's file name where it was seen last and the newest batch holding it
        (None: none does), in the order given; an image the store no longer has is left out."""
        with session_scope(self.engine, action="read") as s:
            return [(name, batch) for _id, name, batch in repo.image_places(s, image_ids)]

    def marked_for_spectra(self, image_id: int, model_version: str) -> bool:
        """Whether the store marks the image's prediction as made before its newest spectrum (an undone decision
        of an image whose spectrum came while it was decided: :func:`app.store.repo.restale_before_spectra`)."""
        with session_scope(self.engine, action="read") as s:
            return repo.marked_for_spectra(s, image_id, model_version)

    def history(self, image_id: int) -> list[JudgmentRecord]:
        with session_scope(self.engine, action="read") as s:
            return repo.judgment_history(s, image_id)

    # -- export ----------------------------------------------------------------------------------
    def export_count(self, *, batch_id: int | None = None, since: dt.datetime | None = None,
                     statuses: Collection[str] | None = None) -> int:
        """How many images an export with these filters writes, at most (:func:`count_export_rows`)."""
        with session_scope(self.engine, action="read") as s:
            return count_export_rows(s, batch_id=batch_id, since=since, statuses=statuses)

    def export(self, out: Path, fmt: str, *, batch_id: int | None = None, since: dt.datetime | None = None,
               statuses: Collection[str] | None = None, progress=None, overwrite: bool = True) -> ExportResult:
        """``fma-judge export`` from the app: the same formats (csv, json, imagefolder) and filters; ``progress``:
        called with ``(rows written, 0)`` as the export goes; ``overwrite`` False: an image folder's earlier export
        found there now is refused (the analyst was not asked about it)."""
        return export_labels(self.engine, out, fmt, batch_id=batch_id, since=since, statuses=statuses,
                             progress=progress, overwrite=overwrite, by=self.analyst)


__all__ = ["UNDECIDED_STATUSES", "JudgingService", "OpenedBatch", "StoreError", "existing_export"]
