"""The main window: batch list | image viewer | prediction panel, driven entirely by the keyboard.

The window is a thin view. State lives in :class:`app.services.judging.JudgingService` (store) and
:class:`app.ui.workers.ModelWorker` (model); this class wires their plain-data results to widgets.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QItemSelectionModel, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.services.dashboard import DashboardService
from app.services.judging import JudgingService, OpenedBatch
from app.services.queue import QueueService
from app.services.similar import SimilarCases
from app.store.errors import StoreError
from app.store.records import BatchItem, PredictionRecord
from app.ui.batch_list import BatchListModel, BatchListView, ListRow
from app.ui.dashboard_view import DashboardView
from app.ui.help_overlay import HelpOverlay
from app.ui.picker import TaxonomyPicker
from app.ui.prediction_panel import PanelData, PredictionPanel, state_label
from app.ui.queue_view import QueueView, reason_label
from app.ui.similar_panel import SimilarPanel
from app.ui.viewer import ImageViewer
from app.ui.workers import ModelInfo, ModelWorker, Task, TaskRunner
from models.imageio import IMAGE_SUFFIXES, ImageLoadError, load_image
from models.taxonomy import Taxonomy


def pil_to_qimage(img) -> QImage:
    rgb = img.convert("RGB")
    return QImage(rgb.tobytes(), rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888).copy()


def _decode_qimage(path: str) -> tuple[QImage | None, str | None]:
    """Decode an image file for the viewer (runs on the thread pool): (image, None) or (None, why not)."""
    try:
        return pil_to_qimage(load_image(path)), None
    except ImageLoadError as exc:
        return None, exc.reason


class WelcomePage(QWidget):
    """Shown before a batch is open: what to do next, in two clicks or keys."""

    openDemo = Signal()
    openFolder = Signal()

    def __init__(self, parent=None, has_demo: bool = True) -> None:
        super().__init__(parent)
        title = QLabel(QCoreApplication.translate("Main", "Judge a batch of defect images"), self)
        title.setStyleSheet("font-size: 22px; font-weight: bold;")
        text = QLabel(QCoreApplication.translate("Main", "Open a folder of microscope images (PNG, JPEG, BMP, TIFF), or drop files here.\n"
                                "The model predicts each image; you accept with Enter or correct with 1–5 or C."),
                      self)
        text.setWordWrap(True)
        text.setStyleSheet("color: #9aa0a6; font-size: 14px;")
        self.demo_btn = QPushButton(QCoreApplication.translate("Main", "Open the demo batch"), self)
        self.folder_btn = QPushButton(QCoreApplication.translate("Main", "Open a folder…  (Ctrl+O)"), self)
        for b in (self.demo_btn, self.folder_btn):
            b.setMinimumHeight(40)
            b.setStyleSheet("font-size: 14px; padding: 6px 18px;")
        self.demo_btn.setVisible(has_demo)
        self.demo_btn.clicked.connect(self.openDemo)
        self.folder_btn.clicked.connect(self.openFolder)
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        for w in (title, text):
            lay.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.demo_btn)
        row.addWidget(self.folder_btn)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addStretch(2)


class MainWindow(QMainWindow):
    """Signals: ``allPredicted`` when a batch's prediction run ends; ``heatmapShown`` when one is drawn."""

    allPredicted = Signal()
    heatmapShown = Signal(int)

    def __init__(self, service: JudgingService, *, lang: str = "en", demo_batch: Path | None = None,
                 settings=None, device: str = "cpu") -> None:
        super().__init__()
        self.service = service
        self.lang = lang
        self.demo_batch = demo_batch
        self.settings = settings
        self.device = device
        self.taxonomy: Taxonomy | None = None
        self.model: ModelInfo | None = None
        self.batch: OpenedBatch | None = None
        self.items: list[BatchItem] = []
        self.current: int = -1
        self.pool = QThreadPool.globalInstance()
        self._runner = TaskRunner(self.pool)
        self._heatmap_cache: dict[int, tuple[object, str]] = {}
        self._image_cache: dict[int, QImage | None] = {}
        self._decoding: set[int] = set()  # image ids being decoded on the pool
        self._image_errors: dict[int, str] = {}
        self._run_started = 0.0
        self._predicting = False
        self.setWindowTitle("fma-judge")
        self.resize(1440, 880)
        self.setAcceptDrops(True)

        self.queue_service = QueueService(service.engine, service.analyst)
        self.similar = SimilarCases(service.engine)
        self.dash_service = DashboardService(service.engine)
        self._pending_open: int | None = None
        self.worker = ModelWorker(save=self._save_predictions, chunk_size=8, parent=self)
        self.worker.modelLoaded.connect(self._model_loaded)
        self.worker.modelFailed.connect(self._model_failed)
        self.worker.predicted.connect(self._predicted)
        self.worker.progress.connect(self._progress)
        self.worker.runFinished.connect(self._run_finished)
        self.worker.heatmapReady.connect(self._heatmap_ready)
        self.worker.heatmapFailed.connect(lambda _i, _m: None)
        self.worker.failed.connect(lambda msg: self.statusBar().showMessage(msg.splitlines()[0], 10_000))
        self.worker.start()

        self._build_ui()
        self._build_shortcuts()

    # ------------------------------------------------------------------------------------------
    # layout
    def _build_ui(self) -> None:
        self.list_model = BatchListModel(self)
        self.list_view = BatchListView(self)
        self.list_view.setModel(self.list_model)
        self.list_view.selectionModel().currentChanged.connect(lambda cur, _prev: self._show(cur.row()))
        self.viewer = ImageViewer(self)
        self.panel = PredictionPanel(None, self.lang, self)
        self.panel.acceptRequested.connect(self.accept_current)
        self.panel.unknownRequested.connect(self.mark_unknown)
        self.panel.pickerRequested.connect(self.open_picker)
        self.panel.noteRequested.connect(self.add_note)
        self.panel.topkRequested.connect(self.choose_topk)
        self.welcome = WelcomePage(self, has_demo=self.demo_batch is not None)
        self.welcome.openDemo.connect(self.open_demo)
        self.welcome.openFolder.connect(self.choose_folder)
        self.center = QStackedWidget(self)
        self.center.addWidget(self.welcome)
        self.center.addWidget(self.viewer)
        self.similar_panel = SimilarPanel(None, self.lang, self)
        self.similar_panel.openImage.connect(self.open_image)
        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(self.panel)
        right.addWidget(self.similar_panel)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.list_view)
        split.addWidget(self.center)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([290, 780, 370])
        self.setCentralWidget(split)
        self.help = HelpOverlay(split)

        tb = QToolBar(QCoreApplication.translate("Main", "Main"), self)
        tb.setMovable(False)
        self.addToolBar(tb)
        self.act_open = QAction(QCoreApplication.translate("Main", "Open folder…"), self)
        self.act_open.triggered.connect(self.choose_folder)
        self.act_files = QAction(QCoreApplication.translate("Main", "Open files…"), self)
        self.act_files.triggered.connect(self.choose_files)
        self.act_model = QAction(QCoreApplication.translate("Main", "Model…"), self)
        self.act_model.triggered.connect(self.choose_model)
        self.act_export = QAction(QCoreApplication.translate("Main", "Export labels…"), self)
        self.act_export.triggered.connect(self.export_labels)
        self.act_heat = QAction(QCoreApplication.translate("Main", "Heatmap"), self)
        self.act_heat.setCheckable(True)
        self.act_heat.setChecked(True)
        self.act_heat.toggled.connect(self.viewer.set_heatmap_visible)
        self.act_side = QAction(QCoreApplication.translate("Main", "Side by side"), self)
        self.act_side.setCheckable(True)
        self.act_side.toggled.connect(self.viewer.set_side_by_side)
        self.opacity = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setFixedWidth(110)
        self.opacity.setToolTip(QCoreApplication.translate("Main", "Heatmap opacity ([ and ])"))
        self.opacity.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.opacity.valueChanged.connect(lambda v: self.viewer.set_heatmap_opacity(v / 100))
        self.queue_view = QueueView(self.queue_service, lang=self.lang, parent=self)
        self.queue_view.setWindowFlag(Qt.WindowType.Window)
        self.queue_view.resize(1100, 700)
        self.queue_view.openImage.connect(self.open_image)
        self.queue_view.judged.connect(self._queue_judged)
        self.dashboard_view = DashboardView(self.dash_service, lang=self.lang, parent=self)
        self.dashboard_view.setWindowFlag(Qt.WindowType.Window)
        self.dashboard_view.resize(1200, 800)
        self.act_queue = QAction(QCoreApplication.translate("Main", "Re-judge queue (Q)"), self)
        self.act_queue.triggered.connect(self.show_queue)
        self.act_dashboard = QAction(QCoreApplication.translate("Main", "Dashboard"), self)
        self.act_dashboard.triggered.connect(self.show_dashboard)
        self.act_help = QAction(QCoreApplication.translate("Main", "Shortcuts (F1)"), self)
        self.act_help.triggered.connect(self.help.toggle)
        for a in (self.act_open, self.act_files, self.act_model, self.act_export):
            tb.addAction(a)
        self.settings_menu = QMenu(QCoreApplication.translate("Main", "Settings"), self)
        lang_menu = self.settings_menu.addMenu(QCoreApplication.translate("Main", "Language"))
        for code, label in (("en", "English"), ("zh_TW", "繁體中文")):
            act = lang_menu.addAction(label)
            act.setCheckable(True)
            act.setChecked(code == self.lang)
            act.triggered.connect(lambda _=False, code=code: self.set_language(code))
        self.settings_menu.addAction(QCoreApplication.translate("Main", "Change analyst…"), self.change_analyst)
        settings_btn = QToolButton(self)
        settings_btn.setText(QCoreApplication.translate("Main", "Settings"))
        settings_btn.setMenu(self.settings_menu)
        settings_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        settings_btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        tb.addWidget(settings_btn)
        tb.addSeparator()
        tb.addAction(self.act_queue)
        tb.addAction(self.act_dashboard)
        tb.addSeparator()
        tb.addAction(self.act_heat)
        tb.addWidget(self.opacity)
        tb.addAction(self.act_side)
        tb.addSeparator()
        tb.addAction(self.act_help)

        sb = self.statusBar()
        self.progress = QProgressBar(self)
        self.progress.setFixedWidth(220)
        self.progress.setVisible(False)
        self.progress_label = QLabel(self)
        self.cancel_btn = QPushButton(QCoreApplication.translate("Main", "Cancel"), self)
        self.cancel_btn.setVisible(False)
        self.cancel_btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.cancel_btn.clicked.connect(self.cancel_predictions)
        self.counts_label = QLabel(self)
        self.model_label = QLabel(QCoreApplication.translate("Main", "No model"), self)
        self.analyst_label = QLabel(self)
        sb.addWidget(self.progress)
        sb.addWidget(self.progress_label)
        sb.addWidget(self.cancel_btn)
        sb.addPermanentWidget(self.counts_label)
        sb.addPermanentWidget(self.analyst_label)
        sb.addPermanentWidget(self.model_label)
        self.analyst_label.setText(QCoreApplication.translate("Main", "Analyst: {name}").format(name=self.service.analyst))
        self.setStyleSheet("QMainWindow, QWidget { background: #2b2d31; color: #e8eaed; }"
                           "QToolBar { border: none; spacing: 6px; padding: 4px; }"
                           "QPushButton { background: #3c4043; border: 1px solid #5f6368; border-radius: 4px;"
                           " padding: 5px 10px; } QPushButton:hover { background: #4a4e52; }"
                           "QStatusBar QLabel { padding: 0 8px; }")

    def _build_shortcuts(self) -> None:
        def sc(keys: list[str], fn) -> None:
            def run() -> None:
                if self.help.isVisible() and fn is not self.help.toggle:
                    self.help.hide()  # with the help open, any key just closes it
                    return
                fn()

            for k in keys:
                s = QShortcut(QKeySequence(k), self)
                s.setContext(Qt.ShortcutContext.WindowShortcut)
                s.activated.connect(run)

        sc(["Return", "Enter", "Space"], self.accept_current)
        for k in range(1, 6):
            sc([str(k)], lambda k=k: self.choose_topk(k))
        sc(["C", "/"], self.open_picker)
        sc(["U"], self.mark_unknown)
        sc(["N"], self.add_note)
        sc(["Left", "Up"], lambda: self.move(-1))
        sc(["Right", "Down"], lambda: self.move(1))
        sc(["Ctrl+Z"], self.undo)
        sc(["Ctrl+Shift+Z", "Ctrl+Y"], self.redo)
        sc(["H"], self.act_heat.toggle)
        sc(["S"], self.act_side.toggle)
        sc(["["], lambda: self.opacity.setValue(self.opacity.value() - 10))
        sc(["]"], lambda: self.opacity.setValue(self.opacity.value() + 10))
        sc(["+", "="], lambda: self.viewer.zoom(1.25))
        sc(["-"], lambda: self.viewer.zoom(0.8))
        sc(["0"], self.viewer.fit)
        sc(["Ctrl+O"], self.choose_folder)
        sc(["Q"], self.show_queue)
        sc(["F1", "?"], self.help.toggle)

    # ------------------------------------------------------------------------------------------
    # model
    def load_model(self, path: str | Path) -> None:
        self.model_label.setText(QCoreApplication.translate("Main", "Loading model…"))
        self.worker.load(str(path), self.device)

    def _model_loaded(self, info: ModelInfo) -> None:
        self.model = info
        self.taxonomy = Taxonomy.from_dict(info.manifest["taxonomy"])
        self.panel.set_taxonomy(self.taxonomy, self.lang)
        self.similar_panel.set_taxonomy(self.taxonomy, self.lang)
        self.queue_view.set_taxonomy(self.taxonomy, self.lang)
        self.queue_view.set_model_version(info.version)
        self.dashboard_view.set_model_version(info.version)
        try:
            self.service.register_model(info.manifest, info.path)
        except StoreError as exc:
            self._store_failed(exc)
        self.model_label.setText(QCoreApplication.translate("Main", "Model: {v}").format(v=info.version))
        if self.settings is not None:
            self.settings.setValue("model_path", info.path)
        if self.batch is not None:
            self._reload_items()
            self._start_predictions()

    def _model_failed(self, message: str) -> None:
        self.model = None
        self.model_label.setText(QCoreApplication.translate("Main", "No model"))
        QMessageBox.warning(self, QCoreApplication.translate("Main", "Model could not be loaded"),
                            QCoreApplication.translate("Main", "The model could not be loaded:\n\n{msg}\n\nChoose another model with "
                                      "“Model…”. You can still open batches and review earlier judgments.")
                            .format(msg=message))

    def choose_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, QCoreApplication.translate("Main", "Choose a model bundle folder"))
        if path:
            self.load_model(path)

    # ------------------------------------------------------------------------------------------
    # batches
    def open_demo(self) -> None:
        if self.demo_batch is not None:
            self.open_folder(self.demo_batch)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, QCoreApplication.translate("Main", "Open a folder of images"))
        if folder:
            recursive = QMessageBox.question(self, QCoreApplication.translate("Main", "Sub-folders"),
                                             QCoreApplication.translate("Main", "Also open images in sub-folders?")) == \
                QMessageBox.StandardButton.Yes
            self.open_folder(Path(folder), recursive=recursive)

    def choose_files(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        files, _ = QFileDialog.getOpenFileNames(self, QCoreApplication.translate("Main", "Open images"), "",
                                                QCoreApplication.translate("Main", "Images ({p})").format(p=patterns))
        if files:
            self.open_files([Path(f) for f in files])

    def open_folder(self, folder: Path, recursive: bool = False) -> None:
        self._open(self.service.open_folder, Path(folder), recursive=recursive)

    def open_files(self, files: list[Path]) -> None:
        self._open(self.service.open_files, list(files))

    def _open(self, fn, *args, **kwargs) -> None:
        self.worker.cancel()
        self.progress_label.setText(QCoreApplication.translate("Main", "Reading images…"))
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        task = Task(fn, *args, with_progress=True, **kwargs)
        task.signals.progress.connect(self._hash_progress)
        task.signals.result.connect(self._batch_opened)
        task.signals.error.connect(self._open_failed)
        self._start(task)

    def _start(self, task: Task) -> None:
        self._runner.start(task)

    def _hash_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress_label.setText(QCoreApplication.translate("Main", "Reading images {done}/{total}").format(done=done, total=total))

    def _open_failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.progress_label.setText("")
        QMessageBox.warning(self, QCoreApplication.translate("Main", "Cannot open"), message)

    def _batch_opened(self, opened: OpenedBatch) -> None:
        self.progress.setVisible(False)
        self.progress_label.setText("")
        if not opened.items:
            QMessageBox.information(self, QCoreApplication.translate("Main", "No images"),
                                    QCoreApplication.translate("Main", "There are no images (PNG, JPEG, BMP, TIFF) in {where}.")
                                    .format(where=opened.source))
            return
        self.batch = opened
        self._heatmap_cache.clear()
        self._image_cache.clear()
        self._image_errors = dict(opened.unreadable)
        self.setWindowTitle(f"fma-judge — {opened.name}")
        self._set_items(opened.items)
        self.center.setCurrentWidget(self.viewer)
        first = next((i for i, it in enumerate(self.items) if it.state in ("pending", "rejudge")), 0)
        wanted, self._pending_open = self._pending_open, None
        self.select(self._pos.get(wanted, first) if wanted is not None else first)
        self._start_predictions()

    def _reload_items(self) -> None:
        if self.batch is None:
            return
        version = self.model.version if self.model else None
        self._set_items(self.service.batch_items(self.batch.batch_id, model_version=version))
        self.select(max(0, self.current))

    def _set_items(self, items: list[BatchItem]) -> None:
        self.items = list(items)
        self._pos = {it.image.image_id: i for i, it in enumerate(self.items)}
        self.list_model.set_rows([self._row(it) for it in self.items])
        self._update_counts()

    def _row(self, item: BatchItem) -> ListRow:
        state = self._state(item)
        label, conf = "", None
        if item.judgment is not None and item.judgment.is_decision:
            label = self._name(item.judgment.leaf) if item.judgment.leaf else QCoreApplication.translate("Panel", "unknown / new defect type")
        elif item.prediction is not None and item.prediction.leaf:
            label, conf = self._name(item.prediction.leaf), item.prediction.confidence
        elif item.image.image_id in self._image_errors:
            label = self._image_errors[item.image.image_id]
        return ListRow(item.image.image_id, Path(item.image.path).name, item.image.path, state, label, conf)

    def _state(self, item: BatchItem) -> str:
        if item.image.image_id in self._image_errors and not (item.judgment and item.judgment.is_decision):
            return "error"
        return item.state

    def _name(self, node_id: str | None) -> str:
        if not node_id:
            return ""
        if self.taxonomy is None or node_id not in self.taxonomy:
            return node_id
        return self.taxonomy.name(node_id, self.lang)

    # ------------------------------------------------------------------------------------------
    # predictions
    def _start_predictions(self) -> None:
        if self.model is None or not self.items:
            return
        todo = [(it.image.image_id, it.image.path) for it in self.items
                if (it.prediction is None or it.prediction.model_version != self.model.version)
                and it.image.image_id not in self._image_errors]
        if not todo:
            self._run_finished(self.worker.current_run, False)
            return
        self._predicting = True
        self._run_started = time.perf_counter()
        self.progress.setRange(0, len(todo))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_btn.setVisible(True)
        self.worker.predict(todo)

    def cancel_predictions(self) -> None:
        self.worker.cancel()

    def _save_predictions(self, pairs, info: ModelInfo) -> None:
        """Runs on the model thread: one transaction per chunk, so the model never waits per image."""
        records = [(image_id, PredictionRecord.from_prediction(p)) for image_id, p in pairs]
        self.service.save_predictions(records, info.version)

    def _predicted(self, run_id: int, pairs: list) -> None:
        if run_id != self.worker.current_run:
            return
        for image_id, pred in pairs:
            i = self._pos.get(image_id)
            if i is None:
                continue
            record = PredictionRecord.from_prediction(pred)
            if record.error:
                self._image_errors[image_id] = record.error
            self.items[i] = replace(self.items[i], prediction=record)
            self.list_model.update_row(image_id, **_row_changes(self._row(self.items[i])))
            if i == self.current:
                self._show(i)
        self._update_counts()

    def _progress(self, run_id: int, done: int, total: int) -> None:
        if run_id != self.worker.current_run:
            return
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        elapsed = time.perf_counter() - self._run_started
        eta = (elapsed / done) * (total - done) if done else 0.0
        self.progress_label.setText(QCoreApplication.translate("Main", "Predicting {done}/{total} · ETA {eta}")
                                    .format(done=done, total=total, eta=_fmt_secs(eta)))

    def _run_finished(self, run_id: int, cancelled: bool) -> None:
        if run_id != self.worker.current_run:
            return
        self._predicting = False
        self.progress.setVisible(False)
        self.cancel_btn.setVisible(False)
        self.progress_label.setText(QCoreApplication.translate("Main", "Predictions cancelled") if cancelled else "")
        self._update_counts()
        if not cancelled:
            self.allPredicted.emit()

    # ------------------------------------------------------------------------------------------
    # display
    def select(self, row: int) -> None:
        if not self.items:
            return
        row = max(0, min(len(self.items) - 1, row))
        idx = self.list_model.index(row)
        self.list_view.selectionModel().setCurrentIndex(idx, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.list_view.scrollTo(idx)
        if row != self.current:
            self._show(row)

    def _show(self, row: int) -> None:
        if not (0 <= row < len(self.items)):
            return
        changed = row != self.current
        self.current = row
        item = self.items[row]
        image_id = item.image.image_id
        if changed or image_id not in self._image_cache:
            self._display_image(item)
        self.panel.show_data(self._panel_data(item))
        if self.model is not None and item.prediction is not None and not item.prediction.error \
                and image_id not in self._heatmap_cache:
            self.worker.heatmap(image_id, item.image.path)
        self._prefetch(row + 1)
        self._prefetch(row - 1)
        self._request_similar(item)

    def _request_similar(self, item: BatchItem) -> None:
        """Similar past cases of the shown image, looked up off the UI thread."""
        if self.model is None or item.prediction is None or item.prediction.error:
            self.similar_panel.set_cases([])
            return
        image_id, version = item.image.image_id, self.model.version

        def done(cases, image_id=image_id) -> None:
            if 0 <= self.current < len(self.items) and self.items[self.current].image.image_id == image_id:
                self.similar_panel.set_cases(cases)

        task = Task(self.similar.similar_to_image, image_id, version, 6)
        task.signals.result.connect(done)
        self._start(task)

    def _display_image(self, item: BatchItem) -> None:
        """Show an item's image from the cache; on a miss, decode it off the UI thread and show it when ready."""
        image_id = item.image.image_id
        if image_id not in self._image_cache:
            self.viewer.set_image(None, "")  # blank for the few ms the decode takes (never the previous image)
            self._decode_image(item)
            return
        qimg = self._image_cache[image_id]
        if qimg is None:
            self.viewer.set_image(None, self._image_errors.get(image_id, QCoreApplication.translate("Main", "Cannot show this image")))
        else:
            self.viewer.set_image(qimg)
        hm = self._heatmap_cache.get(image_id)
        self.viewer.set_heatmap(hm[0] if hm else None)

    def _decode_image(self, item: BatchItem) -> None:
        image_id = item.image.image_id
        if image_id in self._image_cache or image_id in self._decoding:
            return
        self._decoding.add(image_id)
        task = Task(_decode_qimage, item.image.path)
        task.signals.result.connect(lambda res, i=image_id: self._image_decoded(i, *res))
        task.signals.error.connect(lambda msg, i=image_id: self._image_decoded(i, None, msg))
        self._start(task)

    def _image_decoded(self, image_id: int, qimg: QImage | None, error: str | None) -> None:
        self._decoding.discard(image_id)
        if image_id not in self._pos:
            return  # another batch was opened meanwhile
        if error:
            self._image_errors.setdefault(image_id, error)
        self._image_cache[image_id] = qimg
        current = self.items[self.current].image.image_id if 0 <= self.current < len(self.items) else None
        if len(self._image_cache) > 24:  # keep memory flat on big batches
            for key in list(self._image_cache)[:8]:
                if key != current:
                    self._image_cache.pop(key, None)
        if image_id == current:
            self._display_image(self.items[self.current])
            self.panel.show_data(self._panel_data(self.items[self.current]))
            if self.viewer.has_heatmap:  # its heatmap came first and is drawn only now
                self.heatmapShown.emit(image_id)

    def _prefetch(self, row: int) -> None:
        """Decode a neighbouring image off the UI thread so moving to it is instant."""
        if 0 <= row < len(self.items):
            self._decode_image(self.items[row])

    def _heatmap_ready(self, image_id: int, heatmap, kind: str) -> None:
        self._heatmap_cache[image_id] = (heatmap, kind)
        if len(self._heatmap_cache) > 64:
            self._heatmap_cache.pop(next(iter(self._heatmap_cache)))
        if 0 <= self.current < len(self.items) and self.items[self.current].image.image_id == image_id:
            self.viewer.set_heatmap(heatmap)
            if self.viewer.has_heatmap:  # else drawn once the image is decoded
                self.heatmapShown.emit(image_id)

    def _panel_data(self, item: BatchItem) -> PanelData:
        p, j = item.prediction, item.judgment
        error = self._image_errors.get(item.image.image_id) or (p.error if p else None)
        decided = j is not None and j.is_decision
        return PanelData(
            file_name=Path(item.image.path).name,
            state=self._state(item),
            leaf=p.leaf if p else None,
            path=p.path if p else (),
            path_scores=p.path_scores if p else (),
            top5=p.top5 if p else (),
            error=error,
            judged_leaf=j.leaf if decided else None,
            judged_by=j.analyst if decided else None,
            judged_at=j.created_at.astimezone().strftime("%Y-%m-%d %H:%M") if decided else None,
            note=j.note if j else None,
            reasons=tuple(reason_label(r) for r in p.reasons) if p else (),
            model_version=p.model_version if p else "",
        )

    def _update_counts(self) -> None:
        counts = self.list_model.counts()
        order = ("pending", "rejudge", "auto", "accepted", "corrected", "unknown", "error")
        parts = [f"{state_label(key)} {counts[key]}" for key in order if counts.get(key)]
        left = counts.get("pending", 0) + counts.get("rejudge", 0)
        self.counts_label.setText(QCoreApplication.translate("Main", "{left} left").format(left=left) + "  ·  " + "  ".join(parts))

    # ------------------------------------------------------------------------------------------
    # judging
    def _current_item(self) -> BatchItem | None:
        if self.help.isVisible() or not (0 <= self.current < len(self.items)):
            return None
        return self.items[self.current]

    def accept_current(self) -> None:
        item = self._current_item()
        if item is None or item.prediction is None or not item.prediction.leaf:
            return
        self._judge(lambda: self.service.accept(item))

    def choose_topk(self, k: int) -> None:
        item = self._current_item()
        if item is None or item.prediction is None or len(item.prediction.top5) < k:
            return
        leaf = item.prediction.top5[k - 1][0]
        self._judge(lambda: self.service.choose(item, leaf, action="topk"))

    def open_picker(self) -> None:
        item = self._current_item()
        if item is None or self.taxonomy is None:
            return
        current = item.judgment.leaf if item.judgment and item.judgment.leaf else \
            (item.prediction.leaf if item.prediction else None)
        dlg = TaxonomyPicker(self.taxonomy, self.lang, self, current=current)
        if dlg.exec() and dlg.chosen:
            self._judge(lambda: self.service.choose(item, dlg.chosen, action="picker"))

    def mark_unknown(self) -> None:
        item = self._current_item()
        if item is None:
            return
        self._judge(lambda: self.service.mark_unknown(item))

    def add_note(self) -> None:
        item = self._current_item()
        if item is None:
            return
        old = item.judgment.note if item.judgment and item.judgment.note else ""
        text, ok = QInputDialog.getMultiLineText(self, QCoreApplication.translate("Main", "Note"),
                                                 QCoreApplication.translate("Main", "Note for {name}:").format(name=Path(item.image.path).name),
                                                 old)
        if ok and text.strip() != old:
            self._judge(lambda: self.service.add_note(item, text.strip()), advance=False)

    def undo(self) -> None:
        self._judge(self.service.undo, advance=False, focus_changed=True)

    def redo(self) -> None:
        self._judge(self.service.redo, advance=False, focus_changed=True)

    def _judge(self, action, advance: bool = True, focus_changed: bool = False) -> None:
        """Run one store action; show the result only once it is committed."""
        try:
            record = action()
        except StoreError as exc:
            self._store_failed(exc)
            return
        if record is None:
            return
        i = self._pos.get(record.image_id)
        if i is None:
            return
        self.items[i] = replace(self.items[i], judgment=record)
        self.list_model.update_row(record.image_id, **_row_changes(self._row(self.items[i])))
        self._update_counts()
        if focus_changed and i != self.current:
            self.select(i)
        elif advance:
            self.select(self._next_open(i))
        if i == self.current:
            self.panel.show_data(self._panel_data(self.items[i]))

    def _next_open(self, after: int) -> int:
        n = len(self.items)
        for step in range(1, n + 1):
            j = (after + step) % n
            if self.items[j].state in ("pending", "rejudge") and self._state(self.items[j]) != "error":
                return j
        self.statusBar().showMessage(QCoreApplication.translate("Main", "Every image of this batch is judged."), 8000)
        return after

    def move(self, step: int) -> None:
        if self.help.isVisible():
            return
        self.select(self.current + step)

    def _store_failed(self, exc: Exception) -> None:
        QMessageBox.critical(self, QCoreApplication.translate("Main", "Judgment NOT saved"),
                             QCoreApplication.translate("Main", "The database could not be written, so this judgment was not saved:\n\n"
                                       "{msg}\n\nThe image keeps its previous state. Fix the problem (disk space, "
                                       "permissions, network) and judge it again.").format(msg=str(exc)))

    # ------------------------------------------------------------------------------------------
    # re-judge queue, dashboard, similar cases
    def show_queue(self) -> None:
        self.queue_view.show()
        self.queue_view.raise_()
        self.queue_view.activateWindow()
        self.queue_view.refresh()

    def show_dashboard(self) -> None:
        self.dashboard_view.show()
        self.dashboard_view.raise_()
        self.dashboard_view.refresh()

    def _queue_judged(self, records: list) -> None:
        """Judgments made in the queue window: reflect those of the open batch here."""
        for rec in records:
            i = self._pos.get(rec.image_id)
            if i is None:
                continue
            self.items[i] = replace(self.items[i], judgment=rec)
            self.list_model.update_row(rec.image_id, **_row_changes(self._row(self.items[i])))
            if i == self.current:
                self.panel.show_data(self._panel_data(self.items[i]))
        self._update_counts()

    def open_image(self, image_id: int) -> None:
        """Show an image by id: in the open batch, or by opening the batch it belongs to."""
        if image_id in self._pos:
            self.select(self._pos[image_id])
            self.raise_()
            self.activateWindow()
            return
        folder = self.service.folder_of_image(image_id)
        if folder is None:
            self.statusBar().showMessage(QCoreApplication.translate("Main", "That image is not in any batch."), 6000)
            return
        self._pending_open = image_id
        self.open_folder(folder)

    # ------------------------------------------------------------------------------------------
    # settings
    def set_language(self, code: str) -> None:
        """Remember the UI language; it applies at the next start."""
        if self.settings is not None:
            self.settings.setValue("lang", code)
        if code != self.lang:
            QMessageBox.information(self, "fma-judge", QCoreApplication.translate(
                "Main", "The language changes the next time fma-judge starts."))

    def change_analyst(self) -> None:
        name, ok = QInputDialog.getText(self, "fma-judge", QCoreApplication.translate(
            "Main", "Your name (recorded with every judgment):"), text=self.service.analyst)
        if ok and name.strip():
            self.service.analyst = name.strip()
            self.queue_service.analyst = self.service.analyst
            if self.settings is not None:
                self.settings.setValue("analyst", self.service.analyst)
            self.analyst_label.setText(QCoreApplication.translate("Main", "Analyst: {name}")
                                       .format(name=self.service.analyst))

    # ------------------------------------------------------------------------------------------
    # export
    def export_labels(self) -> None:
        path, _flt = QFileDialog.getSaveFileName(self, QCoreApplication.translate("Main", "Export corrected labels"), "labels.csv",
                                                "CSV (*.csv);;JSON (*.json)")
        if not path:
            return
        fmt = "json" if path.lower().endswith(".json") else "csv"
        batch_id = self.batch.batch_id if self.batch else None
        task = Task(self.service.export, Path(path), fmt, batch_id=batch_id)
        task.signals.result.connect(lambda res: self.statusBar().showMessage(
            QCoreApplication.translate("Main", "Exported {n} labels to {p}").format(n=res.count, p=res.path), 10_000))
        task.signals.error.connect(lambda msg: QMessageBox.warning(self, QCoreApplication.translate("Main", "Export failed"), msg))
        self._start(task)

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

    def closeEvent(self, event) -> None:
        self.worker.stop()
        self.pool.waitForDone(5000)
        super().closeEvent(event)


def _row_changes(row: ListRow) -> dict:
    return {"state": row.state, "label": row.label, "confidence": row.confidence}


def _fmt_secs(secs: float) -> str:
    secs = round(secs)
    return f"{secs // 60}:{secs % 60:02d}"


