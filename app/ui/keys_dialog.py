"""Settings → Keyboard shortcuts…: every action of the judging window with its keys, editable; a key given to two
actions is refused (the dialog says which), and "Defaults" brings the shipped keys back."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.ui import keymap as km


class KeysDialog(QDialog):
    """Edit the key bindings; :attr:`keymap` holds the accepted result."""

    def __init__(self, current: dict[str, tuple[str, ...]], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(QCoreApplication.translate("Keys", "Keyboard shortcuts"))
        self.keymap = dict(current)
        self._actions = km.actions()
        self.table = QTableWidget(len(self._actions), 2, self)
        self.table.setHorizontalHeaderLabels([QCoreApplication.translate("Keys", "Action"),
                                              QCoreApplication.translate("Keys", "Keys (separate with ;)")])
        self.table.verticalHeader().setVisible(False)
        self.edits: dict[str, QLineEdit] = {}
        for row, act in enumerate(self._actions):
            label = QTableWidgetItem(act.label)
            label.setFlags(label.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, 0, label)
            edit = QLineEdit("; ".join(current.get(act.id, act.default)), self.table)
            edit.setPlaceholderText(QCoreApplication.translate("Keys", "(no key)"))
            self.table.setCellWidget(row, 1, edit)
            self.edits[act.id] = edit
        self.table.resizeColumnToContents(0)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.problem = QLabel(self)
        self.problem.setStyleSheet("color: #f28b82;")
        self.problem.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        defaults = QPushButton(QCoreApplication.translate("Keys", "Defaults"), self)
        buttons.addButton(defaults, QDialogButtonBox.ButtonRole.ResetRole)
        defaults.clicked.connect(self.restore_defaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        # Enter in a row goes to the next row, as in a sheet: it pressed OK and closed the dialog after one change
        # (keyPressEvent keeps Enter from the default button)
        edits = list(self.edits.values())
        for k, edit in enumerate(edits):
            edit.returnPressed.connect(lambda k=k: self._edit_row((k + 1) % len(edits)))
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(620, 640)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return  # a row's Enter was answered (the next row); OK is a click, or Tab to it and Space
        super().keyPressEvent(event)

    def _edit_row(self, row: int) -> None:
        edit = self.edits[self._actions[row].id]
        self.table.scrollToItem(self.table.item(row, 0))
        edit.setFocus()
        edit.selectAll()

    def restore_defaults(self) -> None:
        for act in self._actions:
            self.edits[act.id].setText("; ".join(act.default))
        self.problem.clear()

    def collect(self) -> dict[str, tuple[str, ...]]:
        """The keys as typed.

        Raises:
            ValueError: a key Qt cannot read, or one key given to two actions (the message names them).
        """
        labels = {a.id: a.label for a in self._actions}
        out = {}
        for act in self._actions:
            try:
                out[act.id] = km.parse_keys(self.edits[act.id].text())
            except ValueError as exc:
                raise ValueError(f"{act.label}: {exc}") from None
        clashes = km.conflicts(out)
        if clashes:
            key, ids = clashes[0]
            raise ValueError(QCoreApplication.translate("Keys", "{key} is given to both “{a}” and “{b}”: give it to "
                                                                 "one only").format(key=key, a=labels[ids[0]],
                                                                                    b=labels[ids[1]]))
        return out

    def accept(self) -> None:
        try:
            self.keymap = self.collect()
        except ValueError as exc:
            self.problem.setText(str(exc))
            return
        super().accept()
