"""The note editor: several lines of text; Ctrl+Enter saves, Esc cancels, Enter starts a new line.

Nothing typed is lost: text cancelled (Esc, a slip of the hand) or not saved (the database refused it) stays as a
draft of that image, and the next N on it brings the text back.
"""

from __future__ import annotations

from collections.abc import Hashable

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

    def __init__(self, file_name: str, note: str = "", parent: QWidget | None = None, *,
                 restored: bool = False) -> None:
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
        hint.setWordWrap(True)
        if restored:  # the text is a draft, not the saved note: say so, or the analyst thinks it is stored
            hint.setText(QCoreApplication.translate(
                "Note", "Your unsaved text is back · Ctrl+Enter saves it · Esc keeps it for later"))
            hint.setStyleSheet("color: #f29900; font-size: 11px;")
        self.hint = hint
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
    def ask(cls, parent: QWidget | None, file_name: str, note: str = "", drafts: NoteDrafts | None = None,
            key: Hashable = None) -> str | None:
        """Show the dialog; the text when saved, None when cancelled.

        With ``drafts``, the dialog opens on ``key``'s draft when it has one, and a cancelled text that differs
        from ``note`` becomes its draft; saving drops it (the caller keeps it again when the save fails).
        """
        draft = drafts.get(key) if drafts is not None else None
        dialog = cls(file_name, note if draft is None else draft, parent, restored=draft is not None)
        try:
            saved = dialog.exec() == QDialog.DialogCode.Accepted
            text = dialog.text()
        finally:
            dialog.deleteLater()
        if drafts is not None:
            if saved:
                drafts.drop(key)
            else:
                drafts.keep(key, text, note)
        return text if saved else None


class NoteDrafts:
    """Note texts typed and not saved, by key (an image id; a selection of them): what N brings back."""

    def __init__(self) -> None:
        self._texts: dict[Hashable, str] = {}

    def get(self, key: Hashable) -> str | None:
        return self._texts.get(key)

    def keep(self, key: Hashable, text: str, note: str = "") -> bool:
        """Keep ``text`` unless it is blank or the saved ``note`` itself (then any older draft goes); True: kept."""
        if not text.strip() or text.strip() == note.strip():
            self._texts.pop(key, None)
            return False
        self._texts[key] = text
        return True

    def drop(self, key: Hashable) -> None:
        self._texts.pop(key, None)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._texts

    def __len__(self) -> int:
        return len(self._texts)
