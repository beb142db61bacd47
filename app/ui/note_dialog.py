"""The note editor: several lines of text; Ctrl+Enter saves, Esc cancels, Enter starts a new line.

Nothing typed is lost: text cancelled (Esc, a slip of the hand), not saved (the database refused it) or still being
typed when the app went away stays as a draft of that image (:mod:`app.services.note_drafts`, on disk), and the next
N on it brings the text back.
"""

from __future__ import annotations

from collections.abc import Hashable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.services.note_drafts import NoteDrafts

TYPING_SAVE_MS = 400
"""The text being typed is kept as the image's draft this long after the last key (a crash loses at most that)."""

_SAVE_KEYS = frozenset({Qt.Key.Key_Return, Qt.Key.Key_Enter})


class NoteDialog(QDialog):
    """Edit an image's note. An empty note removes it (the caller decides what a change means).

    Args:
        file_name: the image's file name, for the prompt ("Note for FILE:"; ``prompt`` says another, whole).
        note: the current note ("" for none).
    """

    def __init__(self, file_name: str, note: str = "", parent: QWidget | None = None, *,
                 restored: bool = False, prompt: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(QCoreApplication.translate("Note", "Note"))
        prompt = QLabel(prompt or QCoreApplication.translate("Note", "Note for {name}:").format(name=file_name), self)
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
            key: Hashable = None, prompt: str | None = None) -> str | None:
        """Show the dialog; the text when saved, None when cancelled.

        With ``drafts``, the dialog opens on ``key``'s draft when it has one, the text is kept as the draft while it
        is typed (at most :data:`TYPING_SAVE_MS` after a key) and when cancelled, unless it is ``note`` itself or
        blank; saving drops it (the caller keeps it again when the save fails).
        """
        draft = drafts.get(key) if drafts is not None else None
        dialog = cls(file_name, note if draft is None else draft, parent, restored=draft is not None, prompt=prompt)
        typing = QTimer(dialog)  # what is being typed is kept as it goes: a crash loses at most the last keys
        typing.setSingleShot(True)
        typing.setInterval(TYPING_SAVE_MS)
        if drafts is not None:
            typing.timeout.connect(lambda: drafts.keep(key, dialog.text(), note))
            # at most TYPING_SAVE_MS after the first key not kept yet, not after the last: an analyst typing on
            # without a pause (66 characters in 10 s) had nothing kept when the app was killed
            dialog.editor.textChanged.connect(lambda: typing.isActive() or typing.start())
        try:
            saved = dialog.exec() == QDialog.DialogCode.Accepted
            text = dialog.text()
        finally:
            typing.stop()  # never after the outcome below (a saved note would come back as a draft)
            dialog.deleteLater()
        if drafts is not None:
            if saved:
                drafts.drop(key)
            else:
                drafts.keep(key, text, note)
        return text if saved else None
