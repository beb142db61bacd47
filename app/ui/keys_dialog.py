"""Settings → Keyboard shortcuts…: every action of the judging window with its keys, editable as text or by
pressing the key ("Press a key…" on its row); a key given to two actions is refused (the dialog says which), and
"Defaults" brings the shipped keys back."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
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
        self.recording: str | None = None  # the action whose "Press a key…" waits for a key (set before any event)
        super().__init__(parent)
        self.setWindowTitle(QCoreApplication.translate("Keys", "Keyboard shortcuts"))
        self.keymap = dict(current)
        self._actions = km.actions()
        self.table = QTableWidget(len(self._actions), 3, self)
        self.table.setHorizontalHeaderLabels([QCoreApplication.translate("Keys", "Action"),
                                              QCoreApplication.translate("Keys", "Keys (separate with ;)"), ""])
        self.record_buttons: dict[str, QPushButton] = {}
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
            record = QPushButton(QCoreApplication.translate("Keys", "Press a key…"), self.table)
            record.setAutoDefault(False)
            record.clicked.connect(lambda _=False, action_id=act.id: self.record(action_id))
            self.table.setCellWidget(row, 2, record)
            self.record_buttons[act.id] = record
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(2)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
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
            edit.textEdited.connect(lambda _text: self._check())  # a clash said as it is typed, not only at OK
            edit.installEventFilter(self)  # Ctrl+Enter: OK (Enter goes to the next row, and Tab stays in the table)
        hint = QLabel(QCoreApplication.translate("Keys", "Enter: the next row · Ctrl+Enter: OK · Esc: Cancel"), self)
        hint.setStyleSheet("color: #9aa0a6;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problem)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.resize(720, 640)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.focusWidget() not in self.edits.values():  # the first row ready to type in (no key did anything
            self._edit_row(0)  # before a Tab: nothing had the focus)

    def record(self, action_id: str) -> None:
        """Wait for the next key (with its modifiers) and give it to ``action_id`` in place of its keys; Esc keeps
        them. Every key, Tab and Enter included, comes to the dialog until then."""
        self.recording = action_id
        label = next(a.label for a in self._actions if a.id == action_id)
        self.record_buttons[action_id].setText(QCoreApplication.translate("Keys", "Waiting…"))
        self.problem.setStyleSheet("color: #8ab4f8;")
        self.problem.setText(QCoreApplication.translate("Keys", "Press the key for “{action}” (Esc: keep its keys)")
                             .format(action=label))
        self.grabKeyboard()

    def event(self, event: QEvent) -> bool:
        if self.recording is not None and event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
            if event.type() == QEvent.Type.KeyPress:
                self._recorded(event)
            event.accept()
            return True
        return super().event(event)

    def _recorded(self, event: QKeyEvent) -> None:
        key = km.pressed_key(event)
        if not key:
            return  # a modifier alone: the key follows
        action_id, self.recording = self.recording, None
        self.releaseKeyboard()
        self.record_buttons[action_id].setText(QCoreApplication.translate("Keys", "Press a key…"))
        self.problem.setStyleSheet("color: #f28b82;")
        self.problem.clear()
        if key != "Esc" or event.modifiers() != Qt.KeyboardModifier.NoModifier:
            self.edits[action_id].setText(key)
        self._check()  # said at once, not only at OK

    def _check(self) -> None:
        """Say a key Qt cannot read, or one given to two actions, now; clear the line once it is mended."""
        try:
            self.collect()
        except ValueError as exc:
            self.problem.setText(str(exc))
            return
        self.problem.clear()

    def done(self, result: int) -> None:
        if self.recording is not None:  # closed while waiting for a key: the keyboard goes back
            self.recording = None
            self.releaseKeyboard()
        super().done(result)

    def eventFilter(self, watched, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.accept()  # OK, from the row being edited (the line took Ctrl+Enter as its own Enter)
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                self.accept()
            return  # a row's Enter was answered (the next row); Ctrl+Enter is OK
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
