"""Opening a batch in the main window: choosing a folder or files, reading them off the UI thread, and showing the
batch, a new folder's first files at once while the rest is registered (the list grows under the analyst).

A mixin of :class:`app.ui.main_window.MainWindow`, like :mod:`app.ui.side_actions`. Only the newest open's
results are shown: a folder opened while another was still being read replaces it.
"""

from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QMessageBox
from shiboken6 import isValid

from app.services.presenter_records import judged_elsewhere
from app.store.records import BatchSummary, OpenedBatch
from app.ui import file_dialogs, startup_log
from app.ui.skipped_dialog import SkippedDialog
from app.ui.style import open_text, store_line
from app.ui.workers import Task
from models.imageio import IMAGE_SUFFIXES


class BatchOpening:
    """Expects the window's ``service``, ``presenter``, ``status``, ``images``, ``list_model``, ``center``,
    ``viewer``, ``worker``, ``_runner``, ``_pending_open``, ``_opening``, ``skipped``, ``current``,
    ``select``, ``alert``, ``settings``, ``_attached``, ``_refresh_list`` and ``_start_predictions``."""

    _run_open = False  # a prediction run is under way (the window's _start_predictions / _run_finished)
    _grown_in_run = False  # the batch grew during it: its end starts a run for the new images
    _growing = False  # a large folder's parts are arriving (its first is on screen, the rest is registered)
    _before_part = False  # the newest opening has shown nothing yet (a folder being listed, its first files read)
    _cut_short = False  # that opening stopped the reading of the batch on screen (it was still growing)
    _open_task: Task | None = None  # the newest opening's task, until it reports
    _reloads = _reloaded_to = 0  # the batch's re-reads from the store asked for, and the newest one shown
    _predict_after = False  # predictions were asked for while a re-read was under way: they start after it
    _choosing = 0  # counts the folders chosen (choose_folder): only the newest one's count is asked about

    def choose_folder(self) -> None:
        folder = file_dialogs.choose_folder(self, QCoreApplication.translate("Main", "Open a folder of images"),
                                            self._last_place())
        if not folder:
            return
        self._remember_place(Path(folder).parent)
        from app.services.batches import images_below  # imports the store: never before the window is shown

        # Asked only when the sub-folders hold images. Counted off the UI thread: a folder on a slow share takes
        # seconds to list, and the window must answer meanwhile; an opening started before the count comes wins.
        self._choosing += 1
        seq = (self._opening, self._choosing)
        self.statusBar().showMessage(QCoreApplication.translate("Main", "Looking into {p}…").format(p=folder))
        service = self.service

        def below(path: Path) -> int:  # -1: its batch holds them already (the question asked about them again)
            return -1 if service is not None and service.opened_with_subfolders(path) else images_below(path, limit=1000)

        task = Task(below, Path(folder))
        task.signals.result.connect(lambda below: seq == (self._opening, self._choosing)
                                    and self._ask_below(Path(folder), below))
        task.signals.error.connect(lambda _msg: seq == (self._opening, self._choosing) and self.open_folder(Path(folder)))
        self._runner.start(task)

    def _ask_below(self, folder: Path, below: int) -> None:
        """Open a chosen folder, with its sub-folders when they hold images and the analyst says so (``below``
        -1: its batch holds them already, and opens with them again without a question)."""
        self.statusBar().clearMessage()
        recursive = below < 0 or (below > 0 and QMessageBox.question(
            self, QCoreApplication.translate("Main", "Sub-folders"),
            QCoreApplication.translate("Main", "The sub-folders of {folder} hold 1 more image. Open it with the folder's "
                                               "images?").format(folder=folder.name) if below == 1 else
            QCoreApplication.translate("Main", "The sub-folders of {folder} hold {n} more images. Open them with the "
                                               "folder's images?").format(folder=folder.name,
                n=f"{below}+" if below >= 1000 else below)) == QMessageBox.StandardButton.Yes)
        self.open_folder(folder, recursive=recursive)

    def _share_back(self, image_id: int) -> None:
        """A file not reached was read (a share back): its prediction, heatmap and the thumbnails made again."""
        self.list_model.retry_unreached()  # (and, below, the predictions of the batch's images the model missed)
        self._update_row(self.presenter.row_of(image_id))
        self._update_counts()
        self.worker.predict_again({image_id})
        self._refocus()
        # (while a large folder is registered, its last part starts the run)
        if self.model is not None and not self._growing and self.presenter.todo(self.model.version):
            if self._run_open:
                self._grown_in_run = True  # (its end starts the run)
            else:
                self._start_predictions()

    def choose_files(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        files = file_dialogs.choose_files(self, QCoreApplication.translate("Main", "Open images"), self._last_place(),
                                          QCoreApplication.translate("Main", "Images ({p})").format(p=patterns))
        if files:
            self._remember_place(Path(files[0]).parent)
            self.open_files([Path(f) for f in files])

    def _last_place(self) -> str:
        """Where the last folder or files were chosen, else beside the batch on screen (the dialogs started in the
        app's working folder)."""
        last = self.settings.value("open/folder") if self.settings is not None else None
        if last and Path(str(last)).is_dir():
            return str(last)
        batch = self.presenter.batch  # else beside the batch on screen
        return str(Path(batch.source).parent) if batch is not None and batch.source and \
            Path(batch.source).parent.is_dir() else ""

    def _remember_place(self, folder: Path) -> None:
        if self.settings is not None:
            self.settings.setValue("open/folder", str(folder))

    def open_folder(self, folder: Path, recursive: bool = False) -> None:
        if self._attached(lambda: self.open_folder(folder, recursive)):
            self._open(self.service.open_folder, Path(folder), recursive=recursive)

    def load_recent_batches(self) -> None:
        """The start page's list of recent batches, read in the background."""
        task = Task(self.service.recent_batches)
        task.signals.result.connect(self.welcome.set_recent)
        task.signals.error.connect(lambda msg: None)  # the start page simply shows none
        self._runner.start(task)

    def open_recent(self, batch: BatchSummary) -> None:
        """Resume a batch of the start page: its folder (new files join it), or, for chosen files or a folder that is
        gone, the batch as stored."""
        folder = Path(batch.source_folder)
        if batch.kind == "folder" and folder.is_dir():
            self.open_folder(folder, recursive=batch.recursive)
        elif self._attached(lambda: self.open_recent(batch)):
            self._open(self.service.open_batch, batch.id)

    def open_files(self, files: list[Path]) -> None:
        if self._attached(lambda: self.open_files(files)):
            self._open(self.service.open_files, list(files))

    def _open(self, fn, *args, **kwargs) -> None:
        self.worker.cancel()
        if self._open_task is not None:  # an older opening still reading stops: the newest open wins
            self._open_task.cancel()
        self._cut_short = self._growing
        self._growing, self._before_part = False, True
        self.status.reading(cancellable=True)
        self._opening += 1  # the newest open wins: what an older one delivers later is dropped
        seq = self._opening
        task = Task(fn, *args, with_progress=True, with_part=True, model_version=self.presenter.model_version,
                    **kwargs)
        shown_part: list[OpenedBatch] = []  # this open's first part, once it is on screen

        def part(opened: OpenedBatch) -> None:
            if seq == self._opening:
                self._growing, self._before_part = True, False
                if shown_part:
                    self._batch_grown(opened, done=False)
                else:
                    shown_part.append(opened)
                    self._batch_opened(opened, part=True)

        def whole(opened: OpenedBatch) -> None:
            if seq == self._opening:
                self._growing = self._before_part = False
                (self._batch_grown if shown_part else self._batch_opened)(opened)
                if opened.below and self.items:
                    self.statusBar().showMessage(self._below_text(opened), 15_000)

        task.signals.progress.connect(lambda done, total: seq == self._opening and self.status.reading(
            done, total, cancellable=self._growing or self._before_part))
        task.signals.part.connect(part)
        task.signals.result.connect(whole)
        task.signals.failed.connect(lambda exc: seq == self._opening and self._open_failed(exc))
        self._open_task = task
        self._runner.start(task)

    def cancel_predictions(self) -> None:
        """The status bar's Cancel stops what its label shows: a large folder's reading (:meth:`stop_reading`) or
        the prediction run (the two take turns on the label while both go on)."""
        if not (self.status.showing == "reading" and self.stop_reading()):
            self.worker.cancel()

    def reading_shown(self) -> None:
        """After a prediction run ended: while a large folder is still read, its progress and Cancel stay shown."""
        if self._growing or self._before_part:
            self.status.reading(*self.status.read_so_far, cancellable=True)

    def stop_reading(self) -> bool:
        """Stop reading the rest of a folder whose first part is on screen (the status bar's Cancel while it says
        "Reading images"): the images listed so far stay and are predicted, the ones registered meanwhile stay in
        the store, and opening the folder again reads the rest. Before anything of it is on screen (a folder on a
        slow share still being listed, or files still read before the first of them can be shown), the opening stops
        and the batch on screen stays; its predictions go on. False when no folder is being read."""
        task = self._open_task
        if task is None or not (self._growing or self._before_part):
            return False
        if self._before_part:
            task.cancel()
            self._opening += 1  # what it would still deliver is dropped
            self._before_part = False
            self.status.reading_stopped(run_going=False)
            self.statusBar().showMessage(QCoreApplication.translate(
                "Main", "Opening stopped: the images on screen stay as they were; their folder was not read to its "
                        "end: open it again to read the rest.") if self._cut_short else QCoreApplication.translate(
                "Main", "Opening stopped: the images on screen stay as they were."), 15_000)
            if self.model is not None and self.items and self.presenter.todo(self.model.version):
                self._start_predictions()  # the opening stopped the shown batch's run: it goes on
            return True
        task.cancel()
        self._opening += 1  # what the task delivered meanwhile is dropped: the list stays as it is now
        self._growing = False
        self.status.reading_stopped(run_going=self._run_open)
        self.statusBar().showMessage(QCoreApplication.translate(
            "Main", "Stopped reading the folder at {n} images: open it again to read the rest.").format(
            n=f"{len(self.items):,}"), 15_000)
        if self._run_open:
            self._grown_in_run = True
        else:
            self._start_predictions()
        return True

    def _open_failed(self, error: BaseException | str) -> None:
        """A batch could not be opened: said in the UI language (the line, without a user, in English)."""
        self._growing = self._before_part = False
        self.status.finished()
        self.alert(QMessageBox.warning, QCoreApplication.translate("Main", "Cannot open"), open_text(error),
                   line=f"cannot open: {error}")

    def _reload_items(self) -> None:
        """Read the open batch again from the store (another model's predictions, the routes a pause changed, a
        pause lifted elsewhere), off the UI thread: 100,000 rows took 2.7 s, a frozen window. The window's keys and
        its model's predictions go on meanwhile, and what they applied stays (:meth:`BatchPresenter.reload`)."""
        batch = self.presenter.batch
        if batch is None or self.service is None:
            return
        self._reloads += 1
        seq, version = self._reloads, self.presenter.model_version
        task = Task(self.service.batch_items, batch.batch_id, model_version=version)
        task.signals.result.connect(lambda items: isValid(self) and self._reloaded(seq, batch.batch_id, version, items))
        task.signals.failed.connect(lambda exc: isValid(self) and self._reloaded(seq, batch.batch_id, version, None,
                                                                                 store_line(exc)))  # (UI language)
        self._runner.start(task)

    def _reloaded(self, seq: int, batch_id: int, version: str | None, items: list | None, error: str = "") -> None:
        if seq != self._reloads:
            return  # a newer re-read was asked for: its result shows
        self._reloaded_to = seq
        batch = self.presenter.batch
        if items is None:
            self.statusBar().showMessage(error, 10_000)  # (the database away: its banner says the rest)
        elif batch is not None and batch.batch_id == batch_id and self.presenter.model_version == version:
            if (rows := self.presenter.reload(items)) is None:
                self._refresh_list()
            for row in rows or ():  # (the rows that changed, of an unfiltered list: a few of 100,000)
                self._update_row(row)
            self._update_counts()
            if rows is None or self.current in rows:
                row = max(0, self.current)
                self.presenter.current = -1  # show it again: its prediction may have changed
                self.select(row)
        if self._predict_after:
            self._predict_after = False
            self._start_predictions()

    def _after_reload(self) -> bool:
        """Whether a re-read of the batch is under way: predictions asked for now start after it (they would
        predict again what the store already holds of the loaded model)."""
        if self._reloaded_to == self._reloads:
            return False
        self._predict_after = True
        return True

    def _batch_grown(self, opened: OpenedBatch, done: bool = True) -> None:
        """More of a batch whose first part is on screen (the next part of a large folder, or, ``done``, the last):
        the list grows at its end, the image on screen, its selection and the scroll stay. The first part's run (and
        the focus: the image on screen and the next ones) goes on meanwhile; the rest of the folder is predicted once
        it is listed (by a new run, or when the run under way ends), so that the model does not compete for the
        cores with the registering of a 100,000-image folder."""
        if done:
            self.status.reading_done(run_going=self._run_open)
            self.spectrum_panel.look_up(self.current_image_id)  # spectra are attached once the folder is registered
        self.skipped = list(opened.skipped)
        self.status.set_skipped(len(self.skipped))
        held = len(self.items)
        shown = self.presenter.current_item  # (the whole batch again: its file may have been renamed)
        rows = self.presenter.grow(opened)
        if opened.continues:  # (a row is said unreadable once, not at each of 390 parts: the presenter's rows)
            for row in filter(lambda r: r < held, self.presenter.turned_unreadable):
                self._update_row(row)  # a row listed before, its file unreadable now (a batch resumed as stored)
                if row == self.current:  # on screen: said so (its file deleted, or written over with another picture)
                    self.presenter.current = -1
                    self.select(row)
            self.list_model.append_rows([self.presenter.list_row(i) for i in rows])
            self.list_filter.show_count(len(self.list_model.rows), len(self.items))
            self._update_counts()
        else:  # the whole batch again
            self._refresh_list()
            if (row := self.current) >= 0:
                if shown is not None and shown.image.path != self.presenter.current_item.image.path:
                    # renamed: shown as stored, its old path was not found; shown again (read again: _show)
                    self.presenter.current = -1
                self.select(row)  # the list's selection and scroll; the image is already shown
        _freeze_batch()
        if self._run_open and opened.continues:
            self._grown_in_run = True
        elif done or not opened.continues:
            self._start_predictions()
        if done:
            self._say_carried()

    def _batch_opened(self, opened: OpenedBatch, part: bool = False) -> None:
        """A batch to show: all of it, or (``part``) its first files while the rest is registered."""
        startup_log.mark("batch_opened")
        if not part:
            self.status.finished()
        if not opened.items:  # the batch on screen stays, with its own left-out files
            self.alert(QMessageBox.information, QCoreApplication.translate("Main", "No images"),
                       QCoreApplication.translate("Main", "There are no images (PNG, JPEG, BMP, TIFF) in {where}.")
                       .format(where=opened.source) + (" " + self._below_text(opened) if opened.below else ""),
                       line=f"no images (PNG, JPEG, BMP, TIFF) in {opened.source}")
            if opened.skipped:
                SkippedDialog(list(opened.skipped), self).show()
            return
        self.skipped = list(opened.skipped)
        self.status.set_skipped(len(self.skipped))
        self.images.clear()
        wanted, self._pending_open = self._pending_open, None
        first = self.presenter.open(opened, wanted=wanted, analyst=self.service.analyst if self.service else None)
        if self.presenter.model_state in ("loading", "ready") and self.presenter.todo(self.presenter.model_version):
            self.list_model.hold_thumbnails()  # until the first predictions are on screen (at most 2 s)
            QTimer.singleShot(2000, self, lambda batch=self.presenter.batch: self.presenter.batch is batch
                              and self.list_model.release_thumbnails())
        self.setWindowTitle(f"fma-judge — {opened.name}")
        self._left_shown = 0  # (a batch finished by colleagues meanwhile opens without "Every image … is judged")
        self._refresh_list()
        self.center.setCurrentWidget(self.splitter)
        self.select(first)
        # the image the batch opened on, not one asked for: if a colleague holds it, the first claims move on; if
        # the model auto-judges it while the analyst is still on it, the first predictions move on
        self._opened_on = self._start_on = self.current_image_id if wanted is None else None
        self._passed_auto = []
        if not part:  # (a large folder's first part: said once the whole batch is in, counted over all of it)
            self._say_carried()
        _freeze_batch()
        self._start_predictions()

    def _say_carried(self) -> None:
        """How many images of the batch were judged in another batch (the same picture in an earlier lot): they
        arrived judged, unsaid (bug hunt). Said after the predictions' progress is shown, which a message hides
        until it goes (the progress bar came up over it: scale walk-through)."""
        batch = self.presenter.batch
        if batch is None or not (n := sum(judged_elsewhere(it, batch.batch_id) for it in self.presenter.items)):
            return
        text = QCoreApplication.translate(
            "Main", "1 image of this batch was judged in another batch (the same picture): that judgment is kept, and "
                    "its panel says whose.") if n == 1 else QCoreApplication.translate(
            "Main", "{n} images of this batch were judged in other batches (the same pictures): their judgments are "
                    "kept, and their panels say whose.").format(n=n)
        QTimer.singleShot(0, self, lambda: self.presenter.batch is batch and self.statusBar().showMessage(
            "  ·  ".join(filter(None, (self.statusBar().currentMessage(), text))), 15_000))  # (beside the line of
        # the folder's sub-folders said a moment before: it replaced it: review)

    def pass_auto_judged(self) -> None:
        """New predictions arrived. If the batch opened on an image the model has just auto-judged and the analyst is
        still on it, go on to the next image that needs a person, as Next would (again if the model judges that one
        too), and say so: a new batch starts where the work is, not on an image nobody has to look at."""
        start_on, item = getattr(self, "_start_on", None), self.presenter.current_item
        if start_on is None or item is None or item.image.image_id != start_on:
            self._start_on = None  # the analyst has moved: they choose from now on
            return
        if item.prediction is None:  # not predicted yet: wait for it
            return
        self._start_on = None
        row = self.presenter.next_open(self.current) if item.state == "auto" else None
        if row is None:  # it needs a person, or nothing else does
            return
        order = self.presenter.shown_rows()  # every row passed over, not one a hop (a chunk judges several at once)
        at, to = (order.index(r) if r in order else -1 for r in (self.current, row))
        self._passed_auto += [Path(self.presenter.items[r].image.path).name for r in order[at:to]] \
            if 0 <= at < to else [Path(item.image.path).name]
        self.select(row)
        self._start_on = self.current_image_id
        passed = self._passed_auto
        self.statusBar().showMessage(QCoreApplication.translate(
            "Main", "The model judged {file}: you start on the next image that needs a person (Up goes back)").format(
            file=passed[0]) if len(passed) == 1 else QCoreApplication.translate(
            "Main", "The model judged the first {n} images: you start on the first that needs a person").format(
            n=len(passed)), 10_000)

    @staticmethod
    def _below_text(opened: OpenedBatch) -> str:
        if opened.below == 1:
            return QCoreApplication.translate(
                "Main", "1 more image lies in the folder's sub-folders: open the folder again and answer Yes to add it.")
        n = f"{opened.below}+" if opened.below >= 10_000 else str(opened.below)
        return QCoreApplication.translate(
            "Main", "{n} more images lie in the folder's sub-folders: open the folder again and answer Yes to add "
                    "them.").format(n=n)

    def show_skipped(self) -> SkippedDialog:
        """The files the open batch left out, with their reasons (non-modal)."""
        dialog = SkippedDialog(self.skipped, self)
        dialog.show()
        return dialog


def _freeze_batch() -> None:
    """Keep the open batch's records out of the garbage collector's full collections (``gc.freeze``, constant time).

    A 100,000-image batch is a million objects with its rows, alive as long as it is open; a full collection walks
    them all while it holds the GIL, and stalled the UI thread for up to 180 ms (``python -m bench folder``). The
    records hold no reference cycles: when the batch is closed, reference counting frees them all the same. What
    else is alive at that moment and later becomes cyclic garbage stays (a small, bounded cost, as for the model's
    objects frozen after its load).
    """
    gc.freeze()
