"""The app's file dialogs: they list a folder without ever opening the files in it.

Why: SQLite guards its database with POSIX advisory locks (``fcntl``), and POSIX drops *all* of a process's locks
on a file when the process closes *any* descriptor of that file. Qt's file dialog (and the desktop's native one)
reads the first bytes of every file it lists, to guess its type and icon (``QMimeDatabase``): a dialog shown on the
folder that holds the database (the folder of images, an export next to it) opened and closed ``judgments.sqlite``
and its ``-wal``/``-shm`` files, and the window lost its locks without knowing it. The next fma-judge process on
that file (a second window, ``fma-judge monitor``, ``classify``) then believed it was the last one, checkpointed
and deleted the WAL, and every judgment this window saved afterwards went into a deleted file: shown as saved, lost.

So on Linux and macOS the dialogs are Qt's own, with :class:`NameOnlyIconProvider`, which draws and names a file
from its name and ``stat`` alone. Windows locks belong to a handle (``LockFileEx``), not to the process: there the
native dialog stays. ``tests/test_file_dialogs.py`` shows the locks kept and a judgment surviving another process.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, QFileInfo
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFileDialog, QFileIconProvider, QTreeView, QWidget

NATIVE = sys.platform == "win32"
"""Native dialogs only where closing a file never drops another handle's locks (Windows)."""


class NameOnlyIconProvider(QFileIconProvider):
    """Icons and type names from a file's name alone: never a read of its content (see the module's doc)."""

    def icon(self, what: QFileInfo | QFileIconProvider.IconType) -> QIcon:  # (Qt's two overloads)
        if isinstance(what, QFileInfo):
            kind = QFileIconProvider.IconType.Folder if what.isDir() else QFileIconProvider.IconType.File
            return super().icon(kind)
        return super().icon(what)

    def type(self, info: QFileInfo) -> str:
        if info.isDir():
            return QCoreApplication.translate("FileDialogs", "Folder")
        suffix = info.suffix()
        return QCoreApplication.translate("FileDialogs", "{suffix} file").format(suffix=suffix.upper()) if suffix \
            else QCoreApplication.translate("FileDialogs", "File")


def build(parent: QWidget | None, caption: str, start: str = "", *, mode: str,
          name_filter: str = "", confirm_overwrite: bool = True) -> QFileDialog:
    """The dialog :func:`choose_folder`, :func:`choose_files` and :func:`choose_save_file` show (tests show it
    without waiting on it). ``mode``: "folder", "files" or "save"."""
    dialog = QFileDialog(parent, caption, start)
    if not NATIVE:
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.setIconProvider(NameOnlyIconProvider())
        # (Qt 6's own labels, with their keys, are missing from its Chinese translation)
        dialog.setLabelText(QFileDialog.DialogLabel.LookIn, QCoreApplication.translate("FileDialogs", "&Look in:"))
        dialog.setLabelText(QFileDialog.DialogLabel.FileType,
                            QCoreApplication.translate("FileDialogs", "Files of &type:"))
        details = dialog.findChild(QTreeView, "treeView")  # the details view: its Size column cut "50…iB"
        if details is not None:
            width = details.fontMetrics().horizontalAdvance("1023.9 MiB") + 24  # (not "to its contents": that reads
            details.header().resizeSection(1, max(details.header().sectionSize(1), width))  # every row of a folder)
    if name_filter:
        dialog.setNameFilter(name_filter)
    if mode == "folder":
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly)
    elif mode == "files":
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
    elif mode == "save":
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setOption(QFileDialog.Option.DontConfirmOverwrite, not confirm_overwrite)
    else:
        raise ValueError(f"unknown file dialog mode {mode!r}")
    return dialog


def _chosen(dialog: QFileDialog) -> list[str]:
    try:
        return dialog.selectedFiles() if dialog.exec() == QFileDialog.DialogCode.Accepted else []
    finally:
        dialog.deleteLater()


def choose_folder(parent: QWidget | None, caption: str, start: str = "") -> str:
    """A folder, or "" when the analyst cancels."""
    return next(iter(_chosen(build(parent, caption, start, mode="folder"))), "")


def choose_files(parent: QWidget | None, caption: str, start: str = "", name_filter: str = "") -> list[str]:
    """Existing files (none when the analyst cancels)."""
    return _chosen(build(parent, caption, start, mode="files", name_filter=name_filter))


def choose_save_file(parent: QWidget | None, caption: str, start: str = "", name_filter: str = "", *,
                     confirm_overwrite: bool = True) -> str:
    """A file to write, or "" when the analyst cancels."""
    return next(iter(_chosen(build(parent, caption, start, mode="save", name_filter=name_filter,
                                   confirm_overwrite=confirm_overwrite))), "")
