"""The main window: batch list | image viewer | prediction panel, driven entirely by the keyboard.

The window is a thin view. The open batch's state lives in :class:`app.services.batch_presenter.BatchPresenter`
(items, current image, states, counts), judgments in :class:`app.services.judging.JudgingService` (store),
predictions in :class:`app.services.predicting.PredictingService` run by :class:`app.ui.workers.ModelWorker`.
This class turns their plain results into widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QItemSelectionModel, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.batch_presenter import BatchPresenter
from app.services.note_drafts import NoteDrafts
from app.services.predicting import ModelInfo, PredictingService, interactive_threads
from app.store.records import FILE_REPLACED, BatchItem, picture_file, reach_error
from app.ui import keymap
from app.ui.alerts import alert
from app.ui.batch_list import BatchListModel, BatchListView
from app.ui.batch_opening import BatchOpening
from app.ui.explain import WhyThisType, attention_caption
from app.ui.help_overlay import HelpOverlay
from app.ui.image_cache import ImageCache
from app.ui.judging_actions import JudgingActions
from app.ui.list_filter import ListFilterBar
from app.ui.model_loading import ModelLoading
from app.ui.prediction_panel import PredictionPanel
from app.ui.purity_checks import PurityChecks
from app.ui.references import References
from app.ui.repeat_guard import RepeatGuard, key_text_of
from app.ui.right_column import RightColumn, with_actions
from app.ui.side_actions import SideActions
from app.ui.similar_panel import SimilarPanel
from app.ui.spectrum_panel import SpectrumPanel
from app.ui.statusbar import MainStatusBar
from app.ui.store_upkeep import StoreUpkeep
from app.ui.style import APP_STYLE, LOADING_SAID_MS, away_text, file_reason_text, loading_text, replaced_text
from app.ui.toolbar import MainToolBar
from app.ui.viewer import ImageViewer, pixel_size_um
from app.ui.welcome import WelcomePage
from app.ui.workers import ModelWorker, TaskRunner
from models.imageio import is_reach_reason

if TYPE_CHECKING:  # the store's services import SQLAlchemy: the window is on screen before they are imported
    from app.services.judging import JudgingService
    from app.ui.dashboard_view import DashboardView
    from app.ui.queue_view import QueueView

LOOKAHEAD = 4
"""Images after the one on screen, in judging order, whose predictions and heatmaps are made ahead."""


class MainWindow(JudgingActions, PurityChecks, BatchOpening, ModelLoading, SideActions, StoreUpkeep, QMainWindow):
    """Signals: ``allPredicted`` when a batch's prediction run ends; ``heatmapShown`` when one is drawn.

    ``interactive=False`` (``--screenshot``: nobody at the screen): an error the window would show in a message
    box is one line on stderr instead, and the app exits with code 2 (:meth:`alert`).
    """

    allPredicted = Signal()
    heatmapShown = Signal(int)

    def __init__(self, service: JudgingService | None = None, *, lang: str = "en", demo_batch: Path | None = None,
                 settings=None, device: str = "cpu", interactive: bool = True, analyst: str = "") -> None:
        """The window; ``service`` may come later (:meth:`attach`): the app shows the window, then opens the
        database (importing SQLAlchemy takes longer than building the window)."""
        super().__init__()
        self.service: JudgingService | None = None
        self._when_attached: list[Callable[[], None]] = []
        self.interactive, self.lang, self.demo_batch, self.settings = interactive, lang, demo_batch, settings
        self.stopping = False  # closing for a stop signal (app.ui.app.close_for_stop): nobody is asked anything
        self._heatmaps_away: set[int] = set()  # images whose heatmap failed as their file was not reached
        self.keymap = keymap.load(settings)  # the analyst's key bindings (Settings → Keyboard shortcuts…)
        self._shortcuts: list[QShortcut] = []
        self._once = RepeatGuard(self, lambda: self._once_keys)  # a held Enter judged 20 images a second
        self.model: ModelInfo | None = None
        self._remember_model = True  # the loaded model's path goes to the settings (not the demo's tour)
        self.presenter = BatchPresenter(lang=lang, unknown_text=QCoreApplication.translate(
            "Panel", "unknown / new defect type"), blind_text=QCoreApplication.translate("Panel", "spot check · judge blind"),
            outside_text=QCoreApplication.translate("Panel", "{leaf} (not in this model's tree)"))
        self.note_drafts = self.presenter.drafts = NoteDrafts()  # notes typed, not saved, by image id: N brings them back
        self.pool = QThreadPool.globalInstance()
        self._runner = TaskRunner(self.pool)
        self.images = ImageCache(self._runner, self)
        self.images.keep = lambda: self.current_image_id
        self.images.decoded.connect(self._image_decoded)
        self.images.heatmapsDropped.connect(lambda ids: self.worker.forget_heatmaps(set(ids)))
        self._pending_open: int | None = None
        self._opening = 0  # counts the batches opened (_open): only the newest one's results are shown
        self.skipped: list[tuple[str, str]] = []  # (path, why) of the files the open batch left out
        self.setWindowTitle("fma-judge")
        self.resize(1440, 880)
        self.setAcceptDrops(True)

        self._queue_view: QueueView | None = None  # made when first shown: not on the way to the first prediction
        self._dashboard_view: DashboardView | None = None
        self.worker = ModelWorker(PredictingService(None, device=device, chunk_size=8,
                                                    max_threads=interactive_threads()), parent=self)
        self.worker.manifestRead.connect(self._manifest_read)
        self.worker.modelLoaded.connect(self._model_loaded)
        self.worker.modelFailed.connect(self._model_failed)
        self.worker.predicted.connect(self._predicted)
        self.worker.progress.connect(
            lambda run, done, total: run == self.worker.current_run and self.status.predicting(done, total))
        self.worker.runFinished.connect(self._run_finished)
        self.worker.heatmapReady.connect(self._heatmap_ready)
        self.worker.heatmapFailed.connect(self._heatmap_failed)  # a failed heatmap leaves the image plain
        self.worker.failed.connect(lambda msg: self.statusBar().showMessage(msg.splitlines()[0], 10_000))
        self.worker.start()
        self._build_views()
        self._build_toolbar()
        self._build_statusbar()
        self.status.set_analyst(analyst)
        self.refs = References(self)
        self.why = WhyThisType(self)
        self._apply_keys()
        self.setStyleSheet(APP_STYLE)
        self.restore_layout()  # the size, place and pane widths the analyst left
        if service is not None:
            self.attach(service)

    def attach(self, service: JudgingService) -> None:
        """Connect the window to the open store: judging, the model thread, similar cases, backups. What was asked
        of the window before (a model, a folder) runs now."""
        from app.services.similar import SimilarCases
        from app.services.spectra import SpectrumSearch

        if self.service is not None:
            raise RuntimeError("the window already has its store")
        self.service = service
        self.similar = self.similar_panel.service = SimilarCases(service.engine)
        self.spectrum_panel.service = SpectrumSearch(service.engine)
        self.worker.service.engine = service.engine  # before any model load or prediction is queued
        self.panel.judging = service.read_only is None
        self._show_read_only_banner()
        self.status.set_analyst(service.analyst)
        self._keep_drafts(service)
        self._start_backups()
        self._start_colleague_poll()
        self.load_recent_batches()
        waiting, self._when_attached = self._when_attached, []
        for run in waiting:
            run()

    def _attached(self, run: Callable[[], None]) -> bool:
        """False (and ``run`` kept for :meth:`attach`) while the window has no store yet."""
        if self.service is None:
            self._when_attached.append(run)
            return False
        return True

    # ------------------------------------------------------------------------------------------
    # state, as the tests and benchmarks read it
    @property
    def items(self) -> list[BatchItem]:
        return self.presenter.items

    @property
    def current(self) -> int:
        return self.presenter.current

    @property
    def current_image_id(self) -> int | None:
        item = self.presenter.current_item
        return None if item is None else item.image.image_id

    # ------------------------------------------------------------------------------------------
    # layout
    def _build_views(self) -> None:
        self.list_model = BatchListModel(self)
        self.list_model.unreadable.connect(self._unreadable)
        self.list_view = BatchListView(self)
        self.list_view.setModel(self.list_model)
        self.list_view.selectionModel().currentChanged.connect(lambda cur, _prev: self._show(self._item_row(cur.row())))
        self.viewer = ImageViewer(self)
        self.panel = PredictionPanel(self)
        self.panel.judging = False  # until the store is attached, and on a read-only store
        self.panel.acceptRequested.connect(self.accept_current)
        self.panel.unknownRequested.connect(self.mark_unknown)
        self.panel.pickerRequested.connect(self.open_picker)
        self.panel.noteRequested.connect(self.add_note)
        self.panel.topkRequested.connect(self.choose_topk)
        self.welcome = WelcomePage(self, has_demo=self.demo_batch is not None)
        self.welcome.openDemo.connect(lambda: self.demo_batch is not None and self.open_folder(self.demo_batch))
        self.welcome.openFolder.connect(self.choose_folder)
        self.welcome.openBatch.connect(self.open_recent)
        self.similar_panel = SimilarPanel(None, self.lang, self, runner=self._runner)
        self.similar_panel.openImage.connect(lambda image_id: self.open_image(image_id, ask=True))
        self.spectrum_panel = SpectrumPanel(None, self.lang, self)  # (hidden until an image has a spectrum)
        self.spectrum_panel.said.connect(lambda text: self.statusBar().showMessage(text, 6000))
        # the prediction panel kept whole when a pane appears
        right = self.right_splitter = RightColumn(self, self.panel, self.spectrum_panel, self.similar_panel)
        self.list_filter = ListFilterBar(self.presenter.list_types, self._node_depth, self)
        self.list_filter.changed.connect(self.set_list_filter)
        self.list_filter.done.connect(self.setFocus)
        self.list_filter.setEnabled(False)  # until a batch is open
        list_pane = self.list_pane = QWidget(self)  # L hides and shows it (SideActions.toggle_list_pane)
        list_layout = QVBoxLayout(list_pane)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.setSpacing(0)
        list_layout.addWidget(self.list_filter)
        list_layout.addWidget(self.list_view, 1)
        split = self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(list_pane)
        split.addWidget(self.viewer)
        split.addWidget(with_actions(right, self.panel.actions))  # the judging buttons at one place
        split.setStretchFactor(1, 1)
        split.setSizes([290, 780, 370])
        self.viewer.resized.connect(self.hint_narrow_image)
        # the start page has the window to itself: an empty list and a panel of greyed buttons said nothing
        self.center = QStackedWidget(self)
        self.center.addWidget(self.welcome)
        self.center.addWidget(split)
        self.center.currentChanged.connect(self._only_shown_page_sizes)
        self.setCentralWidget(self._with_banner_place(self.center))
        self.help = HelpOverlay(self, self.keymap)  # over the whole window, outside its layout

    def _build_toolbar(self) -> None:
        tb = self.toolbar = MainToolBar(self.lang, self)
        self.addToolBar(tb)
        tb.act_open.triggered.connect(self.choose_folder)
        tb.act_files.triggered.connect(self.choose_files)
        tb.act_model.triggered.connect(self.choose_model)
        tb.act_export.triggered.connect(self.export_labels)
        tb.act_queue.triggered.connect(self.show_queue)
        tb.act_dashboard.triggered.connect(self.show_dashboard)
        tb.act_heat.toggled.connect(self.viewer.set_heatmap_visible)
        tb.act_side.toggled.connect(self.viewer.set_side_by_side)
        tb.act_help.triggered.connect(lambda: self.help.toggle())  # edit_keys replaces the overlay
        tb.opacity.valueChanged.connect(lambda v: self.viewer.set_heatmap_opacity(v / 100))
        tb.languageChosen.connect(self.set_language)
        tb.analystChangeRequested.connect(self.change_analyst)
        tb.keysEditRequested.connect(self.edit_keys)
        tb.pixelSizeRequested.connect(self.edit_pixel_size)
        tb.panesResetRequested.connect(self.right_splitter.release)

    def _build_statusbar(self) -> None:
        self.status = MainStatusBar(self)
        self.setStatusBar(self.status)
        self.status.cancelRequested.connect(self.cancel_predictions)
        self.status.skipped_btn.clicked.connect(self.show_skipped)
        self.counts_label = self.status.counts_label

    def _handlers(self) -> dict[str, Callable[[], object]]:
        """What each key action of :mod:`app.ui.keymap` does here."""
        tb, viewer = self.toolbar, self.viewer
        return {
            "accept": self.accept_current,
            **{f"top{k}": (lambda k=k: self.choose_topk(k)) for k in range(1, 6)},
            "picker": self.open_picker, "unknown": self.mark_unknown, "note": self.add_note,
            "add_label": self.add_label, "remove_label": self.remove_label,
            "previous": lambda: self.move(-1), "next": lambda: self.move(1),
            "first": lambda: self.move(-len(self.items)),  # move() stops at the first / last image
            "last": lambda: self.move(len(self.items)),
            "page_up": lambda: self.move(-self.list_view.page_rows()),
            "page_down": lambda: self.move(self.list_view.page_rows()),
            "panel_up": lambda: self.panel.scroll_page(-1), "panel_down": lambda: self.panel.scroll_page(1),
            "undo": self.undo, "redo": self.redo, "heatmap": tb.act_heat.toggle, "why": self.why.cycle,
            "top_scope": self.toggle_top_scope, "side": tb.act_side.toggle,
            "opacity_down": lambda: tb.nudge_opacity(-10), "opacity_up": lambda: tb.nudge_opacity(10),
            "zoom_in": lambda: viewer.zoom(1.25), "zoom_out": lambda: viewer.zoom(0.8), "fit": viewer.fit,
            "brightness_up": lambda: viewer.nudge("brightness", 1), "brightness_down": lambda: viewer.nudge("brightness", -1),
            "contrast_up": lambda: viewer.nudge("contrast", 1), "contrast_down": lambda: viewer.nudge("contrast", -1),
            "gamma_up": lambda: viewer.nudge("gamma", 1), "gamma_down": lambda: viewer.nudge("gamma", -1),
            "reset_view": viewer.set_adjustments, "open_folder": self.choose_folder, "queue": self.show_queue,
            "open_files": self.choose_files, "model": self.choose_model, "export": self.export_labels,
            "settings": tb.show_settings_menu,
            "list_filter": self.open_list_filter, "list_pane": self.toggle_list_pane, "references": self.refs.cycle,
            "skipped": lambda: self.show_skipped() if self.skipped else self.statusBar().showMessage(
                QCoreApplication.translate("Main", "No file was left out of this batch."), 5000),
            "dismiss": self.dismiss_notices,
            "notice_action": self.act_on_notice,
            "spectrum_reference": self.spectrum_panel.next_reference, "spectrum_next": self.spectrum_panel.next_spectrum,
            "help": lambda: self.help.toggle(), "quit": self.close, "dashboard": self.show_dashboard,
        }

    def _apply_keys(self) -> None:
        """(Re)make the window's shortcuts from :attr:`keymap`; the panel's buttons name them."""
        self.panel.set_keys(self.keymap)
        self.welcome.set_keys(self.keymap)
        self.toolbar.set_keys(self.keymap)
        self.similar_panel.next_key = keymap.shown_keys(self.keymap, "references")
        for old in self._shortcuts:
            old.setEnabled(False)
            old.deleteLater()
        self._shortcuts = []
        self._once_keys = {key_text_of(k) for a in keymap.ONCE_PER_PRESS for k in self.keymap.get(a, ())}
        for action_id, fn in self._handlers().items():
            def run(fn=fn, action_id=action_id) -> None:
                if self.help.isVisible() and action_id != "help":
                    self.help.hide()  # with the help open, any key just closes it
                    return
                fn()

            for key in self.keymap.get(action_id, ()):
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
                shortcut.activated.connect(run)
                self._shortcuts.append(shortcut)

    def edit_keys(self) -> None:
        """Settings → Keyboard shortcuts…: edit, check, keep in the settings, apply at once."""
        from app.ui.keys_dialog import KeysDialog

        dialog = KeysDialog(self.keymap, self)
        if not dialog.exec():
            return
        self.keymap = dialog.keymap
        if self.settings is not None:
            keymap.save(self.settings, self.keymap)
        self._apply_keys()
        old, self.help = self.help, HelpOverlay(self, self.keymap)
        old.deleteLater()

    def alert(self, box, title: str, text: str, *, line: str) -> None:
        """An error for the user: ``box`` (``QMessageBox.warning`` ...) over the window, or, when the window is not
        interactive, ``line`` on stderr and the app exits with code 2 (:func:`app.ui.alerts.alert`)."""
        alert(self, box, title, text, line=line, interactive=self.interactive)

    # ------------------------------------------------------------------------------------------
    # batches
    def _refresh_list(self) -> None:
        self.list_model.set_rows(self.presenter.list_rows())
        self.list_filter.set_value(self.presenter.list_filter)  # a newly opened batch starts unfiltered
        self.list_filter.show_count(len(self.list_model.rows), len(self.items))
        self.list_filter.setEnabled(bool(self.items))
        self._update_counts()

    def _update_row(self, row: int) -> None:
        r = self.presenter.list_row(row)
        self.list_model.update_row(r.image_id, state=r.state, label=r.label, confidence=r.confidence,
                                   has_note=r.has_note, has_draft=r.has_draft, held_by=r.held_by,
                                   file_problem=r.file_problem)

    # ------------------------------------------------------------------------------------------
    # predictions
    def _start_predictions(self) -> None:
        if self.model is None or not self.items or self._after_reload():
            return
        todo = self.presenter.todo(self.model.version)
        if not todo:  # every image already has this model's prediction (e.g. `fma-judge classify` ran)
            self._run_finished(self.worker.current_run, False)
            return
        self.status.predicting_started(len(todo))
        self.worker.predict(todo, again=self.presenter.stale(todo, self.model.version))
        self._run_open, self._grown_in_run = True, False

    def _predicted(self, _run_id: int, pairs: list) -> None:
        """A chunk of predictions, already committed by the model thread. Whichever run made it (a batch that grows
        starts a second run while a chunk of the first may be in flight, and the worker never predicts an image
        twice), it counts for the open batch's images when it is the shown model's; another model's is dropped."""
        pairs = [(image_id, record) for image_id, record in pairs
                 if record.model_version == self.presenter.model_version]
        if not pairs:
            return
        for row in self.presenter.apply_predictions(pairs):
            self._update_row(row)
            if row == self.current:
                self._show(row)
                if not self.why.active:  # a fused leaf that changed hides the heatmap of the one before
                    self.show_attention()
        self.list_model.release_thumbnails()
        self._update_counts()
        self.pass_auto_judged()
        self._refocus()

    def _run_finished(self, run_id: int, cancelled: bool) -> None:
        self.list_model.release_thumbnails()
        if run_id != self.worker.current_run:
            return
        self._run_open = False
        if self._grown_in_run and not cancelled:  # a large folder's later parts arrived meanwhile
            if not self._growing:  # (while it grows they wait: its last part starts their run)
                self._grown_in_run = False
                self._start_predictions()
            return
        self.status.predictions_ended(cancelled=cancelled, unreached=sum(reach_error(it.prediction) for it in self.items))
        self.reading_shown()  # a large folder still being read: its progress and Cancel stay
        self._update_counts()
        if not cancelled and not self._growing:  # (a large folder's first part: the batch is not all here yet)
            self.check_purity(batch=True)  # is the batch like the calibration data?
            self.allPredicted.emit()

    # ------------------------------------------------------------------------------------------
    # display
    def select(self, row: int) -> None:
        """Show the batch's image at ``row`` and select it in the list (a filtered list may not show it)."""
        if not self.items:
            return
        row = max(0, min(len(self.items) - 1, row))
        listed = self.list_model.row_of(self.items[row].image.image_id)
        if listed is None:
            self.list_view.selectionModel().clear()
        else:
            idx = self.list_model.index(listed)
            self.list_view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.list_view.scrollTo(idx)
        if row != self.current:
            self._show(row)

    def _item_row(self, listed: int) -> int:
        """The batch row of the list's row ``listed`` (-1: none)."""
        if not 0 <= listed < len(self.list_model.rows):
            return -1
        row = self.presenter.row_of(self.list_model.rows[listed].image_id)
        return -1 if row is None else row

    def _show(self, row: int) -> None:
        item = self.presenter.item(row)
        if item is None:
            return
        changed = row != self.current
        self.presenter.current = row
        image_id = item.image.image_id
        if changed and image_id in self._heatmaps_away:  # its heatmap failed while its file was away: again
            self._heatmaps_away.discard(image_id)
            self.worker.predict_again({image_id})
        if changed:  # out of reach before (a share away): read again, it may be back
            self.images.retry(image_id, reread=is_reach_reason(self.presenter.errors.get(image_id, ""))
                              or reach_error(item.prediction))
        if changed or image_id not in self.images:
            self._display_image(item)
        self.panel.show_data(self.presenter.panel(row))
        self._refocus()
        listed = self.list_model.row_of(image_id)
        for neighbour in (row + 1, row - 1) if listed is None else (self._item_row(listed + 1), self._item_row(listed - 1)):
            if (near := self.presenter.item(neighbour)) is not None:  # decoded ahead: moving there is instant
                self.images.request(near.image.image_id, picture_file(near.image))
        self.refs.look_up(item)  # the strip: similar judged cases, or references of the Top-1 and Top-2 types (E)
        self.spectrum_panel.look_up(image_id)  # the FTIR spectra measured on its defect, if any (off the UI thread)

    def _refocus(self) -> None:
        """Tell the model thread what is on screen and what comes next in judging order (their predictions and
        heatmaps go before the rest of the batch), and decode those images ahead."""
        if self.presenter.current_item is None:
            return
        if self.model is None:  # (judging goes on with stored predictions while a model loads: claimed all the same;
            # two analysts opening a batch together judged the same images until their models were in)
            self.claim_ahead([self.current_image_id, *self.presenter.open_ahead(self.CLAIM_AHEAD - 1)])
            return
        focus = self.presenter.focus(self.model.version, LOOKAHEAD, {i: h[2] for i, h in self.images.heatmaps.items()})
        for image_id, path in focus.images:
            self.images.request(image_id, path)
        heatmaps = set(focus.heatmap)
        if self._growing:  # a large folder still registered: only the image on screen, the cores register the rest
            heatmaps &= {self.current_image_id}
        self.worker.focus(list(focus.images), predict=set(focus.predict), heatmap=heatmaps, leaves=focus.leaves)
        self.claim_ahead([image_id for image_id, _path in focus.images])  # a team: colleagues get other images
        self.viewer.set_heatmap_pending(self.current_image_id in focus.heatmap and self.viewer.has_image)

    def _display_image(self, item: BatchItem) -> None:
        """Show an item's image from the cache; on a miss, blank the view and decode it off the UI thread."""
        image_id = item.image.image_id
        replaced = self.presenter.errors.get(image_id) == FILE_REPLACED  # (its file would show another picture)
        self.panel.unshown = image_id in self.images.unreached or replaced  # (its buttons off, as its keys are)
        if replaced or (away := self.images.unreached.get(image_id)) is not None:
            self.viewer.set_image(None, replaced_text() if replaced else away_text(away, reading=self._growing))
            self.viewer.set_heatmap_caption("")  # (the attention caption stayed over the empty view)
            self.panel.set_facts(None)
            return
        if image_id not in self.images:
            self.viewer.set_image(None, "")  # blank for the few ms the decode takes (never the previous image), and
            self.panel.set_facts(None)  # a word if it takes longer (a burst of PgDn: blank beside a new panel)
            self.panel.unshown = True  # (its buttons off until its picture is drawn, as its keys are)
            QTimer.singleShot(LOADING_SAID_MS, self.viewer, lambda: self.current_image_id == image_id and not (
                image_id in self.images or image_id in self.images.unreached) and self.viewer.set_image(None, loading_text(item.image.path)))
            self.images.request(image_id, picture_file(item.image), urgent=True)
            return
        qimg = self.images.images[image_id]
        facts = self.images.facts.get(image_id)
        self.panel.set_facts(facts)
        self.viewer.set_pixel_size(pixel_size_um(facts.magnification if facts else None, self.camera_pixel_um()))
        if qimg is None:
            self.viewer.set_image(None, file_reason_text(self.presenter.errors.get(
                image_id, QCoreApplication.translate("Main", "Cannot show this image"))))
        else:
            self.viewer.set_image(qimg, preview=self.images.previews.get(image_id))
            self.refs.redraw()
        if not self.why.redraw():  # another image: its attention heatmap again
            self.why.reset()
            self.show_attention()

    def show_attention(self) -> None:
        """The default heatmap of the image on screen (CBAM attention, or LayerCAM of the predicted leaf)."""
        item = self.presenter.current_item
        blind = item is not None and self.presenter.blind(item)  # where the model looked would hint its call
        hm = self.images.heatmaps.get(self.current_image_id) if item is not None and not blind else None
        hm = hm if hm and hm[2] == item.heatmap_leaf else None  # a spectrum came: not its leaf's
        self.viewer.set_heatmap(hm[0] if hm else None)
        self.viewer.set_heatmap_caption(attention_caption(hm[1] if hm else None, keymap.shown_keys(self.keymap, "why")))

    def _image_decoded(self, image_id: int) -> None:
        if self.presenter.row_of(image_id) is None:
            return  # another batch was opened meanwhile
        back = self.images.came_back(image_id)  # (decoded now, not reached before: its heatmap failed then)
        if image_id in self.images.failed:
            self._unreadable(image_id, self.images.failed[image_id])
        elif self.images.images.get(image_id) is not None and (self.presenter.reached(image_id) or back):
            self._share_back(image_id)
        if image_id == self.current_image_id:
            self._display_image(self.items[self.current])
            self.panel.show_data(self.presenter.panel(self.current))
            if self.viewer.has_heatmap:  # its heatmap came first and is drawn only now
                self.heatmapShown.emit(image_id)
            else:
                self._refocus()  # shows the "heatmap…" badge now that there is an image under it

    def _unreadable(self, image_id: int, reason: str) -> None:
        """Found unreadable decoding its thumbnail or image (a file cut short passes the folder's header check)."""
        if (row := self.presenter.row_of(image_id)) is None:
            return  # another batch was opened meanwhile
        self.presenter.image_failed(image_id, reason)
        self._update_row(row)
        self._update_counts()
        if image_id == self.current_image_id:
            self.panel.show_data(self.presenter.panel(self.current))

    def _heatmap_failed(self, image_id: int, reason: str) -> None:
        if is_reach_reason(reason.rsplit(": ", 1)[-1]):  # its file away: made again when the image is shown again
            self._heatmaps_away.add(image_id)  # (it stayed on "heatmap…": the model thread had it as made)
        if self.current_image_id == image_id:
            self.viewer.set_heatmap_pending(False)

    def _heatmap_ready(self, image_id: int, heatmap, kind: str, leaf: str | None) -> None:
        self.images.add_heatmap(image_id, heatmap, kind, leaf)
        if self.current_image_id == image_id and not self.why.active:
            self.show_attention()
            if self.viewer.has_heatmap:  # else drawn once the image is decoded
                self.heatmapShown.emit(image_id)

    def _update_counts(self) -> None:
        before, self._left_shown = getattr(self, "_left_shown", 0), self.presenter.left()
        self.status.set_counts(self.presenter.counts(), self._left_shown)
        self.say_if_all_judged(before)

    # ------------------------------------------------------------------------------------------
    # drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        folders = [p for p in paths if p.is_dir()]
        if len(paths) == 1 and folders:
            self.open_folder(folders[0])
        elif paths:
            self.open_files([p for p in paths if p.is_file()])

    def _only_shown_page_sizes(self, _index: int) -> None:
        """The start page, once behind the judging panes, no longer sets the window's minimum size (a stacked widget's
        minimum is its widest page's): its buttons and recent list kept the window 1246 pixels wide after a batch
        opened, past a 1024 screen's edge and wider than half of a 1920 one."""
        policy = QSizePolicy.Policy.Preferred if self.center.currentWidget() is self.welcome else QSizePolicy.Policy.Ignored
        self.welcome.setSizePolicy(policy, policy)

    def _drafts_may_go(self) -> bool:
        """Closing with notes typed and not saved (:class:`NoteDrafts`): kept on disk for the next start; when they
        could not be written there, the analyst says whether to lose them."""
        if not len(self.note_drafts) or not self.interactive or self.stopping:
            return True
        if self.note_drafts.path is not None and self.note_drafts.error is None:
            return True
        answer = QMessageBox.question(
            self, QCoreApplication.translate("Main", "Notes not saved"),
            QCoreApplication.translate("Main", "Notes you typed were not saved: {n} (cancelled, or refused by the "
                                               "database). Close anyway and lose them?\n\nTo keep one, go back, "
                                               "select its image, press N and Ctrl+Enter.").format(n=len(self.note_drafts)),
            QMessageBox.StandardButton.Close | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Close

    def closeEvent(self, event) -> None:
        if not self._drafts_may_go():
            event.ignore()
            return
        if self._open_task is not None:  # an opening stops at its next chunk (the next opening resumes it)
            self._open_task.cancel()
        self.worker.service.forget_warm(wait_s=10)  # not inside ONNX Runtime when the app exits
        self.worker.stop()
        self.spectrum_panel.stop()
        for pool in (self.pool, self.spectrum_panel.pool):
            pool.waitForDone(5000)
        self.release_claims()  # after the pool: a claim still on its way would otherwise outlive the release
        self.save_layout()
        super().closeEvent(event)

