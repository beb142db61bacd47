"""The start page, shown before a batch is open."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


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
