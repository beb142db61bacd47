"""The note editor: several lines of text; Ctrl+Enter saves, Esc cancels, Enter starts a new line."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

_SAVE_KEYS = frozenset({Qt.Key.Key_Return, Qt.Key.Key_Enter})


class NoteDialog(QDialog):
    """Edit an image's note. An empty note removes it (the caller decides what a change means).

    Args:
        file_name: the image's file name, for the prompt.
        note: the current note ("" for none).
    """

    def __init__(self, file_name: str, note: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(QCoreApplication.translate("Note", "Note"))
        prompt = QLabel(QCoreApplication.translate("Note", "Note for {name}:").format(name=file_name), self)
        prompt.setWordWrap(True)
        self.editor = QPlainTextEdit(self)
        self.editor.setPlainText(note)
        self.editor.setTabChangesFocus(True)
        self.editor.moveCursor(QTextCursor.MoveOperation.End)
        self.editor.installEventFilter(self)
        hint = QLabel(QCoreApplication.translate(
            "Note", "Ctrl+Enter saves · Esc cancels · an empty note removes it"), self)
        hint.setStyleSheet("color: #9aa0a6; font-size: 11px;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self)
        for button in buttons.buttons():
            button.setAutoDefault(False)  # Enter in the editor is a new line, never "Save"
            button.setDefault(False)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.editor, 1)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.resize(460, 260)
        self.editor.setFocus()

    def text(self) -> str:
        return self.editor.toPlainText()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Ctrl+Enter (either Enter key) in the editor saves, before the editor would insert a line."""
        if obj is self.editor and event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) \
                and isinstance(event, QKeyEvent) and event.key() in _SAVE_KEYS \
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            event.accept()
            if event.type() == QEvent.Type.KeyPress:
                self.accept()
            return True
        return super().eventFilter(obj, event)

    @classmethod
    def ask(cls, parent: QWidget | None, file_name: str, note: str = "") -> str | None:
        """Show the dialog; the text when saved, None when cancelled."""
        dialog = cls(file_name, note, parent)
        try:
            return dialog.text() if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()
