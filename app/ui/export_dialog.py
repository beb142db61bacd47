"""Export labels from the app, with the command line's formats and filters (``fma-judge export``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from app.services.judging import UNDECIDED_STATUSES, existing_export
from app.ui import file_dialogs

FORMATS = ("csv", "json", "imagefolder")
STATUSES = ("accepted", "corrected", "unknown", *UNDECIDED_STATUSES)
"""The decisions offered; the last three, the images no person decided (``app.store.export.UNDECIDED_STATUSES``),
start unchecked: a report's rows, not training's."""
UNDECIDED = UNDECIDED_STATUSES


@dataclass(frozen=True)
class ExportRequest:
    """What to export: ``batch_id`` None = every batch; ``since`` None = all time; ``statuses`` the kept ones."""

    path: Path
    fmt: str
    batch_id: int | None
    since: dt.datetime | None
    statuses: tuple[str, ...]
    overwrite: bool = False  # the analyst said to write over the earlier export found there


class ExportDialog(QDialog):
    """Format, scope (this batch or all), statuses and a start date, then where to write."""

    def __init__(self, parent: QWidget | None = None, *, batch: tuple[int, str] | None = None,
                 folder: Path | None = None, count: Callable[[ExportRequest], int] | None = None) -> None:
        super().__init__(parent)
        self._count = count  # how many images the choices export (the store's count; may raise StoreError)
        self._n: int | None = None  # that count for the choices made (None: not known)
        self.setWindowTitle(QCoreApplication.translate("Export", "Export labels"))
        self.format = QComboBox(self)
        for fmt, text in zip(FORMATS, (
                QCoreApplication.translate("Export", "CSV training manifest (fma-model train --data)"),
                QCoreApplication.translate("Export", "JSON (with how many judgments each image had)"),
                QCoreApplication.translate("Export", "Image folder (one sub-folder per type, copies)")), strict=True):
            self.format.addItem(text, fmt)
        self.scope = QComboBox(self)
        self._batch_name = batch[1] if batch is not None else None
        if batch is not None:
            self.scope.addItem(QCoreApplication.translate("Export", "This batch: {name}").format(name=batch[1]), batch[0])
        self.scope.addItem(QCoreApplication.translate("Export", "Every batch"), None)
        self.status_boxes = {s: QCheckBox(text, self) for s, text in zip(STATUSES, (
            QCoreApplication.translate("Export", "accepted"), QCoreApplication.translate("Export", "corrected"),
            QCoreApplication.translate("Export", "unknown / new type"),
            QCoreApplication.translate("Export", "auto-judged"), QCoreApplication.translate("Export", "waiting"),
            QCoreApplication.translate("Export", "unreadable")), strict=True)}
        report = QCoreApplication.translate(
            "Export", "Also the images no person decided, with their status (auto: the model's type; waiting, "
                      "unreadable: no type), so that the export accounts for every image: the batch's whole result, "
                      "for a report. CSV and JSON only; training skips these rows, so the model never learns from its "
                      "own calls.")
        statuses, also = QHBoxLayout(), QHBoxLayout()  # (the report's boxes on a line of their own: six on one did
        for status, box in self.status_boxes.items():  # not fit the dialog's width)
            box.setChecked(status not in UNDECIDED)
            box.toggled.connect(self._recount)
            if status in UNDECIDED:
                box.setToolTip(report)
            (also if status in UNDECIDED else statuses).addWidget(box)
        self.since_box = QCheckBox(QCoreApplication.translate("Export", "only judged since"), self)
        self.since = QDateEdit(QDate.currentDate().addDays(-7), self)
        self.since.setCalendarPopup(True)
        self.since.setDisplayFormat("yyyy-MM-dd")
        self.since.setEnabled(False)
        self.since_box.toggled.connect(self.since.setEnabled)
        self.since_box.toggled.connect(self._recount)
        self.since.dateChanged.connect(self._recount)
        since = QHBoxLayout()
        since.addWidget(self.since_box)
        since.addWidget(self.since, 1)
        self._suggested = self._suggested_stem()  # the name as suggested: it follows the scope until typed over
        self.path = QLineEdit(str((folder or Path.home()) / (self._suggested + ".csv")), self)
        self.path.textChanged.connect(self._update_ok)
        browse = QPushButton(QCoreApplication.translate("Export", "Browse…"), self)
        browse.clicked.connect(self._browse)
        where = QHBoxLayout()
        where.addWidget(self.path, 1)
        where.addWidget(browse)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.scope.currentIndexChanged.connect(self._scope_changed)
        self.scope.currentIndexChanged.connect(self._recount)
        form = QFormLayout(self)
        form.addRow(QCoreApplication.translate("Export", "&Format:"), self.format)
        form.addRow(QCoreApplication.translate("Export", "&Images:"), self.scope)
        form.addRow(QCoreApplication.translate("Export", "Decisions:"), statuses)
        form.addRow(QCoreApplication.translate("Export", "Not for training:"), also)
        form.addRow("", since)
        self.count_line = QLabel(self)
        self.count_line.setStyleSheet("color: #9aa0a6;")
        form.addRow("", self.count_line)
        write_to = QLabel(QCoreApplication.translate("Export", "&Write to:"), self)
        write_to.setBuddy(self.path)  # a row of a layout gets no buddy by itself: Alt+W did nothing
        form.addRow(write_to, where)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
                                        self)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(QCoreApplication.translate("Export", "Export"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self._recount()
        self.resize(620, self.sizeHint().height())

    def preset(self, fmt: object, every_batch: object, undecided: object = None) -> None:
        """The last export's format, scope and report boxes (``undecided``: the statuses of :data:`UNDECIDED` it had,
        comma-separated; the analyst's settings): chosen again, as the dialog forgot them."""
        if isinstance(fmt, str) and (i := self.format.findData(fmt)) >= 0:
            self.format.setCurrentIndex(i)
        if every_batch in (True, "true"):
            self.scope.setCurrentIndex(self.scope.findData(None))
        for status in str(undecided or "").split(","):
            if status in UNDECIDED and self.status_boxes[status].isEnabled():
                self.status_boxes[status].setChecked(True)

    def _suggested_stem(self) -> str:
        """``labels_<batch>`` for one batch (exports of two batches do not overwrite each other), ``labels_all``."""
        name = self._batch_name if self.scope.currentData() is not None and self._batch_name else "all"
        return "labels_" + "".join(c if c.isalnum() or c in "-_" else "_" for c in name)  # no dot: no suffix

    def _format_changed(self, _index: int = 0, stem: str | None = None) -> None:
        """The suggested file name follows the format (a folder for the image folder)."""
        current = Path(self.path.text())
        stem = stem or (current.stem if current.suffix else current.name)
        fmt = self.format.currentData()
        self.path.setText(str(current.with_name(stem + {"csv": ".csv", "json": ".json"}.get(fmt, ""))))
        for status in UNDECIDED:  # an image folder's class folders are labels: none of these rows there; back on
            box = self.status_boxes[status]  # CSV or JSON, the ticks come back (they were lost on the way)
            if fmt == "imagefolder" and box.isEnabled():
                box.setProperty("was_checked", box.isChecked())
                box.setChecked(False)
            elif fmt != "imagefolder" and not box.isEnabled():
                box.setChecked(bool(box.property("was_checked")))
            box.setEnabled(fmt != "imagefolder")

    def _scope_changed(self) -> None:
        """A suggested name follows the scope; a name the analyst typed stays."""
        current = Path(self.path.text())
        if (current.stem if current.suffix else current.name) == self._suggested:
            self._suggested = self._suggested_stem()
            self._format_changed(stem=self._suggested)

    def _browse(self) -> None:
        if self.format.currentData() == "imagefolder":
            chosen = file_dialogs.choose_folder(self, QCoreApplication.translate("Export", "Export into a folder"),
                                                self.path.text())
        else:
            chosen = file_dialogs.choose_save_file(  # Export asks before writing over a file (accept), once
                self, QCoreApplication.translate("Export", "Export labels"), self.path.text(), confirm_overwrite=False)
        if chosen:
            self.path.setText(chosen)

    def _recount(self) -> None:
        """The line under the choices: how many images they export (counted again when a choice changes, not at
        each key typed in the path)."""
        chosen = any(b.isChecked() for b in self.status_boxes.values())
        self._n = self._counted() if chosen else 0
        self.count_line.setText("" if self._n is None else QCoreApplication.translate(
            "Export", "No judged image matches these choices: nothing to export.") if self._n == 0 else
            QCoreApplication.translate("Export", "Images to export: {n}").format(n=self._n))
        self._update_ok()

    def _update_ok(self) -> None:
        """Export is possible with a place to write to and something to export."""
        ok = bool(self.path.text().strip()) and self._n != 0
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def _counted(self) -> int | None:
        """The images the choices export, or None when not known (no count given, or the store cannot say)."""
        from app.store.errors import StoreError

        if self._count is None:
            return None
        try:
            return self._count(self.request())
        except StoreError:
            return None  # the export itself says what is wrong

    def accept(self) -> None:
        """Export, after asking before an earlier export is written over (a name typed in the field is not asked
        about by the file dialog)."""
        req = self.request()
        clash = existing_export(req.path, req.fmt)
        if req.fmt == "imagefolder":
            text = QCoreApplication.translate(
                "Export", "{folder} already holds a manifest.csv (an earlier export, or a data set's own). It and "
                "notes.csv will be replaced, and the copies added to the images there; an image relabelled since its "
                "earlier export is moved to its new type's folder. Export into it?")
        else:
            text = QCoreApplication.translate("Export", "{folder} already exists. Replace it?")
        if clash is not None and QMessageBox.question(
                self, QCoreApplication.translate("Export", "Export labels"), text.format(folder=req.path.name),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No) != QMessageBox.StandardButton.Yes:
            self.path.setFocus()
            return
        self._overwrite = clash is not None
        super().accept()

    def request(self) -> ExportRequest:
        """The choices as an :class:`ExportRequest` (the start date is local midnight)."""
        since = None
        if self.since_box.isChecked():
            d = self.since.date()
            since = dt.datetime(d.year(), d.month(), d.day()).astimezone()
        return ExportRequest(path=Path(self.path.text().strip()).expanduser(), fmt=self.format.currentData(),
                             batch_id=self.scope.currentData(), since=since,
                             statuses=tuple(s for s, b in self.status_boxes.items() if b.isChecked() and b.isEnabled()),
                             overwrite=getattr(self, "_overwrite", False))
