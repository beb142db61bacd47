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
                 restored: bool = False, prompt: str | None = None, changed: str | None = None,
                 author: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(QCoreApplication.translate("Note", "Note"))
        prompt = QLabel(prompt or QCoreApplication.translate("Note", "Note for {name}:").format(name=file_name), self)
        prompt.setWordWrap(True)
        self.changed = QLabel(self)  # the saved note changed since the draft was typed: said, with what it reads now
        self.changed.setWordWrap(True)
        self.changed.setStyleSheet("color: #f29900;")
        self.changed.setText(_changed_text(changed, author) if changed is not None else "")
        self.changed.setVisible(changed is not None)
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
        layout.addWidget(self.changed)
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
            key: Hashable = None, prompt: str | None = None, author: str | None = None) -> str | None:
        """Show the dialog; the text when saved, None when cancelled.

        With ``drafts``, the dialog opens on ``key``'s draft when it has one, the text is kept as the draft while it
        is typed (at most :data:`TYPING_SAVE_MS` after a key) and when cancelled, unless it is ``note`` itself or
        blank; saving drops it (the caller keeps it again when the save fails). A draft typed over another note
        than ``note`` (written since by ``author``, a colleague) opens saying so, with the note as it reads now: a
        draft brought back in its place replaced a colleague's note unseen (team walk-through).
        """
        draft = drafts.get(key) if drafts is not None else None
        # (one image's: a queue selection's notes are several, said by its own prompt)
        over = drafts.over(key) if drafts is not None and draft is not None and not isinstance(key, tuple) else None
        changed = note if over is not None and over.strip() != note.strip() else None
        dialog = cls(file_name, note if draft is None else draft, parent, restored=draft is not None, prompt=prompt,
                     changed=changed, author=author)
        if changed is not None:
            drafts.seen(key, note)  # said once: the draft is typed over this note from now on
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


def _changed_text(note: str, author: str | None) -> str:
    t = QCoreApplication
    if not note.strip():
        return (t.translate("Note", "{who} removed this image's note after you typed the text below.").format(
            who=author) if author else t.translate("Note", "This image's note was removed after you typed the "
                                                           "text below."))
    text = (t.translate("Note", "{who} changed this image's note after you typed the text below; it reads now:")
            .format(who=author) if author else
            t.translate("Note", "This image's note was changed after you typed the text below; it reads now:"))
    return text + f"\n“{note.strip()}”\n" + t.translate(
        "Note", "Ctrl+Enter puts your text in its place (copy theirs in to keep it) · Esc keeps yours for later")
