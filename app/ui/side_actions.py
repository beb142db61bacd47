"""What the main window does beside judging the open batch: the re-judge queue and dashboard windows (made when
first opened, not on the way to the first prediction), opening an image by id, the analyst's name, the language,
and exporting labels.

A mixin of :class:`app.ui.main_window.MainWindow`, like :mod:`app.ui.judging_actions` and :mod:`app.ui.store_upkeep`.
Each action does nothing until the window has its store (:meth:`~app.ui.main_window.MainWindow.attach`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QCoreApplication, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QInputDialog, QMessageBox, QStyle

from app.ui import keymap
from app.ui.style import export_text
from app.ui.workers import Task

if TYPE_CHECKING:  # the store's services import SQLAlchemy: imported when a side window is first opened
    from app.ui.dashboard_view import DashboardView
    from app.ui.queue_view import QueueView

NARROW = 300
"""An image pane narrower than this (pixels) with the list shown: the status bar says L hides the list, once."""

FRAME = QSize(16, 48)
"""Room kept for the window's frame and title bar, which are not known before it is shown."""


def fits(window: QSize, screen: QSize, frame: QSize = FRAME) -> bool:
    """Whether a window of this size, with its frame, fits on a screen's available area."""
    return window.width() + frame.width() <= screen.width() and window.height() + frame.height() <= screen.height()


class SideActions:
    """Expects the window's ``service``, ``presenter``, ``model``, ``lang``, ``settings``, ``status``, ``_runner``,
    ``_queue_view``, ``_dashboard_view``, ``select``, ``open_folder``, ``alert``, ``_apply_judgment``, ``splitter``,
    ``right_splitter``, ``list_pane``, ``list_filter``, ``keymap`` and ``interactive``."""

    _list_width = 290  # the image list's width when L hid it (the splitter's default until then)
    _narrow_hinted = False

    def restore_layout(self) -> None:
        """The window's size and place and the widths of its three panes as the analyst left them (the settings);
        none stored, a value that cannot be read, or a pane left shut: the defaults. Not in a ``--screenshot`` run
        (the same picture whoever makes it)."""
        if not self.interactive:
            return
        geometry = None if self.settings is None else self.settings.value("window/geometry")
        if not (isinstance(geometry, QByteArray) and self.restoreGeometry(geometry)):
            self.fit_screen()
        if self.settings is None:
            return
        self._restore_view()
        panes = self.settings.value("window/panes")
        defaults = self.splitter.sizes()
        if isinstance(panes, QByteArray) and self.splitter.restoreState(panes) and 0 in self.splitter.sizes():
            self.splitter.setSizes(defaults)  # a pane dragged shut (the list, the panel with Accept) opens again
        heights = _heights(self.settings.value("window/right_panes"), self.right_splitter.count())
        if heights is not None:
            # A pane hidden at closing (no spectrum, no similar cases) stored 0: it gets its own height back, never
            # 0, which would keep it shut when it is shown again.
            self.right_splitter.keep([h if h > 0 else self.right_splitter.widget(i).sizeHint().height()
                                      for i, h in enumerate(heights)])
        if str(self.settings.value("view/list", "true")).lower() in ("false", "0"):
            # the width L brings it back at (the splitter's own are not laid out before the window is shown); a
            # value edited by hand that is no number: the default
            with contextlib.suppress(TypeError, ValueError):
                self._list_width = max(0, int(self.settings.value("view/list_width", self._list_width)))
            self.list_pane.hide()

    def toggle_list_pane(self) -> None:
        """L: the image list hidden, the image taking its width (a narrow window: half a laptop's screen, the
        app beside a spreadsheet), or shown again at the width it had; kept for the next start. The arrows, Home
        and End work the same with it hidden; F shows it with its filter menus."""
        pane, shown = self.list_pane, self.list_pane.isHidden()
        if shown:
            pane.show()
            sizes = self.splitter.sizes()  # the width it had back, taken from the image's
            width = max(pane.minimumSizeHint().width(), self._list_width)
            self.splitter.setSizes([width, max(1, sizes[0] + sizes[1] - width), *sizes[2:]])
        else:
            self._list_width = self.splitter.sizes()[0] or self._list_width
            focus = self.focusWidget()
            if focus is not None and pane.isAncestorOf(focus):
                self.setFocus()  # the keys stay with the window
            pane.hide()
        if self.settings is not None:
            self.settings.setValue("view/list", shown)
            self.settings.setValue("view/list_width", self._list_width)
        self.statusBar().showMessage(
            QCoreApplication.translate("MainWindow", "Image list shown") if shown else
            QCoreApplication.translate("MainWindow", "Image list hidden: {key} shows it again").format(
                key=keymap.shown_keys(self.keymap, "list_pane")), 4000)

    def hint_narrow_image(self, width: int) -> None:
        """Once a window: the image narrower than :data:`NARROW` pixels with the list shown (a window snapped to half
        a laptop's screen) says that L gives the image the list's width."""
        if (width >= NARROW or self._narrow_hinted or self.list_pane.isHidden() or not self.isVisible()
                or self.center.currentWidget() is not self.splitter):
            return
        self._narrow_hinted = True
        self.statusBar().showMessage(QCoreApplication.translate(
            "MainWindow", "Little room for the image: {key} hides the image list").format(
                key=keymap.shown_keys(self.keymap, "list_pane")), 8000)

    def open_list_filter(self) -> None:
        """F: the list's filter menus, the list shown first when L hid it (they are at its top)."""
        if self.list_pane.isHidden():
            self.toggle_list_pane()
        self.list_filter.open_menu()

    def _restore_view(self) -> None:
        """The heatmap on or off, side by side, and its opacity as the analyst left them (H off was forgotten at
        every start); each change is kept at once."""
        tb, settings = self.toolbar, self.settings
        # (side by side first: turned on, it turns the heatmap on, which the analyst may have left off)
        for act, key in ((tb.act_side, "view/side_by_side"), (tb.act_heat, "view/heatmap")):
            stored = settings.value(key)
            if stored is not None:
                act.setChecked(str(stored).lower() in ("true", "1"))
            act.toggled.connect(lambda on, key=key: settings.setValue(key, bool(on)))
        try:
            opacity = int(settings.value("view/opacity", tb.opacity.value()))
        except (TypeError, ValueError):  # edited by hand: the default
            opacity = tb.opacity.value()
        tb.opacity.setValue(max(0, min(100, opacity)))
        tb.opacity.valueChanged.connect(lambda v: settings.setValue("view/opacity", int(v)))

    def fit_screen(self) -> None:
        """A window without a stored size, on a screen too small for its default (a 1366 x 768 laptop), opens
        maximized, and its normal size fits the screen: nothing of the panel (Accept, the Top-5's scores) is left
        beyond the screen's edge. The ``offscreen`` platform's 800 x 600 screen is notional: its windows keep their
        size."""
        screen = self.screen()
        if screen is None or QGuiApplication.platformName() == "offscreen":
            return
        area = screen.availableGeometry()
        if fits(self.size(), area.size()):
            return
        size = QSize(min(self.width(), area.width() - FRAME.width()), min(self.height(), area.height() - FRAME.height()))
        # centred in the area left by the taskbar (wherever it is): where un-maximizing puts it
        self.setGeometry(QStyle.alignedRect(Qt.LayoutDirection.LeftToRight, Qt.AlignmentFlag.AlignCenter, size, area))
        self.setWindowState(self.windowState() | Qt.WindowState.WindowMaximized)

    def save_layout(self) -> None:
        """Keep the window's size, place and pane widths for the next start (on closing)."""
        if self.settings is not None and self.interactive:
            self.settings.setValue("window/geometry", self.saveGeometry())
            if self.center.currentWidget() is not self.splitter:
                return  # closed on the start page: the panes were never on screen, their widths stay as stored
            if not self.list_pane.isHidden():  # hidden, its width would be stored as shut: the last stored stays
                self.settings.setValue("window/panes", self.splitter.saveState())
            # The right column's heights (prediction panel, spectrum, similar cases) when the analyst dragged them
            # (else the next window balances them itself); a hidden pane keeps the height stored when last shown.
            if not self.right_splitter.dragged:
                self.settings.remove("window/right_panes")
                return
            before = _heights(self.settings.value("window/right_panes"), self.right_splitter.count()) or []
            now = [h if h > 0 or i >= len(before) else before[i] for i, h in enumerate(self.right_splitter.sizes())]
            self.settings.setValue("window/right_panes", ",".join(map(str, now)))

    @property
    def queue_view(self) -> QueueView:
        """The re-judge queue's window (Q), made the first time it is needed."""
        if self._queue_view is None:
            from app.services.queue import QueueService
            from app.ui.queue_view import QueueView

            view = self._queue_view = QueueView(QueueService(self.service.engine, self.service.analyst),
                                                lang=self.lang, note_drafts=self.note_drafts, parent=self)
            _place(view, self, view.sizeHint().width(), 720)  # wide enough for every column, within the screen
            view.openImage.connect(self.open_image)
            view.judged.connect(self._queue_judged)
            view.export_folder = self._export_folder  # (one place for the labels' and the queue's exports)
            view.export_done = lambda folder: self.settings is not None and self.settings.setValue(
                "export/folder", str(folder.resolve()))
            view.detail.heatmapWanted.connect(  # the detail pane's heatmap: the predicted type's, by the model thread
                lambda image_id, path, leaf: self.worker.attention(image_id, path, leaf) if self.model else None)
            self.worker.attended.connect(view.detail.set_heatmap)
            self.worker.predicted.connect(view.predictions_stored)
            self.status.stale_keys.dropped.connect(view.keys_dropped)
            if self.presenter.taxonomy is not None:
                view.set_taxonomy(self.presenter.taxonomy, self.lang)
            if self.model is not None:
                view.set_model_version(self.model.version)
            if self.settings is not None:
                _keep_queue_layout(view, self.settings)
        return self._queue_view

    @property
    def dashboard_view(self) -> DashboardView:
        """The dashboard's window, made the first time it is needed."""
        if self._dashboard_view is None:
            from app.services.dashboard import DashboardService
            from app.ui.dashboard_view import DashboardView

            view = self._dashboard_view = DashboardView(DashboardService(self.service.engine), lang=self.lang,
                                                        settings=self.settings, parent=self)
            _place(view, self, 1200, 800)
            if self.model is not None:
                view.set_model_version(self.model.version)
        return self._dashboard_view

    def show_queue(self) -> None:
        if self.service is not None:
            _bring_up(self.queue_view, activate=True)  # the queue takes the keys (Enter, C, Ctrl+Z)

    def show_dashboard(self) -> None:
        if self.service is not None:
            _bring_up(self.dashboard_view, activate=False)

    def judgments_changed(self) -> None:
        """A judgment was made in this window: the open queue window reloads (its page, counts and facets)."""
        if self._queue_view is not None and self._queue_view.isVisible():
            self._queue_view.refresh_soon()

    def _queue_judged(self, records: list) -> None:
        """Judgments made in the queue window: reflect those of the open batch here."""
        for rec in records:
            self._apply_judgment(rec)
        self._update_counts()

    def open_image(self, image_id: int, *, ask: bool = False) -> None:
        """Show an image by id: in the open batch, or by opening the batch it belongs to; ``ask`` (a click on a
        similar case, easily a stray one): only once the analyst said yes to leaving the batch on screen."""
        row = self.presenter.row_of(image_id)
        if row is not None:
            self.select(row)
            self.raise_()
            self.activateWindow()
            return
        batch = self.service.batch_of_image(image_id)
        if batch is None:
            self.statusBar().showMessage(QCoreApplication.translate("Main", "That image is not in any batch."), 6000)
            return
        opened = self.presenter.batch
        if ask and opened is not None and QMessageBox.question(
                self, "fma-judge", QCoreApplication.translate(
                    "Main", "This image is in the batch “{other}”. Open that batch and leave “{this}”? Its "
                            "judgments are kept; opening its folder again resumes it.").format(
                    other=batch.name, this=opened.name)) != QMessageBox.StandardButton.Yes:
            return
        self._pending_open = image_id
        self.open_recent(batch)  # its folder when it is a folder's and still there, else the batch as stored

    # ------------------------------------------------------------------------------------------
    # settings
    def set_language(self, code: str) -> None:
        """Remember the UI language; it applies at the next start."""
        if self.settings is not None:
            self.settings.setValue("lang", code)
        if code != self.lang:  # said in the language chosen too: the analyst choosing it may not read this one
            QMessageBox.information(self, "fma-judge", QCoreApplication.translate(
                "Main", "The language changes the next time fma-judge starts.") + "\n\n" + NEXT_START.get(code, ""))

    def change_analyst(self) -> None:
        if self.service is None:
            return
        name, ok = QInputDialog.getText(self, "fma-judge", QCoreApplication.translate(
            "Main", "Your name (recorded with every judgment):"), text=self.service.analyst)
        if ok and name.strip():
            self.service.analyst = name.strip()
            if self._queue_view is not None:
                self._queue_view.service.analyst = self.service.analyst
            if self.settings is not None:
                self.settings.setValue("analyst", self.service.analyst)
            self.status.set_analyst(self.service.analyst)

    # ------------------------------------------------------------------------------------------
    # scale bar, export
    def camera_pixel_um(self) -> float | None:
        """The camera's pixel pitch in µm (Settings → Scale bar…), None when not set: no scale bar."""
        try:
            value = float(self.settings.value("viewer/camera_pixel_um", 0) or 0) if self.settings is not None else 0
        except (TypeError, ValueError):
            value = 0
        return value if value > 0 else None

    def edit_pixel_size(self) -> None:
        """Settings → Scale bar: the camera's pixel pitch; with the magnification read from each image (TIFF tags
        or a ``_20x`` file name) it gives the scale bar. 0 turns the scale bar off."""
        value, ok = QInputDialog.getDouble(
            self, QCoreApplication.translate("Main", "Scale bar"),
            QCoreApplication.translate("Main", "Camera pixel size in µm (the sensor's pixel pitch; 0: no scale bar).\n"
                                               "The scale bar shows where the image's magnification is known."),
            self.camera_pixel_um() or 0.0, 0.0, 100.0, 3)
        if not ok or self.settings is None:
            return
        self.settings.setValue("viewer/camera_pixel_um", value)
        item = self.presenter.current_item
        if item is not None:
            self._display_image(item)

    def _export_folder(self) -> Path | None:
        """The folder of the last export (labels or queue), None when none is remembered."""
        last = self.settings.value("export/folder") if self.settings is not None else None
        return Path(str(last)) if last else None

    def _remember_export(self, req) -> None:
        """Once written: the next export suggests its folder, format, scope and whether it had the auto-judged images
        (a lead's daily export for the line's records lost them on the next day's Ctrl+E: night-shift walk-through)."""
        from app.ui.export_dialog import UNDECIDED

        if self.settings is not None:
            self.settings.setValue("export/folder", str(req.path.resolve().parent))
            self.settings.setValue("export/format", req.fmt)
            self.settings.setValue("export/every_batch", req.batch_id is None)
            self.settings.setValue("export/undecided", ",".join(s for s in req.statuses if s in UNDECIDED))

    def export_labels(self) -> None:
        """The export dialog (format, this batch or all, statuses, since), then the export in the background."""
        if self.service is None:
            return
        from app.ui.export_dialog import ExportDialog

        batch = self.presenter.batch
        last = self.settings.value("export/folder") if self.settings is not None else None
        # beside the batch, not among its images; never inside the app's own files (the demo batch's folder)
        beside = Path(batch.source).parent if batch else None
        if beside is not None and self.demo_batch is not None and beside == self.demo_batch.parent:
            beside = None
        folder = next((Path(f) for f in (last, beside)  # the first that can be written (a read-only share: home)
                       if isinstance(f, str | Path) and os.path.isdir(f) and os.access(f, os.W_OK)), None)
        dialog = ExportDialog(self, batch=(batch.batch_id, batch.name) if batch else None, folder=folder,
                              count=lambda r: self.service.export_count(batch_id=r.batch_id, since=r.since,
                                                                        statuses=r.statuses))
        if self.settings is not None:
            dialog.preset(self.settings.value("export/format"), self.settings.value("export/every_batch"),
                          self.settings.value("export/undecided"))
        if not dialog.exec():
            return
        req = dialog.request()
        self.statusBar().showMessage(QCoreApplication.translate("Main", "Exporting labels to {p}…").format(p=req.path))
        task = Task(self.service.export, req.path, req.fmt, batch_id=req.batch_id, since=req.since,
                    statuses=req.statuses, overwrite=req.overwrite, with_progress=True)
        task.signals.progress.connect(lambda n, _total: self.statusBar().showMessage(
            QCoreApplication.translate("Main", "Exporting labels to {p}… {n} so far").format(p=req.path, n=n)))
        task.signals.result.connect(lambda _res: self._remember_export(req))
        task.signals.result.connect(lambda res: self.statusBar().showMessage(export_done_text(res), 15_000))
        task.signals.error.connect(self.statusBar().clearMessage)  # "Exporting…" is over
        task.signals.failed.connect(lambda exc: self.alert(QMessageBox.warning, QCoreApplication.translate(
            "Main", "Export failed"), export_text(exc), line=f"export failed: {exc}"))
        self._runner.start(task)


NEXT_START = {
    "en": "The window is in English from the next start of fma-judge.",
    "zh_TW": "下次啟動 fma-judge 時，介面改為繁體中文。",
}
"""The language switch's notice in the language chosen (not translated: it is written in the language it names)."""


def _keep_queue_layout(view, settings) -> None:
    """The queue's grouping and its gallery as the analyst left them (``queue/group``, ``queue/gallery``): an analyst
    who works the queue group by group chose the grouping again at every start."""
    group = settings.value("queue/group")
    if group and (i := view.group_combo.findData(group)) >= 0:
        view.group_combo.setCurrentIndex(i)
    if str(settings.value("queue/gallery", "false")).lower() in ("true", "1"):
        view.set_gallery(True)
    view.group_combo.currentIndexChanged.connect(
        lambda _i: settings.setValue("queue/group", view.group_combo.currentData() or ""))
    view.gallery_btn.toggled.connect(lambda on: settings.setValue("queue/gallery", bool(on)))


def _place(view, window, width: int, height: int) -> None:
    """Make ``view`` a window of its own, ``width`` × ``height`` at most, whole on ``window``'s screen and centred
    on it (left to the window manager, the 800 px dashboard went past a 1000 px screen's bottom edge)."""
    view.setWindowFlag(Qt.WindowType.Window)
    screen = window.screen().availableGeometry()
    view.resize(min(width, screen.width() - 40), min(height, screen.height() - 80))  # room for the title bar
    view.move(screen.center() - view.rect().center())


def _bring_up(view, *, activate: bool) -> None:
    """A side window shown in front (with the keyboard focus when ``activate``), with fresh contents."""
    view.show()
    view.raise_()
    if activate:
        view.activateWindow()
    view.refresh()


def _heights(stored: object, count: int) -> list[int] | None:
    """The right column's stored pane heights ("520,180,160"), or ``None`` when none are stored or the value cannot
    be read (another count of panes, a negative or non-numeric height, all zero)."""
    try:
        heights = [int(part) for part in str(stored).split(",")] if stored else []
    except ValueError:
        return None
    if len(heights) != count or min(heights) < 0 or not any(heights):
        return None
    return heights


def export_done_text(res) -> str:
    """The status bar's line after an export (an :class:`~app.store.export.ExportResult`): rows no person decided
    are not called labels (they carry none of a person's)."""
    if res.undecided:
        text = (QCoreApplication.translate(
            "Main", "Exported 1 row to {p}: no person decided it (training skips it)") if res.count == 1 else
            QCoreApplication.translate(
                "Main", "Exported {n} rows to {p}: {j} judged, {k} no person decided (training skips them)")).format(
            n=res.count, p=res.path, j=res.count - res.undecided, k=res.undecided)
    else:
        text = (QCoreApplication.translate("Main", "Exported 1 label to {p}") if res.count == 1 else
                QCoreApplication.translate("Main", "Exported {n} labels to {p}")).format(n=res.count, p=res.path)
    if res.skipped:
        text += QCoreApplication.translate(
            "Main", " ({k} images skipped: their files are gone or hold another picture now, or their types are not in "
                    "their model's tree)").format(k=len(res.skipped))
    if res.missing:
        text += QCoreApplication.translate(
            "Main", "; {k} exported rows name files that are not there now or hold another picture now").format(
            k=len(res.missing))
    if res.removed:
        text += QCoreApplication.translate(
            "Main", "; {k} copies an earlier export made there under an old type removed (relabelled since)").format(
            k=len(res.removed))
    if res.kept:
        text += (QCoreApplication.translate(
            "Main", "; 1 copy an earlier export made there is not in this export and stays (outside its scope, or its "
                    "file gone): export into a new folder for one that holds only this export") if len(res.kept) == 1
            else QCoreApplication.translate(
            "Main", "; {k} copies an earlier export made there are not in this export and stay (outside its scope, "
                    "or their files gone): export into a new folder for one that holds only this export").format(
            k=len(res.kept)))
    return text
