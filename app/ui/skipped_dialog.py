"""The files a batch left out, with the reason for each (a format not supported, a missing link target, a pipe,
no permission, an image too large): nothing is dropped without the analyst seeing it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.ui.style import file_reason_text


class SkippedDialog(QDialog):
    """A table of ``(path, reason)``; the full path is the file cell's tooltip."""

    def __init__(self, skipped: Sequence[tuple[str, str]], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(QCoreApplication.translate("Skipped", "fma-judge — files not in this batch"))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(QCoreApplication.translate(
            "Skipped", "These files were not added to the batch, for the reason beside each: a file to fix or convert "
                       "is added when the folder is opened again.")))
        self.table = QTableWidget(len(skipped), 2, self)
        self.table.setHorizontalHeaderLabels([QCoreApplication.translate("Skipped", "File"),
                                              QCoreApplication.translate("Skipped", "Why")])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        for row, (path, reason) in enumerate(skipped):
            name = QTableWidgetItem(Path(path).name)
            name.setToolTip(path)
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, QTableWidgetItem(file_reason_text(reason)))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(760, 360)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
